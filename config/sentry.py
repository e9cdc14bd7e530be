"""Errors to Sentry, from the web processes and the workers alike (settings call `sentry_init`
when SENTRY_DSN is set).

Nothing reaches Sentry that Switchboard would not store: no personal data by default, bodies
and headers redacted as the intake redacts them (events/redaction.py), and no endpoint id,
which for Openvolt is the credential: not in a URL or a transaction name, nor in a message,
an exception's text or a breadcrumb (cut to its first 8 characters, as in the logs).
"""

import re
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from common.logs import endpoint_ids_masked
from events.redaction import redact_document, redact_headers, redact_text

_ENDPOINT_IN_PATH = re.compile(r"(/webhooks/)[0-9a-fA-F-]{32,36}")
ENDPOINT_PLACEHOLDER = r"\1<endpoint>"


def sentry_init(*, dsn: str, environment: str = "") -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        send_default_pii=False,
        # A frame's local variables may hold a payload before it was redacted.
        include_local_variables=False,
        integrations=[DjangoIntegration(), LoggingIntegration()],
        before_send=before_send,
        before_send_transaction=before_send,
        # Errors only: performance tracing is the metrics' job.
        traces_sample_rate=0.0,
    )


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event as Sentry will keep it: redacted as storage is."""
    request = event.get("request")
    if isinstance(request, dict):
        if isinstance(request.get("headers"), dict):
            request["headers"] = redact_headers(request["headers"])
        if "data" in request:
            data = request["data"]
            request["data"] = redact_text(data) if isinstance(data, str) else redact_document(data)
        for key in ("url", "query_string"):
            if isinstance(request.get(key), str):
                request[key] = _without_endpoint(request[key])
    if isinstance(event.get("transaction"), str):
        event["transaction"] = _without_endpoint(event["transaction"])
    for key in ("extra", "contexts"):
        if isinstance(event.get(key), dict):
            event[key] = redact_document(event[key])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        for key in ("message", "formatted"):
            if isinstance(logentry.get(key), str):
                logentry[key] = _without_endpoint(redact_text(logentry[key]))
        if isinstance(logentry.get("params"), list | tuple):
            logentry["params"] = [_text_without_endpoint(p) for p in logentry["params"]]
    for crumb in (event.get("breadcrumbs") or {}).get("values", []):
        if isinstance(crumb.get("message"), str):
            crumb["message"] = _without_endpoint(redact_text(crumb["message"]))
        if isinstance(crumb.get("data"), dict):
            crumb["data"] = {key: _text_without_endpoint(v) for key, v in crumb["data"].items()}
    # An exception's text may quote a path or a row of the database.
    for exception in (event.get("exception") or {}).get("values", []):
        if isinstance(exception.get("value"), str):
            exception["value"] = _without_endpoint(redact_text(exception["value"]))
    return event


def _without_endpoint(text: str) -> str:
    return endpoint_ids_masked(_ENDPOINT_IN_PATH.sub(ENDPOINT_PLACEHOLDER, text))


def _text_without_endpoint(value: Any) -> Any:
    return _without_endpoint(value) if isinstance(value, str) else value
