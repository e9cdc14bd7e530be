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
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import psycopg
from psycopg import sql

from bench import BARE_PATH, backfill
from bench.load import HOST, Scenario, ScenarioResult, cpu_count, run_scenario

BASE_DIR = Path(__file__).resolve().parents[1]
SETTINGS_MODULE = "bench.settings"
GOALS = {"new": 0.7, "duplicate": 0.8}
SERVER_START_TIMEOUT = 60


class BenchError(Exception):
    pass


def main(argv=None) -> int:
    options = _parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        print("DATABASE_URL is not set: run the bench with `make bench`.", file=sys.stderr)
        return 2
    bench_url, bench_name = _bench_database_url(database_url)
    scratch = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    server = None
    failed = True
    created = False
    try:
        others = _worker_processes()
        print(f"Preparing database {bench_name} ...", flush=True)
        version = _create_database(database_url, bench_name)
        created = True
        env = _server_env(bench_url)
        _manage(env, "migrate", "--no-input")
        checks_ok = True
        if options.part != "backfill":
            endpoint = json.loads(
                _manage(
                    env, "create_webhook_endpoint", "--source", "openvolt", "--description", "bench"
                ).splitlines()[-1]
            )
            port = _free_port()
            server = _start_server(options, env, port, scratch / "gunicorn.log")
            with psycopg.connect(bench_url, autocommit=True) as connection:
                sample_cpu = _cpu_sampler(server.pid, connection)
                _print_header(options, bench_name, database_url, version, others, sample_cpu)
                results = _run_rounds(options, port, server.pid, endpoint["path"], sample_cpu)
                checks_ok = _check_database(connection, results)
            _stop_server(server)  # Its idle workers would only blur the backfill's CPU figures.
            errors = [error for rounds in results for r in rounds for error in r.errors]
            _print_summary(options, results)
            if errors:
                print("\nERRORS:", *errors[:20], sep="\n  ", file=sys.stderr)
                return 1
        if options.part != "intake":
            print(
                f"\nBackfill database: {bench_name} on {_describe_server(database_url)} "
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
            _stop_server(server)
        if failed and (scratch / "gunicorn.log").exists():
            print(f"gunicorn log kept in {scratch / 'gunicorn.log'}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
        if created and not options.keep_db:
            _drop_database(database_url, bench_name)


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


# The database


def _bench_database_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise SystemExit(f"DATABASE_URL names no database: {url}")
    bench_name = f"{name}_bench"
    return parts._replace(path="/" + quote(bench_name)).geturl(), bench_name


def _maintenance_connection(url: str):
    parts = urlsplit(url)
    last_error = None
    for name in ("postgres", "template1"):
        try:
            return psycopg.connect(parts._replace(path="/" + name).geturl(), autocommit=True)
        except psycopg.OperationalError as error:
            last_error = error
    raise BenchError(f"cannot reach the database server: {last_error}")


def _create_database(url: str, name: str) -> str:
    with _maintenance_connection(url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return connection.execute("SHOW server_version").fetchone()[0]


def _drop_database(url: str, name: str) -> None:
    try:
        with _maintenance_connection(url) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    except (BenchError, psycopg.Error) as error:
        print(f"could not drop the bench database {name}: {error}", file=sys.stderr)


def _describe_server(url: str) -> str:
    parts = urlsplit(url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if socket_dir.startswith("/") or not parts.hostname:
        return f"unix socket {socket_dir or '(default)'}"
    return f"{parts.hostname}:{parts.port or 5432}"


def _server_env(bench_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GUNICORN_CMD_ARGS", None)  # `make run` may have left --reload there.
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        SECRET_KEY="bench-only-not-secret",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=bench_url,
        PYTHONPATH=str(BASE_DIR),
    )
    return env


def _manage(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise BenchError(f"manage.py {arguments[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _check_database(connection, results: list[list[ScenarioResult]]) -> bool:
    """Every 2xx answer left a receipt, and no worker took a job: report both."""
    answered = sum(r.answered for rounds in results for r in rounds if r.scenario != "bare")
    receipts = connection.execute("SELECT count(*) FROM events_deliveryreceipt").fetchone()[0]
    deliveries = connection.execute("SELECT count(*) FROM events_delivery").fetchone()[0]
    jobs = dict(
        connection.execute(
            "SELECT status, count(*) FROM procrastinate_jobs GROUP BY status"
        ).fetchall()
    )
    workers = connection.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0]
    untouched = set(jobs) <= {"todo"} and workers == 0
    print(
        f"\nStored: {deliveries} deliveries, {receipts} receipts for {answered} 2xx answers; "
        f"{jobs.get('todo', 0)} jobs queued, "
        + (
            "none picked up (no worker ran)."
            if untouched
            else f"jobs by status {jobs}, {workers} workers registered!"
        )
    )
    if receipts != answered:
        print("ERROR: receipts and 2xx answers differ.", file=sys.stderr)
        return False
    if deliveries != jobs.get("todo", 0) + sum(v for k, v in jobs.items() if k != "todo"):
        print("ERROR: deliveries and queued jobs differ.", file=sys.stderr)
        return False
    return True


# The server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _start_server(options, env, port: int, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(options.workers),
        "--worker-class",
        options.worker_class,
    ]
    if options.worker_class == "gthread":
        command += ["--threads", str(options.threads)]
    log = log_path.open("wb")
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"gunicorn exited with {server.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}{BARE_PATH}", timeout=2) as answer:
                # Every worker must be up, not only the first to answer.
                if answer.status == 200 and len(_children(server.pid)) >= options.workers:
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    _stop_server(server)
    raise BenchError(f"gunicorn did not answer within {SERVER_START_TIMEOUT} s:\n{_tail(log_path)}")


def _stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# Processes and their CPU time, from /proc


def _proc_stats() -> dict[int, tuple[int, int]]:
    """Every visible process: pid -> (parent pid, user + system clock ticks)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return stats


def _children(pid: int) -> list[int]:
    return [child for child, (parent, _) in _proc_stats().items() if parent == pid]


def _cpu_sampler(gunicorn_pid: int, connection):
    """A function returning CPU seconds used so far: by the whole machine, and per process of
    gunicorn (the web role) and of PostgreSQL serving the bench database (the db role)."""
    ticks = os.sysconf("SC_CLK_TCK")
    backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
    local_database = backend in _proc_stats()
    # The server may serve other databases: count the bench database's backends and the
    # server's own processes (WAL writer, checkpointer, ...), not other clients' backends.
    query = """
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() OR backend_type <> 'client backend'
    """

    def sample() -> dict:
        stats = _proc_stats()
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        totals = {"machine": (sum(fields) - fields[3] - fields[4]) / ticks}
        web = [gunicorn_pid] + [pid for pid, (parent, _) in stats.items() if parent == gunicorn_pid]
        groups = {"web": web}
        if local_database:
            groups["db"] = [row[0] for row in connection.execute(query).fetchall()]
        for role, pids in groups.items():
            totals[role] = {pid: stats[pid][1] / ticks for pid in pids if pid in stats}
        return totals

    return sample


def _worker_processes() -> list[str]:
    """Procrastinate workers running on this machine (they would steal CPU from the bench)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            arguments = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = b" ".join(arguments).decode(errors="replace")
        if "procrastinate" in text and "worker" in text:
            found.append(f"pid {entry}: {text.strip()[:80]}")
    return found


# The rounds


def _run_rounds(
    options, port: int, server_pid: int, intake_path: str, sample_cpu
) -> list[list[ScenarioResult]]:
    scenarios = [
        Scenario("bare", BARE_PATH, 200, ids="fixed"),
        Scenario("new", intake_path, 202, ids="new"),
        Scenario("duplicate", intake_path, 200, ids="duplicate"),
    ]
    token = uuid.uuid4().hex[:8]
    # The sync worker closes the connection after each answer: nothing to spread.
    workers = _children(server_pid) if options.worker_class == "gthread" else None
    print(
        f"\n{'round':<6}{'scenario':<11}{'req/s':>8}{'ratio':>7}{'p50 ms':>8}{'p99 ms':>8}"
        f"   CPU ms/request: web + db + client"
    )
    results = []
    for number in range(1, options.rounds + 1):
        rounds = []
        for scenario in scenarios:
            result = run_scenario(
                port=port,
                scenario=scenario,
                prefix=f"bench-{token}-{number}-{scenario.name}",
                clients=options.clients,
                warmup=options.warmup,
                duration=options.duration,
                max_requests=options.max_requests,
                sample_cpu=sample_cpu,
                workers=workers,
            )
            rounds.append(result)
            ratio = result.rate / rounds[0].rate if rounds[0].rate else float("nan")
            print(
                f"{number:<6}{scenario.name:<11}{result.rate:>8.1f}{ratio:>7.2f}"
                f"{result.percentile(0.5) * 1000:>8.1f}{result.percentile(0.99) * 1000:>8.1f}"
                f"   {_cpu_per_request(result)}",
                flush=True,
            )
            if result.errors:
                print("  " + "\n  ".join(result.errors[:5]), file=sys.stderr)
                results.append(rounds)
                return results
        results.append(rounds)
    return results


def _cpu_per_request(result: ScenarioResult) -> str:
    if not result.count:
        return "-"
    web = result.server_cpu_seconds.get("web")
    db = result.server_cpu_seconds.get("db")
    parts = [
        "?" if value is None else f"{value / result.count * 1000:.2f}"
        for value in (web, db, result.client_cpu_seconds)
    ]
    used = sum(v for v in (web, db, result.client_cpu_seconds) if v is not None)
    capacity = result.duration * cpu_count() / 100
    others = max(0.0, result.server_cpu_seconds.get("machine", used) - used)
    return (
        " + ".join(parts)
        + f"   (CPUs busy: bench {used / capacity:.0f}%, others {others / capacity:.0f}%)"
    )


# The report


def _print_header(options, bench_name, database_url, version, others, sample_cpu) -> None:
    gthread = options.worker_class == "gthread"
    threads = f" x {options.threads} threads" if gthread else ""
    spread = ", spread evenly over the workers" if gthread else ""
    measured = "web + db" if "db" in sample_cpu() else "web only (database not on this machine)"
    worker = (
        "no procrastinate worker runs on this machine"
        if not others
        else f"WARNING, workers of another database run here and share the CPUs: {others}"
    )
    print(
        f"\nServer:   gunicorn config.wsgi, {options.workers} workers, {options.worker_class}"
        f"{threads}, DEBUG off, DJANGO_SETTINGS_MODULE={SETTINGS_MODULE}\n"
        f"Database: {bench_name} on {_describe_server(database_url)} (PostgreSQL {version}), "
        f"created for this run, dropped after it\n"
        f"Worker:   background worker NOT running: the bench starts the web process only; "
        f"{worker}\n"
        f"Load:     {options.clients} client processes x 1 keep-alive connection{spread}, "
        f"{options.warmup:g} s warm-up + {options.duration:g} s measured per scenario, "
        f"{options.rounds} rounds, {cpu_count()} CPUs shared by clients, server and database; "
        f"CPU measured: {measured}",
        flush=True,
    )


def _print_summary(options, results: list[list[ScenarioResult]]) -> None:
    complete = [rounds for rounds in results if len(rounds) == 3]
    if not complete:
        return
    print(
        f"\nMedian of {len(complete)} round(s); the intake's goal is a ratio to bare of "
        f"{GOALS['new']} for new deliveries and {GOALS['duplicate']} for duplicates:"
    )
    print(
        f"{'scenario':<11}{'req/s':>8}{'ratio to bare':>15}{'goal':>6}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/req':>12}"
    )
    for index, name in enumerate(("bare", "new", "duplicate")):
        runs = [rounds[index] for rounds in complete]
        ratio = statistics.median(rounds[index].rate / rounds[0].rate for rounds in complete)
        goal = GOALS.get(name)
        verdict = "" if goal is None else ("  met" if ratio >= goal else "  below goal")
        cpu = [_cpu_seconds(r) / r.count * 1000 for r in runs if r.count]
        print(
            f"{name:<11}{statistics.median(r.rate for r in runs):>8.1f}{ratio:>15.2f}"
            f"{'-' if goal is None else goal:>6}"
            f"{statistics.median(r.percentile(0.5) for r in runs) * 1000:>8.1f}"
            f"{statistics.median(r.percentile(0.99) for r in runs) * 1000:>8.1f}"
            f"{statistics.median(cpu) if cpu else float('nan'):>12.2f}{verdict}"
        )
    print(
        "CPU ms/req: web + db + client processes. With the CPUs saturated, req/s follows it; "
        "other processes on the machine move req/s from round to round, much less CPU ms/req."
    )


def _cpu_seconds(result: ScenarioResult) -> float:
    return (
        result.server_cpu_seconds.get("web", 0.0)
        + result.server_cpu_seconds.get("db", 0.0)
        + result.client_cpu_seconds
    )


if __name__ == "__main__":
    sys.exit(main())
