"""`make bench`, the portfolio part: one meter_data.received delivery naming METERS meters by
MONTHS months of half-hours, worked item by item by real worker processes against a local
stand-in of Openvolt's API that answers each call in LATENCY seconds.

    1 process, then 4 (each running one job at a time, WORKER_CONCURRENCY=1): the time until
        every reading is stored, the speed-up, the longest database transaction seen, the
        first reading's time, and the API calls made against the calls needed;
    4 processes, every one SIGKILLed at 70 % of the calls, then 4 new ones: the calls made
        again (the items in flight at the kill), and the time until every reading is stored;
    in this process, 4 threads (the default WORKER_CONCURRENCY): where a reading's time goes
        (API wait, the shared budget's wait, JSON parsing, the upsert).

The budget of calls all workers share is raised for the run (OPENVOLT_API_MAX_RPS=200,
OPENVOLT_API_MAX_CONCURRENCY=16): at the defaults (10 a second, 4 in flight) the budget, not
the workers, would set the pace. Run alone with `python -m bench.portfolio`.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.database import scratch_database

METERS, MONTHS, LATENCY = 20, 13, 0.2
END = datetime(2024, 12, 1, tzinfo=UTC)
START = END - timedelta(days=396)  # 13 months: 13 items of at most 31 days a meter
CUSTOMER = "65c361e09ecb86c35d5ef1c5"
BUDGET = {"OPENVOLT_API_MAX_RPS": "200", "OPENVOLT_API_MAX_CONCURRENCY": "16"}
STALLED_AFTER = 15  # seconds without a heartbeat before a killed worker's jobs run again
TIMEOUT = 600


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.portfolio", description=__doc__)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--breakdown-only", action="store_true", help="only where a reading's time goes"
    )
    options = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        print("DATABASE_URL is not set: run the bench with `make bench`.", file=sys.stderr)
        return 2
    with scratch_database(database_url, keep=options.keep_db) as (_, name, version, env):
        os.environ.update(env, **BUDGET)
        import django

        django.setup()
        print(
            f"\nPortfolio: {METERS} meters by {MONTHS} months, the API answering in "
            f"{LATENCY * 1000:.0f} ms, on {name} (PostgreSQL {version})"
        )
        run(env, breakdown_only=options.breakdown_only)
    return 0


def run(env: dict[str, str], *, breakdown_only: bool = False) -> None:
    from tests.support.fake_openvolt import FakeOpenvolt

    api = FakeOpenvolt().start()
    try:
        api.latency = LATENCY
        meters = _stock(api)
        worker_env = {
            **env,
            **BUDGET,
            "OPENVOLT_API_URL": api.url,
            "OPENVOLT_API_KEY": api.api_key,
            "WORKER_STALLED_AFTER_SECONDS": str(STALLED_AFTER),
        }
        if not breakdown_only:
            one = _scenario(api, meters, worker_env, processes=1)
            four = _scenario(api, meters, worker_env, processes=4)
            killed = _scenario(api, meters, worker_env, processes=4, kill_at=0.7)
            _report(one, four, killed)
        _time_breakdown(api, meters)
    finally:
        api.stop()


def _stock(api) -> list[str]:
    """The meters, on the API and mirrored already: the calls needed are the items."""
    from meters.models import Customer, Meter

    api.add_customer(CUSTOMER)
    customer = Customer.objects.create(external_id=CUSTOMER, name="Portfolio customer")
    meters = []
    for number in range(METERS):
        meter_id = f"{number:024x}"
        meter_number = f"20000{number:08d}"
        api.add_meter(meter_id, customer_id=CUSTOMER, meter_number=meter_number)
        Meter.objects.create(external_id=meter_id, meter_number=meter_number, customer=customer)
        meters.append(meter_id)
    return meters


def _delivery(meters: list[str]):
    """The delivery, stored with its job as the intake stores one."""
    from django.db import transaction

    from events.models import Delivery, WebhookEndpoint
    from events.tasks import delivery_run_queue

    endpoint = WebhookEndpoint.objects.get_or_create(source="openvolt", description="bench")[0]
    items = [
        {"meter_id": m, "start_interval": START.isoformat(), "end_interval": END.isoformat()}
        for m in meters
    ]
    with transaction.atomic():
        delivery = Delivery.objects.create(
            endpoint=endpoint,
            source="openvolt",
            external_id=f"portfolio-{time.time()}",
            event_type="meter_data.received",
            payload={"event_id": "meter_data.received", "payload": items},
        )
        delivery_run_queue(delivery_id=delivery.pk)
    return delivery


class Watch:
    """Samples, every 50 ms: the longest open transaction of the workers, and the readings
    stored; stops when the delivery is processed."""

    def __init__(self, delivery_id: int, needed: int):
        self.delivery_id, self.needed = delivery_id, needed
        self.started = time.monotonic()
        self.longest_transaction = 0.0
        self.first_reading = self.done = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        from django.db import connection

        try:
            with connection.cursor() as cursor:
                while self.done is None and time.monotonic() - self.started < TIMEOUT:
                    cursor.execute(_SAMPLE_SQL, [self.delivery_id])
                    longest, readings, status = cursor.fetchone()
                    self.longest_transaction = max(self.longest_transaction, longest or 0)
                    if readings and self.first_reading is None:
                        self.first_reading = time.monotonic() - self.started
                    if status == "processed" and readings >= self.needed:
                        self.done = time.monotonic() - self.started
                    time.sleep(0.05)
        finally:
            connection.close()

    def wait(self) -> float:
        self._thread.join(TIMEOUT)
        if self.done is None:
            raise RuntimeError("The delivery was not processed in time.")
        return self.done


_SAMPLE_SQL = """
    SELECT
        (SELECT max(extract(epoch FROM clock_timestamp() - xact_start))
         FROM pg_stat_activity WHERE datname = current_database()
         AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
         AND backend_type = 'client backend'),
        (SELECT count(*) FROM meters_intervalreading),
        (SELECT status FROM events_delivery WHERE id = %s)
"""


LOGS = Path(tempfile.mkdtemp(prefix="switchboard-portfolio-"))
BASE_DIR = Path(__file__).resolve().parents[1]


def _worker(env, log_name: str) -> subprocess.Popen:
    """`manage.py procrastinate worker`, one job at a time, its log under LOGS."""
    with open(LOGS / f"{log_name}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", "1"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def _workers(env, count: int, log_tag: str):
    processes = [_worker(env, f"{log_tag}-{n}") for n in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)


def _scenario(api, meters, env, *, processes: int, kill_at: float | None = None) -> dict:
    from events.models import DeliveryItem, OpenvoltBudget
    from meters.models import IntervalReading

    IntervalReading.objects.all().delete()
    OpenvoltBudget.objects.all().delete()
    api.requests.clear()
    needed_readings = METERS * 396 * 48
    delivery = _delivery(meters)
    watch = Watch(delivery.pk, needed_readings)
    with _workers(env, processes, f"p{processes}") as running:
        if kill_at is not None:
            needed_calls = METERS * MONTHS
            while len(api.requests_to("/interval-data")) < kill_at * needed_calls:
                time.sleep(0.01)
            for process in running:
                process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic() - watch.started
            with _workers(env, processes, f"after-kill-{processes}"):
                elapsed = watch.wait()
        else:
            elapsed = watch.wait()
    calls = len(api.requests_to("/interval-data"))
    items = DeliveryItem.objects.filter(delivery=delivery).count()
    return {
        "processes": processes,
        "elapsed": elapsed,
        "calls": calls,
        "needed": items,
        "longest_transaction": watch.longest_transaction,
        "first_reading": watch.first_reading,
        "killed_at": killed_at if kill_at is not None else None,
    }


def _report(one: dict, four: dict, killed: dict) -> None:
    speed_up = one["elapsed"] / four["elapsed"]
    print(
        f"\n{'workers':<22}{'all stored':>12}{'first reading':>15}{'longest txn':>13}"
        f"{'calls / needed':>16}"
    )
    for row in (one, four):
        print(
            f"{row['processes']:<22}{row['elapsed']:>11.1f}s{row['first_reading']:>14.1f}s"
            f"{row['longest_transaction']:>12.2f}s{row['calls']:>9} / {row['needed']}"
        )
    repeated = killed["calls"] - killed["needed"]
    print(f"\nspeed-up of 4 processes over 1: {speed_up:.2f} times (goal: 2.5 or more)")
    print(
        f"longest transaction: {max(one['longest_transaction'], four['longest_transaction']):.2f}"
        " s (goal < 2 s)"
    )
    print(
        f"every worker killed at {killed['killed_at']:.1f} s (70 % of the calls), 4 new ones "
        f"started: all stored after {killed['elapsed']:.1f} s; calls repeated {repeated} of "
        f"{killed['needed']} = {100 * repeated / killed['needed']:.1f} % (goal ≤ 10 %); "
        f"longest transaction {killed['longest_transaction']:.2f} s"
    )


def _time_breakdown(api, meters) -> None:
    """Items run by 4 threads here (the default WORKER_CONCURRENCY), with the time of each
    step summed: where a reading's time goes."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections
    from django.test import override_settings

    from events import items as items_module
    from events.processing import delivery_process
    from events.sources import openvolt_api, openvolt_budget, openvolt_items
    from meters.models import IntervalReading

    IntervalReading.objects.all().delete()
    spent: dict[str, float] = defaultdict(float)
    lock = threading.Lock()

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.monotonic()
            try:
                return function(*args, **kwargs)
            finally:
                with lock:
                    spent[name] += time.monotonic() - started

        return wrapper

    patches = [
        (openvolt_api.httpx, "request", "API wait"),
        (openvolt_budget, "_start_time_wait", "budget wait"),
        (openvolt_budget, "_slot_take", "budget wait"),
        (openvolt_api.httpx.Response, "json", "JSON parsing"),
        (openvolt_api, "_intervals", "JSON parsing"),
        (openvolt_items, "readings_upsert", "upsert"),
    ]
    originals = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _ in patches]
    for owner, attribute, name in patches:
        original = getattr(owner, attribute)
        if attribute == "_intervals":

            def listed(*args, _original=original, **kwargs):
                return list(_original(*args, **kwargs))

            original = listed
        setattr(owner, attribute, timed(name, original))
    try:
        with override_settings(OPENVOLT_API_URL=api.url, OPENVOLT_API_KEY=api.api_key):
            delivery = _delivery(meters)
            delivery_process(delivery_id=delivery.pk)
            ids = list(delivery.items.values_list("pk", flat=True))

            def one(item_id):
                try:
                    items_module.item_process(item_id=item_id)
                finally:
                    connections.close_all()

            started = time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(one, ids))
            wall = time.monotonic() - started
    finally:
        for owner, attribute, original in originals:
            setattr(owner, attribute, original)
    readings = IntervalReading.objects.count()
    busy = wall * 4
    print(
        f"\nWhere a reading's time goes, 4 threads: {readings:,} readings in {wall:.1f} s "
        f"({busy / readings * 1e6:.0f} µs of a thread's time each)"
    )
    for name in ("API wait", "budget wait", "JSON parsing", "upsert"):
        share = 100 * spent[name] / busy
        print(f"  {name:<14}{spent[name] / readings * 1e6:>8.0f} µs  {share:>5.1f} %")
    other = busy - sum(spent.values())
    print(
        f"  {'the rest':<14}{other / readings * 1e6:>8.0f} µs  {100 * other / busy:>5.1f} %"
        "  (item bookkeeping, locks, waiting for a thread)"
    )


if __name__ == "__main__":
    sys.exit(main())
