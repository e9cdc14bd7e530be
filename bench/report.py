"""What the intake part prints: the set-up it measured, a row per scenario and round, and the
medians over the rounds next to the intake's goals.

Two baselines, measured in each round: `bare` (Django and gunicorn alone) and `floor` (a view
that commits one INSERT of the parsed body, the least a durable intake can do). The intake's
goals are ratios to the floor: what it does beyond that floor (authentication, the duplicate
check, the receipt, the job) may cost 40 % of the floor's rate for a new delivery, 20 % for a
duplicate.
"""

import statistics

from bench import SETTINGS_MODULE
from bench.database import describe_server
from bench.load import ScenarioResult, cpu_count

SCENARIOS = ("bare", "floor", "new", "duplicate")
INTAKE_SCENARIOS = ("new", "duplicate")
# The intake's goals: its rate as a ratio to the floor's.
GOALS = {"new": 0.6, "duplicate": 0.8}


def print_header(options, bench_name, database_url, version, others, sample_cpu) -> None:
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
        f"Database: {bench_name} on {describe_server(database_url)} (PostgreSQL {version}), "
        f"created for this run, dropped after it\n"
        f"Worker:   background worker NOT running: the bench starts the web process only; "
        f"{worker}\n"
        f"Load:     {options.clients} client processes x 1 keep-alive connection{spread}, "
        f"{options.warmup:g} s warm-up + {options.duration:g} s measured per scenario, "
        f"{options.rounds} rounds, {cpu_count()} CPUs shared by clients, server and database; "
        f"CPU measured: {measured}",
        flush=True,
    )


def print_rounds_header() -> None:
    print(
        f"\n{'round':<6}{'scenario':<11}{'req/s':>8}{'/bare':>7}{'/floor':>7}{'p50 ms':>8}"
        f"{'p99 ms':>8}   CPU ms/request: web + db + client"
    )


def _ratio(rate: float, baseline: ScenarioResult | None) -> float:
    return rate / baseline.rate if baseline and baseline.rate else float("nan")


def print_round(number: int, result: ScenarioResult, rounds: list[ScenarioResult]) -> None:
    """`rounds`: the round's results so far, baselines first."""
    bare, floor = [*rounds, None, None][:2]
    print(
        f"{number:<6}{result.scenario:<11}{result.rate:>8.1f}{_ratio(result.rate, bare):>7.2f}"
        f"{_ratio(result.rate, floor):>7.2f}"
        f"{result.percentile(0.5) * 1000:>8.1f}{result.percentile(0.99) * 1000:>8.1f}"
        f"   {_cpu_per_request(result)}",
        flush=True,
    )


def print_summary(options, results: list[list[ScenarioResult]]) -> None:
    complete = [rounds for rounds in results if len(rounds) == len(SCENARIOS)]
    if not complete:
        return
    print(
        f"\nMedian of {len(complete)} round(s); the intake's goal is a ratio to the floor of "
        f"{GOALS['new']} for new deliveries and {GOALS['duplicate']} for duplicates:"
    )
    print(
        f"{'scenario':<11}{'req/s':>8}{'to bare':>9}{'to floor':>10}{'goal':>6}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/req':>12}"
    )
    for index, name in enumerate(SCENARIOS):
        runs = [rounds[index] for rounds in complete]
        to_bare = statistics.median(rounds[index].rate / rounds[0].rate for rounds in complete)
        to_floor = statistics.median(rounds[index].rate / rounds[1].rate for rounds in complete)
        goal = GOALS.get(name)
        verdict = "" if goal is None else ("  met" if to_floor >= goal else "  below goal")
        cpu = [_cpu_seconds(r) / r.count * 1000 for r in runs if r.count]
        print(
            f"{name:<11}{statistics.median(r.rate for r in runs):>8.1f}{to_bare:>9.2f}"
            f"{to_floor:>10.2f}{'-' if goal is None else goal:>6}"
            f"{statistics.median(r.percentile(0.5) for r in runs) * 1000:>8.1f}"
            f"{statistics.median(r.percentile(0.99) for r in runs) * 1000:>8.1f}"
            f"{statistics.median(cpu) if cpu else float('nan'):>12.2f}{verdict}"
        )
    print(
        "CPU ms/req: web + db + client processes. With the CPUs saturated, req/s follows it; "
        "other processes on the machine move req/s from round to round, much less CPU ms/req."
    )


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


def _cpu_seconds(result: ScenarioResult) -> float:
    return (
        result.server_cpu_seconds.get("web", 0.0)
        + result.server_cpu_seconds.get("db", 0.0)
        + result.client_cpu_seconds
    )
