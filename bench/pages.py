"""How long the console's pages take on large tables: `python -m bench.pages`.

Against the database in DATABASE_URL, which should hold demo data at scale:

    DATABASE_URL=postgres://…/big python manage.py seed_demo_data \\
        --deliveries 1000000 --readings 10000000
    DATABASE_URL=postgres://…/big python -m bench.pages

Each page is requested in this process through Django's test client, logged in as a superuser
(`perf-admin`, created if missing), with the project's settings and DEBUG off: the time is the
server's whole work for the request (middleware, queries, templates), without a network. Each
page is fetched once to warm up, then --rounds times; the table gives the median and the
slowest, and, from one more fetch with the queries recorded, how many queries ran and how
long they took in the database. --explain prints the plan of each page's slowest query.

Not part of the test suite; exits non-zero only when a page does not answer 200.
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import date, timedelta

from bench import BENCH_ENCRYPTION_KEY

GOAL_MS = 150


@dataclass(frozen=True)
class Page:
    name: str
    path: str


@dataclass
class Measure:
    page: Page
    times_ms: list[float]
    queries: int
    sql_ms: float
    slowest_sql: str

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)


def main(argv=None) -> int:
    options = _parse_args(argv)
    if not os.environ.get("DATABASE_URL"):
        print("Set DATABASE_URL to the database to measure (seeded with seed_demo_data).")
        return 2
    _setup_django()

    from django.test.utils import override_settings

    # The suite's settings run without collectstatic's manifest; so does this.
    plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={"default": _default_storage(), "staticfiles": plain_static}):
        return _measure_all(options)


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("PAGES_ROUNDS", 9)))
    parser.add_argument("--explain", action="store_true", help="plan of each slowest query")
    parser.add_argument("--only", help="measure the pages whose name contains this")
    return parser.parse_args(argv)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "pages-bench-only-not-secret")
    os.environ.setdefault("SECRETS_ENCRYPTION_KEY", BENCH_ENCRYPTION_KEY)
    # Plain HTTP, and a password is enough: the pages are timed, not the sign-in.
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("REQUIRE_2FA", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    # WhiteNoise looks for collectstatic's output, which a measurement does not need.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


def _default_storage() -> dict:
    from django.conf import settings

    return settings.STORAGES["default"]


def _measure_all(options) -> int:
    from django.db import connection
    from django.test import Client

    from common.admin import estimated_rows

    client = Client()
    client.force_login(_superuser())
    pages = [page for page in _pages() if not options.only or options.only in page.name]
    if not pages:
        print("No page to measure.")
        return 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_delivery")
        deliveries = cursor.fetchone()[0]
    readings = estimated_rows("meters_intervalreading")
    print(
        f"{deliveries:,} deliveries, about {readings:,} readings; "
        f"{options.rounds} rounds per page, goal {GOAL_MS} ms\n"
    )
    measures, failed = [], False
    for page in pages:
        try:
            measure = _measure(client, page, options.rounds)
        except AssertionError as error:
            print(f"{page.name}: {error}")
            failed = True
            continue
        measures.append(measure)
        print(_row(measure), flush=True)
        if options.explain:
            _explain(measure.slowest_sql)
    measures.append(_gaps_measure(options.rounds))
    print(_row(measures[-1]), flush=True)
    slow = [m.page.name for m in measures if m.median > GOAL_MS]
    print(f"\n{len(measures) - len(slow)} of {len(measures)} pages under {GOAL_MS} ms (median).")
    if slow:
        print("Over: " + ", ".join(slow))
    return 1 if failed else 0


def _gaps_measure(rounds: int) -> Measure:
    """The gaps of the meter missing most half-hours, read as its page reads them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from meters.completeness import meter_gaps
    from meters.models import Meter

    meter = (
        Meter.objects.filter(half_hours_missing__isnull=False)
        .order_by("-half_hours_missing", "pk")
        .first()
        or Meter.objects.order_by("pk").first()
    )
    meter_gaps(meter=meter)  # warm-up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        meter_gaps(meter=meter)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        meter_gaps(meter=meter)
    sql = captured.captured_queries
    return Measure(
        page=Page(f"gaps of one meter ({meter.half_hours_missing or 0} half-hours)", ""),
        times_ms=times,
        queries=len(sql),
        sql_ms=sum(float(q["time"]) for q in sql) * 1000,
        slowest_sql=sql[0]["sql"] if sql else "",
    )


def _superuser():
    from django.contrib.auth.models import User

    user = User.objects.filter(username="perf-admin").first()
    if user is None:
        user = User.objects.create_superuser("perf-admin", "perf-admin@example.com", None)
    return user


def _pages() -> list[Page]:
    """The pages, with ids picked from the data: a typical row, not the first one."""
    from django.db.models import F, Max, Min
    from django.urls import reverse
    from django.utils import timezone

    from events.models import Delivery, WebhookEndpoint
    from meters.models import Meter

    deliveries = reverse("admin:events_delivery_changelist")
    readings = reverse("admin:meters_intervalreading_changelist")
    bounds = Delivery.objects.aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is None:
        raise SystemExit("No deliveries: seed the database first (seed_demo_data).")
    middle = Delivery.objects.filter(pk__gte=(bounds["first"] + bounds["last"]) // 2)
    typical = middle.filter(status="processed", event_type="meter_data.received").order_by("pk")
    delivery = typical.first() or middle.order_by("pk").first()
    dead = middle.filter(status="dead").order_by("pk").first() or delivery
    meter = (
        Meter.objects.filter(latest_reading_start__isnull=False).order_by("pk").first()
        or Meter.objects.order_by("pk").first()
    )
    # A meter that never sent data, or stopped longest ago: walking the (start) index to
    # find its readings would read the whole table.
    quiet = Meter.objects.order_by(F("latest_reading_start").asc(nulls_first=True), "pk").first()
    endpoint = WebhookEndpoint.objects.order_by("-description").first()
    gappy = Meter.objects.filter(half_hours_missing__gt=0).order_by("pk").first() or meter
    meters = reverse("admin:meters_meter_changelist")
    # The day of the typical delivery, and the week before now for the retry page.
    day = delivery.received_at.date().isoformat()
    day_range = f"received_at__gte={day}&received_at__lt={_next_day(day)}"
    retry = reverse("admin:events_delivery_retry_failed")
    week_ago = (timezone.localtime() - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    pages = [
        Page("admin index (dashboard)", reverse("admin:index")),
        Page("deliveries", deliveries),
        Page("deliveries, page 20", f"{deliveries}?p=20"),
        Page("deliveries, status failed", f"{deliveries}?status__exact=failed"),
        Page("deliveries, status dead", f"{deliveries}?status__exact=dead"),
        Page("deliveries, rare type", f"{deliveries}?event_type=hosted_consent.revoked"),
        Page("deliveries, common type", f"{deliveries}?event_type=meter_data.received"),
        Page("deliveries, endpoint", f"{deliveries}?endpoint={endpoint.pk}"),
        Page("deliveries, one day", f"{deliveries}?{day_range}"),
        Page("deliveries, dead in a day", f"{deliveries}?status__exact=dead&{day_range}"),
        Page("deliveries, search external id", f"{deliveries}?q={delivery.external_id}"),
        Page("deliveries, search meter number", f"{deliveries}?q={meter.meter_number}"),
        Page("deliveries, search meter id", f"{deliveries}?q={meter.external_id}"),
        Page("deliveries, search no match", f"{deliveries}?q=no-such-thing"),
        Page("retry failed, count a week", f"{retry}?since={week_ago}"),
        Page("delivery page", reverse("admin:events_delivery_change", args=[delivery.pk])),
        Page("delivery page, dead", reverse("admin:events_delivery_change", args=[dead.pk])),
        Page("readings", readings),
        Page("readings, one meter", f"{readings}?meter={meter.pk}"),
        Page("readings, search meter number", f"{readings}?q={meter.meter_number}"),
        Page("readings, search a quiet meter", f"{readings}?q={quiet.meter_number}"),
        Page("meter page", reverse("admin:meters_meter_change", args=[meter.pk])),
        Page("meter page, with gaps", reverse("admin:meters_meter_change", args=[gappy.pk])),
        Page("meters, under 99 % complete", f"{meters}?completeness=under"),
    ]
    return pages


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _measure(client, page: Page, rounds: int) -> Measure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(page.path)  # warm-up: caches, connection, plans
    assert response.status_code == 200, f"answered {response.status_code} for {page.path}"
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(page.path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"answered {response.status_code}"
    with CaptureQueriesContext(connection) as captured:
        client.get(page.path)
    queries = [q for q in captured.captured_queries if not _is_session_query(q["sql"])]
    slowest = max(queries, key=lambda q: float(q["time"]), default={"sql": ""})
    return Measure(
        page=page,
        times_ms=times,
        queries=len(queries),
        sql_ms=sum(float(q["time"]) for q in queries) * 1000,
        slowest_sql=slowest["sql"],
    )


def _is_session_query(sql: str) -> bool:
    return '"django_session"' in sql


def _row(measure: Measure) -> str:
    mark = "ok  " if measure.median <= GOAL_MS else "SLOW"
    return (
        f"{mark} {measure.page.name:<34} median {measure.median:7.1f} ms  "
        f"max {max(measure.times_ms):7.1f} ms  {measure.queries:3d} queries "
        f"{measure.sql_ms:7.1f} ms in SQL"
    )


def _explain(sql: str) -> None:
    from django.db import connection

    if not sql:
        return
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = [row[0] for row in cursor.fetchall()]
    print("    " + sql[:300] + ("…" if len(sql) > 300 else ""))
    print("\n".join("      " + line for line in plan))


if __name__ == "__main__":
    sys.exit(main())
