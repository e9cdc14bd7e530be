"""`make bench-scale`: the console and the data's upkeep on a database the size of a real
customer's year: 100 million readings (5,440 meters, 13 months each) and 5 million deliveries.

    python -m bench.scale [--readings N] [--deliveries N] [--customers N] [--reseed]

1. The database `<name>_scale` (next to DATABASE_URL's) is seeded once with seed_demo_data,
   timed, then kept for the next runs: seeding takes minutes. Some meters then lose a day, or
   three hours, of readings, so that there are gaps to find (their counts made again).
2. The admin pages (bench.pages), the gaps of one meter among them.
3. A 13-month backfill of one meter into the months that hold everyone's readings, new,
   re-fetched and unchanged, against COPY of the same rows (bench.backfill).
4. The prune of the oldest day of deliveries (about 55,000), by the retention job's own
   function, while gunicorn takes new deliveries: the intake's latency is measured over the
   same length of time before the prune and during it. Each run prunes the next day.

Exits non-zero when a step fails, never because a goal is missed.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg

from bench import BASE_DIR, BenchError, backfill, intake
from bench.database import (
    bench_database_url,
    create_database,
    database_exists,
    describe_server,
    manage,
    server_env,
)
from bench.load import Scenario, ScenarioResult, run_scenario
from bench.procs import cpu_sampler
from bench.server import free_port, start_server, stop_server

PRUNE_GOAL_SECONDS = 10
# Holes made after seeding: a day of one meter in ten, 200 days ago three hours of one in seven.
_HOLES = """
    DELETE FROM meters_intervalreading
    WHERE (meter_id %% 10 = 3 AND start >= %(today)s - interval '100 days'
            AND start < %(today)s - interval '99 days')
        OR (meter_id %% 7 = 2 AND start >= %(today)s - interval '200 days 3 hours'
            AND start < %(today)s - interval '200 days')
"""


def main(argv=None) -> int:
    options = _parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        print("DATABASE_URL is not set: run the bench with `make bench-scale`.", file=sys.stderr)
        return 2
    url, name = bench_database_url(database_url, suffix="scale")
    env = server_env(url)
    try:
        _prepare(database_url, name, env, options)
        print("\n== Admin pages ==", flush=True)
        pages = subprocess.run(
            [sys.executable, "-m", "bench.pages", "--rounds", str(options.rounds)],
            cwd=BASE_DIR,
            # bench.pages sets up Django as it needs (its test client, its hosts).
            env={**os.environ, "DATABASE_URL": url},
        )
        print("\n== Backfill into the months everyone's readings are in ==", flush=True)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        span = (today - timedelta(days=397), today)
        _in_child(backfill.run, env, env, options.backfill_rounds, False, span)
        print("\n== Prune of the oldest day of deliveries, under intake load ==", flush=True)
        _prune_under_load(url, env, options)
        return pages.returncode
    except (BenchError, backfill.BackfillError, subprocess.CalledProcessError) as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        return 1


def _prepare(database_url: str, name: str, env: dict[str, str], options) -> None:
    if options.reseed or not database_exists(database_url, name=name):
        create_database(database_url, name=name)
    print(f"Database {name} on {describe_server(database_url)}", flush=True)
    manage(env, "migrate", "--no-input")
    readings = _in_child(_readings_estimate, env)
    if readings >= options.readings * 0.9:
        print(f"Seeded already: about {readings:,} readings (--reseed to start again).")
        return
    print(
        f"Seeding {options.readings:,} readings and {options.deliveries:,} deliveries "
        f"for {options.customers:,} customers …",
        flush=True,
    )
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable, "manage.py", "seed_demo_data",
            "--readings", str(options.readings),
            "--deliveries", str(options.deliveries),
            "--customers", str(options.customers),
        ],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )  # fmt: skip
    seeded = time.monotonic() - started
    started = time.monotonic()
    _in_child(_holes_make, env)
    print(
        f"Seeded in {seeded / 60:.1f} minutes; gaps made and every meter's days counted again "
        f"in {time.monotonic() - started:.0f} s.",
        flush=True,
    )


def _readings_estimate() -> int:
    from common.admin import estimated_rows
    from meters.models import IntervalReading

    return estimated_rows(IntervalReading._meta.db_table)


def _holes_make() -> None:
    from django.db import connection
    from django.utils import timezone

    from meters.completeness import completeness_measure, meter_days_rebuild

    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(_HOLES, {"today": today})
        print(f"  {cursor.rowcount:,} readings removed to make gaps")
    print(f"  {meter_days_rebuild():,} meter days counted; {completeness_measure():,} measured")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) meters_meterday")
        cursor.execute("VACUUM (ANALYZE) meters_meter")


def _prune_under_load(url: str, env: dict[str, str], options) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        intake.floor_table_create(connection)
    path = intake.endpoint_path(env)
    port = free_port()
    server_options = SimpleNamespace(workers=2, worker_class="gthread", threads=4)
    with tempfile.TemporaryDirectory(prefix="switchboard-scale-") as scratch:
        server = start_server(server_options, env, port, Path(scratch) / "gunicorn.log")
        try:
            with psycopg.connect(url, autocommit=True) as connection:
                sample_cpu = cpu_sampler(server.pid, connection)
                quiet = _load(port, path, options, sample_cpu, prefix="scale-quiet")
                pruned: dict = {}
                pruning = threading.Thread(target=_prune_in_child, args=(env, pruned))
                pruning.start()
                busy = _load(port, path, options, sample_cpu, prefix="scale-busy")
                pruning.join()
        finally:
            stop_server(server)
    print(
        f"prune: {pruned.get('total', 0):,} deliveries of {pruned.get('day')} in "
        f"{pruned.get('seconds', float('nan')):.2f} s (goal under {PRUNE_GOAL_SECONDS} s), "
        f"{pruned.get('batches', 0)} batches"
    )
    for label, result in (("intake, before", quiet), ("intake, during the prune", busy)):
        print(
            f"{label:<26} {result.rate:7.0f} req/s  p50 {result.percentile(0.5) * 1000:6.1f} ms"
            f"  p99 {result.percentile(0.99) * 1000:6.1f} ms  errors {len(result.errors)}"
        )


def _load(port, path, options, sample_cpu, *, prefix) -> ScenarioResult:
    return run_scenario(
        port=port,
        scenario=Scenario("new", path, 202, ids="new"),
        prefix=f"{prefix}-{time.time_ns()}",
        clients=4,
        warmup=1.0,
        duration=options.prune_window,
        max_requests=200_000,
        sample_cpu=sample_cpu,
        workers=None,
    )


def _prune_in_child(env: dict[str, str], pruned: dict) -> None:
    # Started a second into the load, so that the window holds the whole prune.
    time.sleep(1.5)
    pruned.update(_in_child(_prune_oldest_day, env))


def _prune_oldest_day() -> dict:
    from events.models import Delivery
    from events.retention import deliveries_prune, retention_cutoff

    first = Delivery.objects.order_by("received_at").values_list("received_at", flat=True)[0]
    # The `now` at which the oldest day has just passed the retention period.
    now = first + (datetime.now(UTC) - retention_cutoff()) + timedelta(days=1)
    started = time.monotonic()
    pruned = deliveries_prune(now=now)
    return {
        "total": pruned.total,
        "batches": pruned.batches,
        "seconds": time.monotonic() - started,
        "day": first.date().isoformat(),
    }


def _in_child(function, env: dict[str, str], *args):
    """Run `function(*args)` in a child process with Django set up on `env`: the scale
    database, the project's settings. Returns its result."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_call_with_django, (function, env, args))


def _call_with_django(function, env, args):
    import django

    os.environ.update(env)
    django.setup()
    try:
        return function(*args)
    finally:
        from django.db import connection

        connection.close()


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--readings", type=int, default=100_000_000)
    parser.add_argument("--deliveries", type=int, default=5_000_000)
    parser.add_argument("--customers", type=int, default=3_400, help="1.6 meters each")
    parser.add_argument("--rounds", type=int, default=9, help="rounds per admin page")
    parser.add_argument("--backfill-rounds", type=int, default=3)
    parser.add_argument("--prune-window", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed again")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
