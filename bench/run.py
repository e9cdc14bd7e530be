"""`make bench`: how many webhooks a second the intake takes, next to a bare Django view;
then how fast a 13-month backfill of readings is stored, next to COPY (bench.backfill).

One gunicorn server (DEBUG off, the project's settings with `bench.urls` as URLconf)
serves both the intake and a bare view; rounds of three scenarios run against it:

    bare        POST to a view answering {"ok": true, "worker": pid}: Django and gunicorn alone
    new         POST an Openvolt delivery never seen before (202)
    duplicate   POST an Openvolt delivery already stored (200)

The intake's rates are reported as ratios to the bare view's rate of the same round; the table
shows the median over the rounds. Only the web process runs, not the background worker, so
deliveries stay queued. Everything is stored in a database of its own, `<name>_bench`,
created and migrated for the run and dropped after it.

Then, in this process, the backfill (bench/backfill.py): 19,056 half-hourly readings of one
meter stored through readings_upsert, next to COPY of the same rows, on the same database.

Knobs (flag or environment variable): --part BENCH_PART (all, intake or backfill),
--workers BENCH_WORKERS, --worker-class BENCH_WORKER_CLASS, --threads BENCH_THREADS, --clients
BENCH_CLIENTS, --duration BENCH_DURATION, --warmup BENCH_WARMUP, --rounds BENCH_ROUNDS,
--backfill-rounds BENCH_BACKFILL_ROUNDS, --backfill-alternatives BENCH_BACKFILL_ALTERNATIVES=1.
Exits non-zero on errors (a wrong status, a server that does not start, readings stored wrong),
never because a goal is missed.

Here, the options and the parts in order; the scratch database is bench.database's, the
server bench.server's, the rounds bench.intake's, their tables bench.report's.
"""

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import psycopg

from bench import SETTINGS_MODULE, BenchError, backfill, intake, report
from bench.database import describe_server, scratch_database
from bench.procs import cpu_sampler, worker_processes
from bench.server import free_port, start_server, stop_server


def main(argv=None) -> int:
    options = _parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        print("DATABASE_URL is not set: run the bench with `make bench`.", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    server = None
    failed = True
    # The database outlives the try: dropped last, after the error is told and the server
    # stopped.
    with ExitStack() as database:
        try:
            bench_url, bench_name, version, env = database.enter_context(
                scratch_database(database_url, keep=options.keep_db)
            )
            checks_ok = True
            if options.part != "backfill":
                others = worker_processes()
                intake_path = intake.endpoint_path(env)
                with psycopg.connect(bench_url, autocommit=True) as connection:
                    intake.floor_table_create(connection)
                port = free_port()
                server = start_server(options, env, port, scratch / "gunicorn.log")
                with psycopg.connect(bench_url, autocommit=True) as connection:
                    sample_cpu = cpu_sampler(server.pid, connection)
                    report.print_header(
                        options, bench_name, database_url, version, others, sample_cpu
                    )
                    results = intake.run_rounds(options, port, server.pid, intake_path, sample_cpu)
                    checks_ok = intake.check_database(connection, results)
                stop_server(server)  # Its idle workers would only blur the backfill's CPU figures.
                errors = [error for rounds in results for r in rounds for error in r.errors]
                report.print_summary(options, results)
                if errors:
                    print("\nERRORS:", *errors[:20], sep="\n  ", file=sys.stderr)
                    return 1
            if options.part != "intake":
                print(
                    f"\nBackfill database: {bench_name} on {describe_server(database_url)} "
                    f"(PostgreSQL {version}), Django set up in this process "
                    f"(DJANGO_SETTINGS_MODULE={SETTINGS_MODULE})"
                )
                backfill.run(env, options.backfill_rounds, options.backfill_alternatives)
            failed = not checks_ok
            return 0 if checks_ok else 1
        except (BenchError, backfill.BackfillError) as error:
            print(f"\nbench failed: {error}", file=sys.stderr)
            return 1
        finally:
            if server is not None:
                stop_server(server)
            if failed and (scratch / "gunicorn.log").exists():
                print(f"gunicorn log kept in {scratch / 'gunicorn.log'}", file=sys.stderr)
            else:
                shutil.rmtree(scratch, ignore_errors=True)


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Measure the webhook intake against a bare Django view, and a backfill "
        "of readings against COPY.",
    )

    def knob(name, kind, default, help):
        variable = "BENCH_" + name.upper().replace("-", "_")
        parser.add_argument(
            f"--{name}",
            type=kind,
            default=kind(os.environ.get(variable, default)),
            help=f"{help} (env {variable}, default {default})",
        )

    knob("part", str, "all", "what to measure: all, intake or backfill")
    knob("workers", int, 2, "gunicorn workers")
    knob("worker-class", str, "gthread", "gunicorn worker class: gthread or sync")
    knob("threads", int, 4, "threads per gthread worker, as WEB_THREADS in the Procfile")
    knob("clients", int, 8, "client processes, one keep-alive connection each")
    knob("duration", float, 5.0, "measured seconds per scenario")
    knob("warmup", float, 1.0, "warm-up seconds per scenario")
    knob("rounds", int, 3, "rounds of bare, new, duplicate")
    knob("max-requests", int, 200_000, "at most this many requests per client and scenario")
    knob("backfill-rounds", int, 5, "rounds of the backfill (COPY, upsert new, re-fetch)")
    parser.add_argument(
        "--backfill-alternatives",
        action="store_true",
        default=os.environ.get("BENCH_BACKFILL_ALTERNATIVES", "") not in ("", "0", "false"),
        help="also measure the other ways weighed for readings_upsert "
        "(env BENCH_BACKFILL_ALTERNATIVES=1)",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="leave the bench database for inspection"
    )
    options = parser.parse_args(argv)
    if options.part not in ("all", "intake", "backfill"):
        parser.error("--part must be all, intake or backfill")
    if options.worker_class not in ("gthread", "sync"):
        parser.error("--worker-class must be gthread or sync")
    if min(options.workers, options.threads, options.clients, options.rounds) < 1:
        parser.error("workers, threads, clients and rounds must be at least 1")
    if options.backfill_rounds < 1:
        parser.error("--backfill-rounds must be at least 1")
    if options.duration <= 0 or options.warmup < 0:
        parser.error("the duration must be positive and the warm-up not negative")
    return options


if __name__ == "__main__":
    sys.exit(main())
