"""The load generator: a few client processes, one keep-alive connection each.

Every client posts in a closed loop (next request when the answer is in). All clients start
together, warm up, then count the answers that arrive within the measured window. An answer
with another status than expected stops the client and fails the run.
"""

import json
import multiprocessing
import os
import socket
import time
from dataclasses import dataclass, field

from bench import BARE_PATH

HOST = "127.0.0.1"
# Per request: a client whose request takes longer than this fails the run.
REQUEST_TIMEOUT = 30.0
# Deliveries each client seeds before a duplicate scenario, then posts again in turn.
DUPLICATE_POOL = 20
# Connections a client may open while looking for a worker with room (see _balance).
BALANCE_ATTEMPTS = 200


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    expected_status: int
    # new: a fresh delivery_id every request; duplicate: a seeded pool; fixed: one body.
    ids: str


@dataclass
class ClientResult:
    count: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    # Every 2xx answer, warm-up and seeding included: checked against the stored receipts.
    answered: int = 0
    error: str = ""


@dataclass
class ScenarioResult:
    scenario: str
    duration: float
    count: int
    latencies: list[float]
    client_cpu_seconds: float
    answered: int
    errors: list[str]
    # CPU seconds of the server's processes during the window, by role ("web", "db").
    server_cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.duration

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def openvolt_body(delivery_id: str) -> bytes:
    """An Openvolt envelope, like the test suite's `openvolt_envelope`."""
    return json.dumps(
        {
            "subscription_id": "0315r6h8-7b9c-4b2e-bf8d-1139196ty78i",
            "event_id": "meter.created",
            "event_timestamp": "2024-04-28T11:44:01.010Z",
            "delivery_id": delivery_id,
            "payload": {"id": "6627795d54dc5b0961a08ae5", "name": "Bench meter"},
        }
    ).encode()


class Connection:
    """A minimal HTTP/1.1 keep-alive client: a fifth of http.client's CPU per request, which
    matters when the client shares two cores with the server it measures."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = bytearray()

    def connect(self) -> None:
        self.close()
        self.sock = socket.create_connection((HOST, self.port), timeout=REQUEST_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buffer.clear()

    def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        """Send a request (`head` ends with the blank line) and return (status, body)."""
        if self.sock is None:
            self.connect()
        self.sock.sendall(head + body)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._receive()
        header = bytes(self.buffer[:end]).lower()
        status = int(header[9:12])
        start = header.find(b"\r\ncontent-length:")
        if start < 0:
            raise ValueError(f"answer without Content-Length: {header[:300]!r}")
        line_end = header.find(b"\r\n", start + 2)
        length = int(header[start + 17 : line_end if line_end >= 0 else len(header)])
        while len(self.buffer) < end + 4 + length:
            self._receive()
        answer = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        if b"\r\nconnection: close" in header:  # The sync worker closes after every answer.
            self.close()
        return status, answer

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection before answering")
        self.buffer.extend(data)


def _balance(connection: Connection, port: int, workers: list[int], claims, quota: int) -> None:
    """Connect until on a gunicorn worker that has less than its share of the connections.

    A keep-alive connection stays with the worker that accepted it, and accepts race: left
    alone, one worker may get most clients while the other idles, and the bare view would
    measure one worker's GIL instead of the server.
    """
    probe = f"GET {BARE_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    for _ in range(BALANCE_ATTEMPTS):
        connection.connect()
        status, answer = connection.request(probe, b"")
        if status != 200:
            raise AssertionError(f"bare view: expected 200, got {status}: {answer[:300]!r}")
        worker = json.loads(answer)["worker"]
        with claims.get_lock():
            if worker in workers and claims[workers.index(worker)] < quota:
                claims[workers.index(worker)] += 1
                return
        time.sleep(0.002)
    raise RuntimeError(f"found no worker with fewer than {quota} of the connections")


def _client(index, port, scenario, prefix, timeline, max_requests, spread, queues, start):
    result = ClientResult()
    warmup, duration = timeline
    ready, go, results = queues
    connection = Connection(port)
    head = (
        f"POST {scenario.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n"
    )

    def post(body: bytes, expected: int) -> float:
        began = time.perf_counter()
        status, answer = connection.request(head.format(len(body)).encode(), body)
        elapsed = time.perf_counter() - began
        if status != expected:
            raise AssertionError(
                f"{scenario.name}: expected {expected}, got {status}: {answer[:300]!r}"
            )
        result.answered += 1
        return elapsed

    try:
        pool = []
        if scenario.ids == "duplicate":
            # The first arrival of each delivery is new (202); every later one is a duplicate.
            pool = [openvolt_body(f"{prefix}-{index}-{k}") for k in range(DUPLICATE_POOL)]
            for body in pool:
                post(body, 202)
        fixed = openvolt_body(f"{prefix}-{index}-fixed")
        ready.put(index)
        if not go.wait(120):
            raise TimeoutError("the bench never gave the start signal")
        # Waiting may have outlasted the server's keep-alive timeout: start afresh.
        if spread is None:
            connection.connect()
        else:
            _balance(connection, port, *spread)
        warm_end = start.value + warmup
        end = warm_end + duration
        cpu_at_warm_end = None
        sent = 0
        while sent < max_requests:
            if scenario.ids == "new":
                body = openvolt_body(f"{prefix}-{index}-{sent}")
            elif scenario.ids == "duplicate":
                body = pool[sent % len(pool)]
            else:
                body = fixed
            elapsed = post(body, scenario.expected_status)
            sent += 1
            now = time.monotonic()
            if now >= end:
                break
            if now >= warm_end:
                if cpu_at_warm_end is None:
                    cpu_at_warm_end = time.process_time()
                result.count += 1
                result.latencies.append(elapsed)
        if cpu_at_warm_end is not None:
            result.cpu_seconds = time.process_time() - cpu_at_warm_end
    except Exception as error:
        result.error = f"client {index}: {type(error).__name__}: {error}"
        ready.put(index)  # Never leave the bench waiting for a client that died seeding.
    finally:
        connection.close()
    results.put((index, result))


def run_scenario(
    *,
    port: int,
    scenario: Scenario,
    prefix: str,
    clients: int,
    warmup: float,
    duration: float,
    max_requests: int,
    sample_cpu,
    workers: list[int] | None,
) -> ScenarioResult:
    """Run one scenario; `sample_cpu()` returns CPU seconds used so far, by role.

    With `workers` (the pids of keep-alive gunicorn workers), the clients spread their
    connections evenly over them.
    """
    context = multiprocessing.get_context("fork")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    start = context.Value("d", 0.0)
    spread = None
    if workers:
        spread = (workers, context.Array("i", len(workers)), -(-clients // len(workers)))
    processes = [
        context.Process(
            target=_client,
            args=(
                index,
                port,
                scenario,
                prefix,
                (warmup, duration),
                max_requests,
                spread,
                (ready, go, results),
                start,
            ),
            daemon=True,
        )
        for index in range(clients)
    ]
    for process in processes:
        process.start()
    collected: dict[int, ClientResult] = {}
    server_cpu: dict[str, float] = {}
    try:
        for _ in processes:
            ready.get(timeout=120)
        start.value = time.monotonic() + 0.05
        go.set()
        warm_end = start.value + warmup
        _sleep_until(warm_end)
        before = sample_cpu()
        _sleep_until(warm_end + duration)
        after = sample_cpu()
        server_cpu = _cpu_delta(before, after)
        deadline = time.monotonic() + REQUEST_TIMEOUT + 10
        while len(collected) < len(processes):
            index, result = results.get(timeout=max(0.1, deadline - time.monotonic()))
            collected[index] = result
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    errors = [r.error for r in collected.values() if r.error]
    errors += [f"client {i}: no result" for i in range(clients) if i not in collected]
    return ScenarioResult(
        scenario=scenario.name,
        duration=duration,
        count=sum(r.count for r in collected.values()),
        latencies=[x for r in collected.values() for x in r.latencies],
        client_cpu_seconds=sum(r.cpu_seconds for r in collected.values()),
        answered=sum(r.answered for r in collected.values()),
        errors=errors,
        server_cpu_seconds=server_cpu,
    )


def _cpu_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds by role between two samples; a role is a total or a {pid: seconds} map."""
    delta = {}
    for role, value in after.items():
        if isinstance(value, dict):
            # A process born in between counts from zero; one that died is lost (rare).
            earlier = before.get(role, {})
            delta[role] = sum(seconds - earlier.get(pid, 0.0) for pid, seconds in value.items())
        else:
            delta[role] = value - before.get(role, 0.0)
    return delta


def _sleep_until(moment: float) -> None:
    remaining = moment - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
