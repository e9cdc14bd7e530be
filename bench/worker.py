"""`make bench`, the worker part: how fast one worker process works through a queue of cheap
deliveries, and what each one costs.

N customer.created deliveries (--deliveries, BENCH_WORKER_DELIVERIES, default 5,000), each
about a new customer, are stored through the intake service (delivery, receipt and job, as a
POST stores them), all in one transaction, while one `manage.py procrastinate worker` waits on
an empty queue. From the commit, the time until every job has finished gives deliveries a
second; the worker process's CPU seconds and the statements it sent (counted where psycopg
sends them, bench.counted) give the cost of each delivery, next to the CPU of the database
backends that served it. Once with --concurrency 4 (WORKER_CONCURRENCY's default), once with 1
(--concurrency "4,1", BENCH_WORKER_CONCURRENCY).

    python -m bench.worker [--deliveries N] [--concurrency 4,1] [--profile] [--keep-db]

--profile runs the jobs in this process instead, one at a time, and shows where a delivery's
time goes (bench.worker_profile).
"""

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench import BASE_DIR, BenchError
from bench.database import describe_server, scratch_database
from bench.procs import proc_stats, process_cpu_seconds

TIMEOUT = 900  # seconds a run may take before the bench gives up
POLL = 0.05


def main(argv=None) -> int:
    options = _parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        print("DATABASE_URL is not set: run the bench with `make bench`.", file=sys.stderr)
        return 2
    try:
        with scratch_database(database_url, keep=options.keep_db) as (url, name, version, env):
            os.environ.update(env)
            import django

            django.setup()
            print(
                f"\nWorker: {options.deliveries:,} customer.created deliveries a run, on {name} "
                f"at {describe_server(database_url)} (PostgreSQL {version}), "
                f"{len(os.sched_getaffinity(0))} CPUs shared by the worker, the database "
                "and this process"
            )
            if options.profile:
                from bench.worker_profile import profile

                profile(deliveries=options.deliveries)
                return 0
            analyze = not options.stale_statistics
            results = [
                _run(url, env, deliveries=options.deliveries, concurrency=c, analyze=analyze)
                for c in options.concurrency
            ]
            _report(results)
            return 0 if all(result.correct for result in results) else 1
    except BenchError as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        return 1


def _parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__)
    parser.add_argument(
        "--deliveries",
        type=int,
        default=int(os.environ.get("BENCH_WORKER_DELIVERIES", 5000)),
        help="deliveries a run (env BENCH_WORKER_DELIVERIES, default 5000)",
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=os.environ.get("BENCH_WORKER_CONCURRENCY", "4,1"),
        help="the worker's --concurrency, one run each (env BENCH_WORKER_CONCURRENCY, default 4,1)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="where a delivery's time goes, in this process"
    )
    parser.add_argument(
        "--stale-statistics",
        action="store_true",
        help="leave the job table's planner statistics as they were before the jobs were queued",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database")
    options = parser.parse_args(argv)
    if isinstance(options.concurrency, str):
        options.concurrency = [int(part) for part in options.concurrency.split(",")]
    if options.deliveries < 1 or min(options.concurrency) < 1:
        parser.error("--deliveries and --concurrency must be at least 1")
    return options


def deliveries_store(*, count: int, tag: str, analyze: bool = True) -> tuple[float, float]:
    """`count` customer.created deliveries through the intake service, in one transaction:
    a worker waiting on the queue sees them all at once, at the commit.

    Returns the seconds one job fetch takes with them waiting, before and after the job
    table's statistics are brought up to date (ANALYZE, as autovacuum would some time later;
    not when `analyze` is false: nan then).
    """
    from django.db import connection, transaction

    from events.intake import webhook_receive
    from events.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get_or_create(source="openvolt", description="bench")[0]
    headers = {"content-type": "application/json", "user-agent": "bench"}
    with transaction.atomic():
        for number in range(count):
            customer = f"{tag}{number:016x}"
            envelope = {
                "subscription_id": "bench-subscription",
                "event_id": "customer.created",
                "event_timestamp": "2024-04-28T11:44:01.010Z",
                "delivery_id": f"{tag}-{number}",
                "payload": {
                    "id": customer,
                    "name": f"Customer {number}",
                    "email": f"customer-{number}@example.com",
                    "account": "bench-account",
                    "created_at": "2024-04-28T11:44:00.000Z",
                    "updated_at": "2024-04-28T11:44:00.000Z",
                },
            }
            result = webhook_receive(
                endpoint=endpoint,
                body=json.dumps(envelope).encode(),
                headers=headers,
                remote_addr="127.0.0.1",
            )
            if result.rejection or result.duplicate:
                raise BenchError(f"The intake did not take a delivery in: {result}")
        with connection.cursor() as cursor:
            stale = _fetch_seconds(cursor)
            if not analyze:
                return stale, float("nan")
            cursor.execute("ANALYZE procrastinate_jobs")
            return stale, _fetch_seconds(cursor)


def _fetch_seconds(cursor) -> float:
    """One fetch of a job as the worker fetches them, undone."""
    from django.db import transaction

    savepoint = transaction.savepoint()
    started = time.perf_counter()
    cursor.execute("SELECT id FROM procrastinate_fetch_job_v2(ARRAY['deliveries'], NULL)")
    if cursor.fetchone()[0] is None:
        raise BenchError("The worker would find no job to fetch.")
    elapsed = time.perf_counter() - started
    transaction.savepoint_rollback(savepoint)
    return elapsed


@dataclass
class Result:
    concurrency: int
    deliveries: int
    wall: float
    worker_cpu: float
    db_cpu: float | None
    statements: int
    transactions: int
    correct: bool
    # One job fetch, with the deliveries waiting: with the job table's statistics as they were
    # before they were queued (none, on the new database), and brought up to date.
    fetch_stale: float
    fetch_current: float

    def per_delivery(self, value: float) -> float:
        return value / self.deliveries


def _run(
    bench_url: str, env: dict[str, str], *, deliveries: int, concurrency: int, analyze: bool
) -> Result:
    from django.db import connection

    tag = uuid.uuid4().hex[:8]
    logs = Path(tempfile.mkdtemp(prefix="switchboard-bench-worker-"))
    counts_file = logs / "counts.json"
    command = ["procrastinate", "worker", "--concurrency", str(concurrency)]
    watch = psycopg.connect(bench_url, autocommit=True)
    launched = watch.execute("SELECT clock_timestamp()").fetchone()[0]
    with open(logs / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "bench.counted", str(counts_file), *command],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with watch:
            _wait_ready(watch, worker, logs, since=launched)
            connection.ensure_connection()
            backends = _Backends(watch, mine=connection.connection.info.backend_pid)
            cpu_before, counts_before = process_cpu_seconds(worker.pid), _counts(worker)
            backends.sample()
            fetch = deliveries_store(count=deliveries, tag=tag, analyze=analyze)
            started = time.monotonic()
            while _unfinished(watch):
                if time.monotonic() - started > TIMEOUT or worker.poll() is not None:
                    raise BenchError(f"The worker did not finish; its log: {logs}/worker.log")
                backends.sample()
                time.sleep(POLL)
            wall = time.monotonic() - started
            cpu, counts = process_cpu_seconds(worker.pid) - cpu_before, _counts(worker)
            backends.sample()
            correct = _check(watch, tag, deliveries)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    shutil.rmtree(logs, ignore_errors=True)
    return Result(
        concurrency=concurrency,
        deliveries=deliveries,
        wall=wall,
        worker_cpu=cpu,
        db_cpu=backends.cpu(),
        statements=counts["statements"] - counts_before["statements"],
        transactions=counts["transactions"] - counts_before["transactions"],
        correct=correct,
        fetch_stale=fetch[0],
        fetch_current=fetch[1],
    )


def _wait_ready(watch, worker, logs: Path, *, since) -> None:
    """Until the worker has registered (it answers SIGUSR1 from then on) and its first
    periodic jobs have run."""
    started = time.monotonic()
    registered = "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat >= %s"
    while not watch.execute(registered, [since]).fetchone()[0]:
        if worker.poll() is not None or time.monotonic() - started > 60:
            raise BenchError(f"The worker did not start; its log: {logs}/worker.log")
        time.sleep(POLL)
    time.sleep(2)


def _counts(worker) -> dict[str, int]:
    """The worker's statement counts so far (it writes them when signalled)."""
    counts_file = Path(worker.args[3])
    counts_file.unlink(missing_ok=True)
    worker.send_signal(signal.SIGUSR1)
    started = time.monotonic()
    while not counts_file.exists():
        if time.monotonic() - started > 10:
            raise BenchError("The worker did not write its statement counts.")
        time.sleep(0.01)
    return json.loads(counts_file.read_text())


def _unfinished(watch) -> int:
    return watch.execute(
        "SELECT count(*) FROM procrastinate_jobs "
        "WHERE queue_name = 'deliveries' AND status IN ('todo', 'doing')"
    ).fetchone()[0]


def _check(watch, tag: str, deliveries: int) -> bool:
    """Every delivery processed, with one finished attempt, and its customer mirrored."""
    statuses = dict(
        watch.execute(
            "SELECT status, count(*) FROM events_delivery WHERE external_id LIKE %s "
            "GROUP BY status",
            [f"{tag}-%"],
        ).fetchall()
    )
    attempts = watch.execute(
        "SELECT count(*) FROM events_deliveryattempt a JOIN events_delivery d "
        "ON d.id = a.delivery_id WHERE d.external_id LIKE %s AND a.result = 'processed'",
        [f"{tag}-%"],
    ).fetchone()[0]
    customers = watch.execute(
        "SELECT count(*) FROM meters_customer WHERE external_id LIKE %s", [f"{tag}%"]
    ).fetchone()[0]
    correct = statuses == {"processed": deliveries} and attempts == customers == deliveries
    if not correct:
        print(
            f"ERROR: deliveries by status {statuses}, {attempts} processed attempts, "
            f"{customers} customers, for {deliveries} deliveries.",
            file=sys.stderr,
        )
    return correct


class _Backends:
    """CPU of the database backends serving the bench database, other than this process's
    (None when the database is on another machine)."""

    def __init__(self, watch, *, mine: int):
        self.watch = watch
        self.excluded = {mine, watch.info.backend_pid}
        self.local = watch.info.backend_pid in proc_stats()
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.sampled = False

    def sample(self) -> None:
        if not self.local:
            return
        pids = self.watch.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
        stats = proc_stats()
        for (pid,) in pids:
            if pid not in self.excluded and pid in stats:
                # A backend first seen after the first sample started during the run.
                self.first.setdefault(pid, 0 if self.sampled else stats[pid][1])
                self.last[pid] = stats[pid][1]
        self.sampled = True

    def cpu(self) -> float | None:
        if not self.local:
            return None
        ticks = sum(self.last[pid] - self.first[pid] for pid in self.last)
        return ticks / os.sysconf("SC_CLK_TCK")


def _report(results: list[Result]) -> None:
    print(
        f"\n{'concurrency':<12}{'deliveries':>11}{'wall s':>8}{'deliveries/s':>14}"
        f"{'worker CPU ms':>15}{'db CPU ms':>11}{'statements':>12}{'transactions':>14}"
        f"{'round trips':>13}"
    )
    print(f"{'':<45}{'(per delivery)':^65}")
    for result in results:
        db = "-" if result.db_cpu is None else f"{result.per_delivery(result.db_cpu) * 1000:.2f}"
        print(
            f"{result.concurrency:<12}{result.deliveries:>11,}{result.wall:>8.1f}"
            f"{result.deliveries / result.wall:>14.1f}"
            f"{result.per_delivery(result.worker_cpu) * 1000:>15.2f}{db:>11}"
            f"{result.per_delivery(result.statements):>12.2f}"
            f"{result.per_delivery(result.transactions):>14.2f}"
            f"{result.per_delivery(result.statements + 2 * result.transactions):>13.2f}"
        )
    first = results[0]
    print(
        f"One job fetch with {first.deliveries:,} jobs waiting (the first run's): "
        f"{first.fetch_stale * 1000:.1f} ms with the job table's statistics as they were before "
        f"the jobs were queued, {first.fetch_current * 1000:.1f} ms once brought up to date "
        "(the runs above: "
        + ("as they were" if math.isnan(first.fetch_current) else "up to date")
        + ")."
    )
    print(
        "worker CPU: the worker process, user + system; db CPU: the backends serving the bench "
        "database. Statements: queries and procrastinate's calls the worker sent; "
        "transactions: its commits and rollbacks; round trips: the statements, and a BEGIN and "
        "a COMMIT for each transaction."
    )


if __name__ == "__main__":
    sys.exit(main())
