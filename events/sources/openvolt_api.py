"""A small client of Openvolt's REST API (CONTRACT.md section 6).

Openvolt publishes no SDK. This client sends the `x-api-key`, gives every call a timeout,
keeps every call within the budget all workers share (openvolt_budget.py: calls in flight,
calls a second, a 429 pausing everyone), retries 429s, 5xx answers and connection errors,
refuses ids that are not Openvolt's before any call and quotes them, and reads the answers
tolerantly: top-level keys in camelCase or snake_case, consumption as a string or a
number, `kWh` in any case.
"""

import contextlib
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from common.metrics import openvolt_request_observe
from common.moments import parse_timestamp
from events.sources.openvolt_budget import (
    openvolt_call_slot,
    openvolt_calls_pause,
    openvolt_key_refused_record,
)

logger = logging.getLogger(__name__)

HALF_HOUR = timedelta(minutes=30)
# At most 31 days of half-hours per call; longer ranges are fetched in chunks.
MAX_RANGE = timedelta(days=31)
RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


class OpenvoltError(Exception):
    """A call to Openvolt failed; the message says which and why."""


class OpenvoltNotConfigured(OpenvoltError):
    pass


class OpenvoltNotFound(OpenvoltError):
    pass


class OpenvoltConflict(OpenvoltError):
    """Openvolt already has what the call would create."""


class OpenvoltKeyRefused(OpenvoltError):
    """Openvolt refused the API key (401 or 403)."""


class NotAnOpenvoltId(OpenvoltError, ValueError):
    """A value put where an Openvolt id goes is not one: refused before any call."""


# Openvolt's ids: 24 letters or digits (live ones are hex; the documents' examples are not).
OPENVOLT_ID = re.compile(r"[A-Za-z0-9]{24}")


# What an HTTP header can carry as it is: visible ASCII characters, nothing between them.
_SENDABLE_KEY = re.compile(r"[!-~]+")


def api_key_problem(api_key: str) -> str:
    """Why the key (leading and trailing whitespace aside) cannot be sent as `x-api-key`, in
    words that never quote it; '' when it can, or when there is none (that is said apart)."""
    key = api_key.strip()
    if not key or _SENDABLE_KEY.fullmatch(key):
        return ""
    if any(character.isspace() for character in key):
        return "OPENVOLT_API_KEY has whitespace inside it (was it pasted across two lines?)."
    return "OPENVOLT_API_KEY has characters an HTTP header cannot carry (only visible ASCII)."


def is_openvolt_id(value: object) -> bool:
    return isinstance(value, str) and OPENVOLT_ID.fullmatch(value) is not None


def openvolt_id_checked(value: object, *, what: str) -> str:
    if not is_openvolt_id(value):
        raise NotAnOpenvoltId(f"{value!r} is not an Openvolt {what} id (24 letters or digits).")
    return value


def data_source_for(*, flow_type: str) -> str:
    """The `data_source` of a meter created for a consent of this flow type: the DCC for
    residential meters, Electralink for commercial ones, else OPENVOLT_DEFAULT_DATA_SOURCE."""
    if flow_type.startswith("gb.residential."):
        return "dcc"
    if flow_type.startswith("gb.commercial."):
        return "electralink"
    return settings.OPENVOLT_DEFAULT_DATA_SOURCE


@dataclass(frozen=True)
class Interval:
    start: datetime
    consumption_kwh: Decimal


class OpenvoltClient:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 20.0,
        attempts: int = 4,
        backoff: float | None = None,
        max_wait: float = 30.0,
    ):
        self.base_url = (base_url or settings.OPENVOLT_API_URL).rstrip("/")
        # Stripped: a key pasted with a newline would be an illegal header value for httpx.
        self.api_key = (settings.OPENVOLT_API_KEY if api_key is None else api_key).strip()
        self.timeout = timeout
        self.attempts = attempts
        # Seconds before the first retry, doubled for each next one (1 s unless configured).
        self.backoff = settings.OPENVOLT_API_BACKOFF_SECONDS if backoff is None else backoff
        self.max_wait = max_wait

    # Resources

    def meter(self, meter_id: str) -> dict[str, Any]:
        return self._object("GET", _path("/meters", meter_id, what="meter"))

    def customer(self, customer_id: str) -> dict[str, Any]:
        return self._object("GET", _path("/customers", customer_id, what="customer"))

    def hosted_consent(self, consent_id: str) -> dict[str, Any]:
        return self._object("GET", _path("/hosted-consents", consent_id, what="hosted consent"))

    def create_meter(
        self, *, meter_number: str, customer_id: str, hosted_consent_id: str, data_source: str
    ) -> dict[str, Any]:
        return self._object(
            "POST",
            "/meters",
            json={
                "meter_number": meter_number,
                "customer_id": openvolt_id_checked(customer_id, what="customer"),
                "hosted_consent_id": openvolt_id_checked(hosted_consent_id, what="consent"),
                "data_source": data_source,
            },
        )

    def interval_data(self, meter_id: str, start: datetime, end: datetime) -> list[Interval]:
        """Half-hourly consumption with `start <= interval start < end`, in order."""
        openvolt_id_checked(meter_id, what="meter")
        by_start: dict[datetime, Interval] = {}
        for chunk_start, chunk_end in _chunks(start, end):
            answer = self._object(
                "GET",
                "/interval-data",
                params={
                    "meter_id": meter_id,
                    "start_date": openvolt_timestamp(chunk_start),
                    "end_date": openvolt_timestamp(chunk_end),
                    "granularity": "hh",
                },
            )
            for interval in _intervals(answer):
                # The API also returns the interval starting at end_date: keep the range only.
                if chunk_start <= interval.start < chunk_end:
                    by_start[interval.start] = interval
        return [by_start[key] for key in sorted(by_start)]

    # Transport

    def _object(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        response = self._request(method, path, **kwargs)
        try:
            document = response.json()
        except ValueError:
            raise OpenvoltError(f"{method} {path}: the answer is not JSON.") from None
        if not isinstance(document, dict):
            raise OpenvoltError(f"{method} {path}: expected a JSON object.")
        return document

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        if not self.api_key:
            raise OpenvoltNotConfigured(
                "OPENVOLT_API_KEY is not set: Switchboard cannot call Openvolt's API."
            )
        # Refused here, not by httpx, whose error would quote the header's value.
        if problem := api_key_problem(self.api_key):
            raise OpenvoltNotConfigured(problem)
        headers = {"x-api-key": self.api_key, "accept": "application/json"}
        url = self.base_url + path
        # A POST that timed out or got a 5xx may still have been carried out: repeating it could
        # create a second meter. Only a refused connection or a 429 prove it was not.
        idempotent = method == "GET"
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            failure = None
            try:
                with openvolt_call_slot() as ticket:
                    started = time.monotonic()
                    try:
                        response = httpx.request(
                            method, url, headers=headers, timeout=self.timeout, **kwargs
                        )
                    finally:
                        elapsed = time.monotonic() - started
                status = response.status_code
                openvolt_request_observe(status=status, seconds=elapsed)
            except httpx.RequestError as error:
                openvolt_request_observe(status=None, seconds=elapsed)
                retryable = isinstance(error, httpx.TransportError) and (
                    idempotent or isinstance(error, httpx.ConnectError)
                )
                if retryable and not last:
                    self._wait(attempt)
                    continue
                # The class only, never the text: an error of httpx (or of a proxy) may quote
                # the request, its x-api-key included.
                failure = OpenvoltError(f"{method} {path}: {type(error).__name__}.")
            if failure is not None:
                # Raised out here, so that it does not chain the error: a delivery's traceback
                # (and Sentry) would print it whole.
                raise failure
            if ticket.key_refused and status not in (401, 403):
                openvolt_key_refused_record(status=None)
            if status == 429:
                # Every worker waits, not only this one: the limit is the account's.
                openvolt_calls_pause(seconds=self._retry_after(response, attempt))
                if not last:
                    continue
            elif not last and status in RETRYABLE_STATUSES and idempotent:
                self._wait(attempt, response.headers.get("retry-after"))
                continue
            return self._checked(method, path, response)
        raise AssertionError("unreachable")

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        """Seconds a 429 asks for (an HTTP date is not worth parsing: the backoff then)."""
        with contextlib.suppress(TypeError, ValueError):
            return min(max(float(response.headers.get("retry-after")), 0), self.max_wait)
        return min(self.backoff * 2 ** (attempt - 1), self.max_wait)

    def _wait(self, attempt: int, retry_after: str | None = None) -> None:
        seconds = self.backoff * 2 ** (attempt - 1)
        if retry_after:
            # Seconds; an HTTP date is not worth parsing here: keep the backoff.
            with contextlib.suppress(ValueError):
                seconds = float(retry_after)
        time.sleep(min(max(seconds, 0), self.max_wait))

    @staticmethod
    def _checked(method: str, path: str, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status < 400:
            return response
        if status == 401 or status == 403:
            openvolt_key_refused_record(status=status)
            raise OpenvoltKeyRefused(
                f"{method} {path}: Openvolt refused the API key ({status}); "
                "check OPENVOLT_API_KEY (was it rotated?)."
            )
        if status == 404:
            raise OpenvoltNotFound(f"{method} {path}: Openvolt does not know this object (404).")
        if status == 409:
            raise OpenvoltConflict(f"{method} {path}: Openvolt already has it (409).")
        raise OpenvoltError(f"{method} {path}: Openvolt answered {status}.")


def _path(collection: str, object_id: str, *, what: str) -> str:
    """The path of one object: its id checked, then quoted (it never reaches another path)."""
    return f"{collection}/{quote(openvolt_id_checked(object_id, what=what), safe='')}"


def openvolt_timestamp(moment: datetime) -> str:
    """A moment as Openvolt writes one: UTC, milliseconds, `Z`."""
    # Converted first: the Z says UTC, and a moment given in another zone would shift.
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _chunks(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    while start < end:
        chunk_end = min(start + MAX_RANGE, end)
        yield start, chunk_end
        start = chunk_end


def _field(document: dict[str, Any], camel: str, snake: str) -> Any:
    return document[camel] if camel in document else document.get(snake)


def _intervals(answer: dict[str, Any]) -> Iterator[Interval]:
    rows = answer.get("data")
    if not isinstance(rows, list):
        raise OpenvoltError("GET /interval-data: the answer has no 'data' list.")
    for row in rows:
        if not isinstance(row, dict):
            raise OpenvoltError("GET /interval-data: a row of 'data' is not an object.")
        start = parse_timestamp(_field(row, "startInterval", "start_interval"))
        if start is None:
            raise OpenvoltError(f"GET /interval-data: a row has no valid start_interval: {row!r}")
        units = str(_field(row, "consumptionUnits", "consumption_units") or "kwh").lower()
        if units != "kwh":
            raise OpenvoltError(f"GET /interval-data: unexpected consumption units {units!r}.")
        yield Interval(start=start, consumption_kwh=_decimal(row.get("consumption")))


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise OpenvoltError(f"GET /interval-data: consumption {value!r} is not a number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise OpenvoltError(f"GET /interval-data: consumption {value!r} is not a number.") from None
    if not number.is_finite():
        raise OpenvoltError(f"GET /interval-data: consumption {value!r} is not a number.")
    return number
