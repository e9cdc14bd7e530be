"""Where a delivery's time goes in the worker (`python -m bench.worker --profile`).

The jobs run in this process, through procrastinate's own worker (as `manage.py procrastinate
worker` runs them, one at a time), twice:

    timed       every statement sent to PostgreSQL is told apart by what it does (job fetch,
                the locked status read, the attempt row, ...); each is charged its own round
                trip and the Python run since the statement before it (the ORM building it,
                the code deciding on it), in wall and CPU time. Statements of procrastinate's
                are charged their round trip only: the Python before them is the worker loop's
                (thread hops, logging, the task middleware, the tail of the task).
    cProfile    the functions that take most of the CPU, every thread profiled on its own CPU
                clock (time spent waiting for PostgreSQL costs nothing there).
"""

import cProfile
import logging
import os
import pstats
import threading
import time
import uuid
from collections import defaultdict

from bench.counted import statements_heard

LOOP = "procrastinate: worker loop (Python, thread hops, logs)"
# (label, test on the statement's lower-cased SQL), the first that matches wins.
KINDS = [
    (
        "procrastinate: job fetch, finish, pool check",
        lambda sql: "procrastinate" in sql or not sql.strip(),
    ),
    ("connection health check (SELECT 1)", lambda sql: sql.strip() == "select 1"),
    ("commits", lambda sql: sql in ("commit", "rollback")),
    # A run claimed, or finished, in one statement (events/runs.py).
    (
        "claim: locked status read, mark, attempt row",
        lambda sql: "for update" in sql and "events_deliveryattempt" in sql,
    ),
    (
        "finish: delivery, attempt, notification check",
        lambda sql: "events_emailsubscription" in sql and "events_deliveryattempt" in sql,
    ),
    ("locked status read", lambda sql: "for update" in sql and "events_delivery" in sql),
    ("attempt row", lambda sql: "events_deliveryattempt" in sql),
    ("delivery row updates", lambda sql: sql.lstrip().startswith('update "events_delivery"')),
    ("notification check", lambda sql: "events_emailsubscription" in sql),
    (
        "handler: lock and mirror upsert",
        lambda sql: "meters_customer" in sql or "pg_advisory" in sql or "savepoint" in sql,
    ),
]
OTHER = "other statements"


def profile(*, deliveries: int) -> None:
    from bench.worker import deliveries_store

    # The worker's log lines are written, as the worker writes them, but not shown here.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (open until the end)
    timed = _Timed()
    deliveries_store(count=deliveries, tag=uuid.uuid4().hex[:8])
    with statements_heard(timed.heard):
        timed.start()
        wall, cpu = _run_jobs()
    timed.report(deliveries=deliveries, wall=wall, cpu=cpu)
    _profiled(deliveries)


def _run_jobs() -> tuple[float, float]:
    """Run the jobs queued, here, one at a time; (wall, CPU) seconds."""
    from procrastinate.contrib.django import app

    started, cpu = time.perf_counter(), time.process_time()
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(
            wait=False,
            queues=["deliveries"],
            concurrency=1,
            install_signal_handlers=False,
            listen_notify=False,
        )
    return time.perf_counter() - started, time.process_time() - cpu


class _Timed:
    """Charges each statement, and the run before it, to its kind (the module's docstring)."""

    def __init__(self):
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.statements: dict[str, int] = defaultdict(int)
        self.examples: dict[str, str] = {}
        self._mark = (time.perf_counter(), time.process_time())

    def start(self) -> None:
        self._mark = (time.perf_counter(), time.process_time())

    def heard(self, sql):
        text = sql.decode() if isinstance(sql, bytes) else str(sql)
        kind = next((label for label, test in KINDS if test(text.lower())), OTHER)
        self.statements[kind] += 1
        self.examples.setdefault(kind, " ".join(text.split())[:100])
        sent = (time.perf_counter(), time.process_time())
        before = LOOP if kind.startswith("procrastinate") else kind
        self._charge(before, self._mark, sent)

        def answered():
            now = (time.perf_counter(), time.process_time())
            self._charge(kind, sent, now)
            self._mark = now

        return answered

    def _charge(self, kind, since, until):
        self.wall[kind] += until[0] - since[0]
        self.cpu[kind] += until[1] - since[1]

    def report(self, *, deliveries: int, wall: float, cpu: float) -> None:
        print(
            f"\nWhere a delivery's time goes, one job at a time in this process: {deliveries:,} "
            f"deliveries in {wall:.1f} s, {deliveries / wall:.1f} a second, "
            f"{cpu / deliveries * 1e3:.2f} ms CPU and "
            f"{sum(self.statements.values()) / deliveries:.2f} statements each"
        )
        print(f"  {'':<54}{'wall µs':>9}{'share':>7}{'CPU µs':>8}{'statements':>12}")
        kinds = [label for label, _ in KINDS] + [OTHER, LOOP]
        for kind in sorted(kinds, key=lambda k: -self.wall.get(k, 0)):
            if kind not in self.wall:
                continue
            count = self.statements.get(kind, 0)
            print(
                f"  {kind:<54}{self.wall[kind] / deliveries * 1e6:>9.0f}"
                f"{100 * self.wall[kind] / wall:>6.1f}%{self.cpu[kind] / deliveries * 1e6:>8.0f}"
                f"{count / deliveries:>12.2f}"
            )
        print("  Statements of each kind, an example:")
        for kind, example in self.examples.items():
            print(f"    {kind}: {example}")


def _profiled(deliveries: int) -> None:
    """The same run under cProfile, in every thread: the functions costliest in themselves."""
    from bench.worker import deliveries_store

    deliveries_store(count=deliveries, tag=uuid.uuid4().hex[:8])
    profilers = []

    def start(*_):
        # The first event of a new thread: profile it from here (this replaces the hook).
        profiler = cProfile.Profile(time.thread_time)
        profilers.append(profiler)
        profiler.enable()

    main = cProfile.Profile(time.thread_time)
    profilers.append(main)
    threading.setprofile(start)
    main.enable()
    try:
        _run_jobs()
    finally:
        main.disable()
        threading.setprofile(None)
    stats = pstats.Stats(*profilers).strip_dirs()
    print(f"\ncProfile, {deliveries:,} deliveries, every thread's CPU: the 25 costliest themselves")
    stats.sort_stats("tottime").print_stats(25)
    print("and the 40 costliest with what they call:")
    stats.sort_stats("cumtime").print_stats(40)
