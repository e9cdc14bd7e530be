"""The budget of calls to Openvolt that every worker process shares (openvolt_budget.py),
tried with real processes against a local stand-in that counts what reaches it."""

import pytest

from events.models import OpenvoltBudget
from events.sources.openvolt_budget import openvolt_calls_pause
from tests.support.openvolt import METER_A
from tests.support.subprocesses import manage_py, subprocess_env

pytestmark = [pytest.mark.usefixtures("live_database"), pytest.mark.live]

TIMEOUT = 90
# Each caller process makes CALLS calls to GET /meters/<id>, THREADS at a time.
CALLER = """
from concurrent.futures import ThreadPoolExecutor
from django.db import connections
from events.sources.openvolt_api import OpenvoltClient

def call(_):
    try:
        OpenvoltClient(backoff=0.01).meter("{meter}")
    finally:
        connections.close_all()

with ThreadPoolExecutor({threads}) as pool:
    list(pool.map(call, range({calls})))
"""


def callers(openvolt_api, tmp_path, *, processes=2, calls=20, threads=4, **settings):
    env = subprocess_env(openvolt_api, **{name: str(value) for name, value in settings.items()})
    script = CALLER.format(meter=METER_A, threads=threads, calls=calls)
    running = [
        manage_py("shell", "-c", script, env=env, log_path=tmp_path / f"caller-{n}.log")
        for n in range(processes)
    ]
    for n, process in enumerate(running):
        assert process.wait(TIMEOUT) == 0, (tmp_path / f"caller-{n}.log").read_text()[-3000:]


def most_within(moments: list[float], seconds: float) -> int:
    moments = sorted(moments)
    return max(sum(1 for m in moments if start <= m < start + seconds) for start in moments)


def test_the_rate_holds_across_worker_processes(openvolt_api, tmp_path):
    callers(openvolt_api, tmp_path, OPENVOLT_API_MAX_RPS=10, OPENVOLT_API_MAX_CONCURRENCY=8)

    moments = [request.at for request in openvolt_api.requests_to(f"/meters/{METER_A}")]
    assert len(moments) == 40
    # 40 calls at 10 a second, each one reserving its own start: 3.9 s at the least. Counted
    # where they arrive, over 3 s: on a busy machine some arrive late, two at once, and the
    # first ones late too. A budget kept per process would let 40 calls through in about 1 s.
    assert max(moments) - min(moments) >= 3.0
    # 31 at the most over 3 s, and a few bunched late; a budget per process would let all 40
    # through in 2 s.
    assert most_within(moments, 3) <= 31 + 5


def test_calls_in_flight_stay_within_the_concurrency_across_processes(openvolt_api, tmp_path):
    openvolt_api.latency = 0.3

    callers(openvolt_api, tmp_path, OPENVOLT_API_MAX_RPS=1000, OPENVOLT_API_MAX_CONCURRENCY=3)

    assert len(openvolt_api.requests_to(f"/meters/{METER_A}")) == 40
    assert openvolt_api.most_in_flight == 3


def test_a_429_pauses_every_worker_for_its_retry_after(openvolt_api, tmp_path):
    path = f"/meters/{METER_A}"
    openvolt_api.fail(path, status=429, times=1, retry_after="2")

    callers(openvolt_api, tmp_path, calls=6, OPENVOLT_API_MAX_RPS=1000)

    requests = openvolt_api.requests_to(path)
    refused_at = requests[0].at
    # Nobody called in the 2 s after the 429, whichever process was refused, but for the
    # calls already on their way when it came: at most the other 7 of the 8 threads, late on
    # a busy machine. Without the pause the 11 other calls would all come in it (1,000 a second).
    in_pause = [r.at for r in requests[1:] if refused_at + 0.25 < r.at < refused_at + 1.9]
    assert len(in_pause) <= 7
    assert len(requests) == 1 + 12


def test_a_pause_takes_the_longest_retry_after(db):
    openvolt_calls_pause(seconds=30)
    long_until = OpenvoltBudget.objects.get().paused_until
    openvolt_calls_pause(seconds=1)

    assert OpenvoltBudget.objects.get().paused_until == long_until
