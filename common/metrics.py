"""The per-process Prometheus metrics, and the functions that count into them.

Every process (gunicorn's, the workers') writes its own files in PROMETHEUS_MULTIPROC_DIR
(config/metrics_dir.py sets it before this module is imported); `/metrics` adds them up at
scrape time, with the counts that live in PostgreSQL (console/metrics.py). Labels stay
bounded: callers pass event types through `events.dispatch.event_type_label`, which names
any type without a handler `other`.

Call the functions, not the metric objects: they hold the label names in one place.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

OTHER = "other"

# Seconds: a handler's run takes from milliseconds (a customer) to minutes (13 months of
# half-hours fetched 31 days a call).
_PROCESSING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

DELIVERIES_RECEIVED = Counter(
    "switchboard_deliveries_received",
    "HTTP arrivals of deliveries stored by the intake, by verdict.",
    ["source", "event_type", "verdict"],
)
PROCESSING_SECONDS = Histogram(
    "switchboard_processing_seconds",
    "Time a worker took to run a delivery through its handler.",
    ["source", "event_type"],
    buckets=_PROCESSING_BUCKETS,
)
OPENVOLT_REQUESTS = Counter(
    "switchboard_openvolt_requests",
    "Calls to Openvolt's API, by HTTP status (`error` when no answer came).",
    ["status"],
)
OPENVOLT_REQUEST_SECONDS = Histogram(
    "switchboard_openvolt_request_seconds",
    "Time a call to Openvolt's API took, answered or not.",
    buckets=_REQUEST_BUCKETS,
)
EMAILS = Counter(
    "switchboard_emails",
    "E-mails Switchboard tried to send (subscriptions and alerts), by outcome.",
    ["outcome"],
)


def label_bounded(value: str, *, known) -> str:
    """`value` when it is one of `known`, else `other`: a label never grows without bound."""
    return value if value in known else OTHER


def delivery_received_count(*, source: str, event_type: str, verdict: str) -> None:
    DELIVERIES_RECEIVED.labels(source=source, event_type=event_type, verdict=verdict).inc()


def processing_seconds_observe(*, source: str, event_type: str, seconds: float) -> None:
    PROCESSING_SECONDS.labels(source=source, event_type=event_type).observe(seconds)


@contextmanager
def processing_timer(*, source: str, event_type: str) -> Iterator[None]:
    """Times the block into switchboard_processing_seconds, whether it raises or not."""
    started = time.perf_counter()
    try:
        yield
    finally:
        processing_seconds_observe(
            source=source, event_type=event_type, seconds=time.perf_counter() - started
        )


def openvolt_request_observe(*, status: int | None, seconds: float) -> None:
    """One call to Openvolt: its HTTP status, or None when no answer came (timeout,
    connection refused)."""
    label = str(status) if status is not None and 100 <= status <= 599 else "error"
    OPENVOLT_REQUESTS.labels(status=label).inc()
    OPENVOLT_REQUEST_SECONDS.observe(seconds)


def email_count(*, outcome: str, count: int = 1) -> None:
    """`outcome` is `sent` or `failed`."""
    if count:
        EMAILS.labels(outcome=outcome).inc(count)
