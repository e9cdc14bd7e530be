"""Bench: an export of a million deliveries through the real admin action.

    DATABASE_URL=postgres://... python -m bench.exports [--rows 1000000] [--tracemalloc]
        [--format csv|xlsx] [--keep]

In a database of its own (`<name>_exports_bench`, created, migrated, dropped after unless
--keep), seeded with SQL (generate_series), a Customer success user posts `export_csv` (or
`export_xlsx`) with "select all" to the delivery changelist through Django's test client;
the streamed file is read to the end. Reported: rows a second, and memory: the process's
peak resident set (getrusage) before and after the export, and with --tracemalloc the peak
of Python's heap during the export (slower: tracing costs about half the speed).

Goals, for CSV: 50,000 rows a second within 150 MB. Exits non-zero on errors (a row count
that is wrong), not on a missed goal. Not part of the test suite.
"""

import argparse
import os
import resource
import sys
import time
import tracemalloc
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench import BENCH_ENCRYPTION_KEY

GOAL_ROWS_PER_SECOND = 50_000
GOAL_PEAK_MB = 150

# One delivery in the shape the intake stores, its payload of a realistic size (the export
# leaves it unread: the changelist defers it).
SEED_SQL = """
INSERT INTO events_delivery (
    endpoint_id, source, external_id, event_type, status, received_at, last_received_at,
    receipt_count, occurred_at, payload, unparsed_body, subjects, error, error_traceback,
    summary, links, warnings, attempt_count, consecutive_failures, next_attempt_at, processed_at
)
SELECT
    %(endpoint)s, 'openvolt', 'bench-' || n,
    (ARRAY['meter_data.received', 'customer.created', 'hosted_consent.revoked'])[1 + n %% 3],
    (ARRAY['processed', 'processed', 'processed', 'ignored', 'dead'])[1 + n %% 5],
    now() - make_interval(secs => n), now() - make_interval(secs => n), 1 + n %% 2,
    now() - make_interval(secs => n + 1),
    jsonb_build_object(
        'subscription_id', '0315r6h8-7b9c-4b2e-bf8d-1139196ty78i',
        'event_id', 'meter_data.received', 'delivery_id', 'bench-' || n,
        'payload', jsonb_build_array(jsonb_build_object(
            'meter_id', md5(n::text), 'start_date', '2024-04-27', 'end_date', '2024-04-28'))
    ),
    '', '{}',
    CASE WHEN n %% 5 = 0 THEN '=cmd|'' /C calc''!A0 upstream answered 503' ELSE '' END,
    '', 'Processed.', '[]', '[]', 1, 0, NULL,
    CASE WHEN n %% 5 = 0 THEN NULL ELSE now() - make_interval(secs => n) END
FROM generate_series(1, %(rows)s) AS n
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python's heap")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    options = parser.parse_args(argv)
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url:
        print("DATABASE_URL is not set.", file=sys.stderr)
        return 2
    bench_url, bench_name = _bench_database(server_url)
    _database_recreate(server_url, bench_name)
    try:
        return _run(bench_url, options)
    finally:
        if not options.keep:
            _database_drop(server_url, bench_name)


def _run(bench_url: str, options) -> int:
    os.environ.update(
        DATABASE_URL=bench_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY="bench-only-not-secret",
        SECRETS_ENCRYPTION_KEY=BENCH_ENCRYPTION_KEY,
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from console.models import ExportLog
    from console.roles import CUSTOMER_SUCCESS
    from events.services import endpoint_create

    print(f"Migrating {connection.settings_dict['NAME']} ...", flush=True)
    call_command("migrate", verbosity=0)
    endpoint, _ = endpoint_create(source="openvolt", description="bench")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL, {"endpoint": endpoint.pk, "rows": options.rows})
        cursor.execute("ANALYZE events_delivery")
    print(f"Seeded {options.rows:,} deliveries in {time.perf_counter() - started:.1f} s")

    user = User.objects.create_user("bench", is_staff=True)
    user.groups.add(Group.objects.get(name=CUSTOMER_SUCCESS))
    client = Client()
    client.force_login(user)

    rss_before = _peak_rss_mb()
    if options.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    response = client.post(
        reverse("admin:events_delivery_changelist"),
        {
            "action": f"export_{options.format}",
            "select_across": "1",
            "index": "0",
            "_selected_action": ["0"],
        },
    )
    if response.status_code != 200 or not response.streaming:
        print(f"The export answered {response.status_code}, not a stream.", file=sys.stderr)
        return 1
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    heap_peak = tracemalloc.get_traced_memory()[1] / 2**20 if options.tracemalloc else None
    tracemalloc.stop()
    rss_after = _peak_rss_mb()

    log = ExportLog.objects.get()
    rate = log.row_count / seconds
    print(
        f"Exported {log.row_count:,} rows, {size / 2**20:.0f} MB of {options.format.upper()}, "
        f"in {seconds:.1f} s"
    )
    print(f"  rows a second:  {rate:,.0f}   (goal {GOAL_ROWS_PER_SECOND:,})")
    print(
        f"  peak RSS:       {rss_after:.0f} MB   (goal {GOAL_PEAK_MB} MB; "
        f"{rss_before:.0f} MB before the export)"
    )
    if heap_peak is not None:
        print(f"  Python heap peak during the export (tracemalloc): {heap_peak:.1f} MB")
    # A CSV has a line per row and the header; an XLSX is zipped, its lines mean nothing.
    lines_right = options.format != "csv" or lines == options.rows + 1
    if not (log.complete and log.row_count == options.rows and lines_right):
        print(f"Wrong: {lines:,} lines, log {log.row_count:,} rows.", file=sys.stderr)
        return 1
    return 0


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes (macOS in bytes).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _bench_database(server_url: str) -> tuple[str, str]:
    parts = urlsplit(server_url)
    name = f"{parts.path.lstrip('/') or 'switchboard'}_exports_bench"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def _database_recreate(server_url: str, name: str) -> None:
    _database_drop(server_url, name)
    with _maintenance_connection(server_url) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _database_drop(server_url: str, name: str) -> None:
    with _maintenance_connection(server_url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _maintenance_connection(server_url: str) -> psycopg.Connection:
    return psycopg.connect(
        urlunsplit(urlsplit(server_url)._replace(path="/postgres")), autocommit=True
    )


if __name__ == "__main__":
    sys.exit(main())
