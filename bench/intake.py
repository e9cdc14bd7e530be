"""The intake part's rounds: bare, floor, new and duplicate posted in turn against the running
server, then the check that the database holds what the answers promised.
"""

import json
import sys
import uuid

from bench import BARE_PATH, FLOOR_PATH, FLOOR_TABLE, report
from bench.database import manage
from bench.load import Scenario, ScenarioResult, run_scenario
from bench.procs import children


def endpoint_path(env: dict[str, str]) -> str:
    """Create the Openvolt endpoint the deliveries are posted to; return its path."""
    output = manage(
        env, "create_webhook_endpoint", "--source", "openvolt", "--description", "bench"
    )
    return json.loads(output.splitlines()[-1])["path"]


def floor_table_create(connection) -> None:
    """The floor view's table: an id, the body as jsonb and a time, as a delivery has."""
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, body jsonb NOT NULL,"
        " received_at timestamptz NOT NULL DEFAULT now())"
    )


def run_rounds(
    options, port: int, server_pid: int, intake_path: str, sample_cpu
) -> list[list[ScenarioResult]]:
    """options.rounds rounds of the scenarios, a row printed for each; the first error ends
    the run, its round left incomplete."""
    scenarios = [
        Scenario("bare", BARE_PATH, 200, ids="fixed"),
        # A fresh delivery_id every request: the same bodies as "new".
        Scenario("floor", FLOOR_PATH, 202, ids="new"),
        Scenario("new", intake_path, 202, ids="new"),
        Scenario("duplicate", intake_path, 200, ids="duplicate"),
    ]
    token = uuid.uuid4().hex[:8]
    # The sync worker closes the connection after each answer: nothing to spread.
    workers = children(server_pid) if options.worker_class == "gthread" else None
    report.print_rounds_header()
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
            report.print_round(number, result, rounds)
            if result.errors:
                print("  " + "\n  ".join(result.errors[:5]), file=sys.stderr)
                results.append(rounds)
                return results
        results.append(rounds)
    return results


def check_database(connection, results: list[list[ScenarioResult]]) -> bool:
    """Every 2xx answer of the intake left a receipt, every one of the floor a row, and no
    worker took a job: report all three."""
    answered = sum(
        r.answered for rounds in results for r in rounds if r.scenario in report.INTAKE_SCENARIOS
    )
    floor_answered = sum(r.answered for rounds in results for r in rounds if r.scenario == "floor")
    floor_rows = connection.execute(f"SELECT count(*) FROM {FLOOR_TABLE}").fetchone()[0]
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
    if floor_rows != floor_answered:
        print(f"ERROR: the floor answered {floor_answered}, stored {floor_rows}.", file=sys.stderr)
        return False
    if deliveries != jobs.get("todo", 0) + sum(v for k, v in jobs.items() if k != "todo"):
        print("ERROR: deliveries and queued jobs differ.", file=sys.stderr)
        return False
    return True
