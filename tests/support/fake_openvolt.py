"""A stand-in for Openvolt's REST API: a real HTTP server on 127.0.0.1 that our client calls.

Tests fill its catalogue (customers, meters, hosted consents; interval data is generated for
any range of a known meter), read its request log, and make a path misbehave:

    api.fail("/interval-data", status=500, times=4)      # the next 4 requests get a 500
    api.fail("/meters/x", status=429, retry_after="1")   # Retry-After on the answer
    api.hang("/interval-data")                           # the next request waits for release()

Paths are relative to the API base (`.../v1`), as our client writes them.
"""

import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE_PATH = "/v1"
HALF_HOUR = timedelta(minutes=30)
# A hung request waits at most this long for release(): a forgotten hang never blocks a test.
HANG_LIMIT_SECONDS = 30.0
_ids = itertools.count(0xA11CE0000000000000000000)


def iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    api_key: str | None
    body: Any
    at: float  # time.monotonic() when it arrived


@dataclass
class _Fault:
    status: int | None  # None: hang until released
    times: int | None  # None: until heal()
    retry_after: str | None = None
    # Requests let through before the fault applies.
    after: int = 0


class FakeOpenvolt:
    def __init__(self, api_key: str = "ov-test-key-0123456789"):
        self.api_key = api_key
        self.customers: dict[str, dict] = {}
        self.meters: dict[str, dict] = {}
        self.consents: dict[str, dict] = {}
        # Bump a meter's revision to make the API return revised consumption for it.
        self.revisions: dict[str, int] = defaultdict(int)
        self.requests: list[LoggedRequest] = []
        self.hanging = threading.Event()  # set once a request is held by hang()
        # Seconds each answer takes, and how many requests it ever held at once.
        self.latency = 0.0
        self.in_flight = self.most_in_flight = 0
        self._released = threading.Event()
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # Running

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{BASE_PATH}"

    def start(self) -> "FakeOpenvolt":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # The catalogue

    def add_customer(self, customer_id: str, **fields) -> dict:
        self.customers[customer_id] = {
            "id": customer_id,
            "account": "65c361949ecb86c35d5ef1c0",
            "name": "Customer Name",
            "email": "pepper@starkindustries.com",
            "address": "Fool's Lane 1",
            "created_at": "2024-02-07T10:56:32.378Z",
            **fields,
        }
        return self.customers[customer_id]

    def add_meter(self, meter_id: str, *, customer_id: str, meter_number: str, **fields) -> dict:
        """A meter as GET /meters/<id> shows it (`_id`; the customer expanded on the way out)."""
        self.meters[meter_id] = {
            "_id": meter_id,
            "account": "65c361949ecb86c35d5ef1c0",
            "meter_number": meter_number,
            "customer": customer_id,
            "enabled": True,
            "valid": True,
            "status": "active",
            "data_source": "dcc",
            "update_frequency": "daily",
            "validity_state": {"missing_consent": False, "expired_consent": False},
            "created_at": "2024-04-23T15:07:08.554Z",
            "updated_at": "2024-04-23T15:07:08.554Z",
            **fields,
        }
        return self.meters[meter_id]

    def add_consent(self, consent: dict) -> dict:
        """A hosted consent, shaped as the hosted_consent.revoked payload (a copy is kept)."""
        stored = json.loads(json.dumps(consent))
        if isinstance(stored.get("customer"), dict):
            customer = stored["customer"]
            self.customers.setdefault(customer["id"], customer)
            stored["customer"] = customer["id"]
        self.consents[stored["id"]] = stored
        return stored

    def consumption(self, meter_id: str, start: datetime) -> Decimal:
        """What the API reports for the half-hour from `start` (changes with the revision)."""
        index = int(start.timestamp()) // 1800
        return Decimal(index % 48 + 1) / 10 + self.revisions[meter_id]

    # Misbehaving

    def fail(
        self, path: str, *, status: int = 500, times: int | None = 1, retry_after: str | None = None
    ) -> None:
        with self._lock:
            self._faults[path].append(_Fault(status=status, times=times, retry_after=retry_after))

    def hang(self, path: str, *, times: int = 1, after: int = 0) -> None:
        """Hold the next `times` requests to `path`, once `after` have gone through, until
        release() (or HANG_LIMIT_SECONDS)."""
        with self._lock:
            self._released.clear()
            self._faults[path].append(_Fault(status=None, times=times, after=after))

    def release(self) -> None:
        self._released.set()

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    # The log

    def requests_to(self, path: str, method: str = "GET") -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path and r.method == method]

    # Serving

    def _fault_for(self, path: str) -> _Fault | None:
        with self._lock:
            faults = self._faults.get(path, [])
            if not faults:
                return None
            fault = faults[0]
            if fault.after > 0:
                fault.after -= 1
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    faults.pop(0)
            return fault

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any):
        """(status, JSON document, headers) for a request that got through the faults."""
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "customers":
            return self._found(self.customers.get(parts[1]))
        if method == "GET" and len(parts) == 2 and parts[0] == "meters":
            return self._found(self._expanded(self.meters.get(parts[1])))
        if method == "GET" and len(parts) == 2 and parts[0] == "hosted-consents":
            return self._found(self._expanded(self.consents.get(parts[1])))
        if method == "POST" and parts == ["meters"]:
            return self._create_meter(body)
        if method == "GET" and parts == ["interval-data"]:
            return self._interval_data(query)
        return 404, {"message": f"Cannot {method} {path}"}, {}

    def _expanded(self, obj: dict | None) -> dict | None:
        """The object with its customer as a full object, as the API shows it."""
        if obj is None:
            return None
        customer = self.customers.get(obj.get("customer"))
        return {**obj, "customer": customer} if customer else dict(obj)

    @staticmethod
    def _found(obj: dict | None):
        if obj is None:
            return 404, {"message": "Not found"}, {}
        return 200, obj, {}

    def _create_meter(self, body: Any):
        # As Openvolt's published description: data_source is required, from a fixed list.
        if not isinstance(body, dict) or not all(
            isinstance(body.get(field), str)
            for field in ("meter_number", "customer_id", "hosted_consent_id", "data_source")
        ):
            return 400, {"message": "meter_number, customer_id, data_source needed"}, {}
        if body["data_source"] not in ("electralink", "dcc", "anexo", "edsn", "joulz"):
            return 400, {"message": f"data_source {body['data_source']!r} is not allowed"}, {}
        meter_id = f"{next(_ids):024x}"
        meter = self.add_meter(
            meter_id,
            customer_id=body["customer_id"],
            meter_number=body["meter_number"],
            hosted_consent=body["hosted_consent_id"],
            valid=False,
            status="pending",
        )
        return 201, meter, {}

    def _interval_data(self, query: dict[str, str]):
        meter = self.meters.get(query.get("meter_id", ""))
        if meter is None:
            return 404, {"message": "Meter not found"}, {}
        try:
            start, end = parse_iso(query["start_date"]), parse_iso(query["end_date"])
        except (KeyError, ValueError):
            return 400, {"message": "start_date and end_date must be ISO 8601"}, {}
        if query.get("granularity") != "hh":
            return 400, {"message": "this fake serves granularity=hh only"}, {}
        rows = []
        moment = start
        while moment <= end:  # like the real API: the interval AT end_date is included
            rows.append(
                {
                    "start_interval": iso(moment),
                    "meter_id": meter["_id"],
                    "meter_number": meter["meter_number"],
                    "customer_id": meter["customer"],
                    "consumption": str(self.consumption(meter["_id"], moment)),
                    "consumption_units": "kWh",
                }
            )
            moment += HALF_HOUR
        document = {
            "startInterval": query["start_date"],
            "endInterval": query["end_date"],
            "granularity": "hh",
            "data": rows,
        }
        return 200, document, {}

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        url = urlsplit(http.path)
        length = int(http.headers.get("content-length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = url.path.removeprefix(BASE_PATH) if url.path.startswith(BASE_PATH + "/") else None
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        api_key = http.headers.get("x-api-key")
        with self._lock:
            self.requests.append(
                LoggedRequest(
                    http.command, path or url.path, query, api_key, body, time.monotonic()
                )
            )
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            self._serve(http, path, query, api_key, body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _serve(self, http, path: str | None, query: dict, api_key: str | None, body: Any) -> None:
        if path is None:
            return _send(http, 404, {"message": "Not under /v1"})
        if api_key != self.api_key:
            return _send(http, 401, {"message": "Invalid API key"})
        fault = self._fault_for(path)
        if fault is not None and fault.status is None:
            self.hanging.set()
            self._released.wait(HANG_LIMIT_SECONDS)
        elif fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return _send(http, fault.status, {"message": "Injected failure"}, headers)
        status, document, headers = self._answer(http.command, path, query, body)
        _send(http, status, document, headers)


def _send(http: BaseHTTPRequestHandler, status: int, document: Any, headers=None) -> None:
    payload = json.dumps(document).encode()
    try:
        http.send_response(status)
        http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            http.send_header(name, value)
        http.end_headers()
        http.wfile.write(payload)
    except OSError:
        pass  # the caller went away (a killed worker, a client timeout)


def _handler_class(fake: FakeOpenvolt) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            fake._handle(self)

        do_POST = do_GET

        def log_message(self, format, *args):
            pass

    return Handler
