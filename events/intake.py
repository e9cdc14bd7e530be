"""The way in: verify a webhook request, store it with its processing job, say what happened.

Nothing is processed here. A delivery is committed together with its job before the sender
hears 2xx, so an acknowledged delivery is never lost; the worker does the rest.
"""

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from psycopg.types.json import Jsonb

from common.metrics import delivery_received_count
from events.dispatch import source_for
from events.metric_labels import event_type_label
from events.models import Delivery, DeliveryReceipt, WebhookEndpoint
from events.redaction import redact_document, redact_headers, redact_text
from events.sources.base import Envelope, InvalidEnvelope, Refused
from events.subjects import subjects_of
from events.tasks import delivery_run_queue

JSON_MEDIA_TYPES = ("application/json",)


class IntakeError(Exception):
    """A request answered with an error before anything is stored."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class IntakeResult:
    delivery_id: int
    duplicate: bool
    # Set when the body was stored as rejected: the sender is told why with a 400.
    rejection: str = ""


def endpoint_for_delivery(*, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    try:
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise IntakeError(
            404, "unknown_endpoint", "No webhook endpoint has this address."
        ) from None
    if not endpoint.enabled:
        raise IntakeError(404, "unknown_endpoint", "This webhook endpoint is disabled.")
    return endpoint


def request_shape_check(*, content_type: str, content_length: int | None) -> None:
    """Refuse what is too big or not JSON before the body is read."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if content_length is not None and content_length > limit:
        raise IntakeError(413, "payload_too_large", f"The body is over {limit} bytes.")
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip().lower()
    if media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        raise IntakeError(415, "unsupported_media_type", "Send the body as application/json.")
    charset = dict(
        part.strip().lower().split("=", 1) for part in parameters.split(";") if "=" in part
    ).get("charset", "utf-8")
    if charset.strip('"') not in ("utf-8", "utf8"):
        raise IntakeError(415, "unsupported_media_type", "Send the body as UTF-8 JSON.")


def webhook_receive(
    *,
    endpoint: WebhookEndpoint,
    body: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
) -> IntakeResult:
    """Authenticate, read and store one HTTP arrival of a delivery.

    `headers` must have lower-case names. Raises IntakeError for what is not stored.
    """
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if len(body) > limit:
        raise IntakeError(413, "payload_too_large", f"The body is over {limit} bytes.")
    source = source_for(endpoint.source)
    document = None
    try:
        source.authenticate(endpoint, headers, body)
        try:
            document = _parse_json(body)
            envelope = source.read_envelope(endpoint, headers, document)
        except InvalidEnvelope as invalid:
            return _store_rejected(
                endpoint=endpoint,
                external_id=source.rejected_external_id(headers, body),
                document=document,
                body=body,
                headers=headers,
                remote_addr=remote_addr,
                reason=invalid.detail,
            )
    except Refused as refused:
        raise IntakeError(refused.status, refused.code, refused.detail) from refused
    return _store(
        endpoint=endpoint,
        envelope=envelope,
        document=document,
        headers=headers,
        remote_addr=remote_addr,
    )


def _parse_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidEnvelope(
            f"The body is not UTF-8 ({error.reason} at byte {error.start})."
        ) from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise InvalidEnvelope(f"The body is not JSON: {error}.") from None
    except ValueError as error:  # NaN, Infinity, or a number Python will not read
        raise InvalidEnvelope(f"The body holds a number that cannot be stored: {error}.") from None
    except RecursionError:
        raise InvalidEnvelope(_TOO_DEEP) from None
    if _deeper_than(document, MAX_JSON_DEPTH):
        raise InvalidEnvelope(_TOO_DEEP)
    # PostgreSQL's jsonb refuses NUL characters and lone surrogates; JSON allows both.
    if "\\u0000" in text:
        raise InvalidEnvelope("The body contains a \\u0000 character, which cannot be stored.")
    if "\\ud" in text.lower():
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEnvelope("The body contains an unpaired UTF-16 surrogate.") from None
    return document


# Deeper documents are refused: redacting and storing one recurses through it.
MAX_JSON_DEPTH = 100
_TOO_DEEP = f"The body is nested more than {MAX_JSON_DEPTH} levels deep."


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError("a number is too large")
    return number


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels, counted without recursion."""
    level = [document]
    for _ in range(limit):
        level = [
            child
            for value in level
            if isinstance(value, dict | list)
            for child in (value.values() if isinstance(value, dict) else value)
        ]
        if not level:
            return False
    return any(isinstance(value, dict | list) for value in level)


# One statement stores the delivery or counts one more receipt of it. ON CONFLICT decides
# between simultaneous arrivals inside PostgreSQL: exactly one inserts (its receipt_count is 1),
# the others wait for it to commit and then count their receipt on its row.
_UPSERT_DELIVERY = f"""
    INSERT INTO {Delivery._meta.db_table} AS delivery (
        endpoint_id, source, external_id, event_type, status, occurred_at, payload,
        unparsed_body, error, subjects, error_traceback, summary, links, warnings,
        receipt_count, attempt_count, consecutive_failures
    )
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '', '', '[]', '[]', 1, 0, 0)
    ON CONFLICT (endpoint_id, external_id) DO UPDATE
        SET receipt_count = delivery.receipt_count + 1,
            last_received_at = statement_timestamp()
    RETURNING id, status, receipt_count = 1
"""
_INSERT_RECEIPT = f"""
    INSERT INTO {DeliveryReceipt._meta.db_table}
        (delivery_id, received_at, remote_addr, headers, verdict, response_status)
    VALUES (%s, statement_timestamp(), %s, %s, %s, %s)
"""
_ANSWER = {
    DeliveryReceipt.Verdict.ACCEPTED: 202,
    DeliveryReceipt.Verdict.DUPLICATE: 200,
    DeliveryReceipt.Verdict.REJECTED: 400,
}


def _store(
    *,
    endpoint: WebhookEndpoint,
    envelope: Envelope,
    document: Any,
    headers: Mapping[str, str],
    remote_addr: str | None,
) -> IntakeResult:
    return _upsert(
        endpoint=endpoint,
        external_id=envelope.external_id,
        event_type=envelope.event_type,
        status=Delivery.Status.PENDING,
        occurred_at=envelope.occurred_at,
        payload=redact_document(document),
        headers=headers,
        remote_addr=remote_addr,
    )


def _store_rejected(
    *,
    endpoint: WebhookEndpoint,
    external_id: str,
    document: Any,
    body: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    reason: str,
) -> IntakeResult:
    """Store a body the source cannot read: as JSON when it parsed, else as text."""
    unparsed = ""
    if document is None:
        text = body.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
        unparsed = redact_text(text)
    else:
        document = redact_document(document)
    return _upsert(
        endpoint=endpoint,
        external_id=external_id,
        event_type=_guess_event_type(document),
        status=Delivery.Status.REJECTED,
        payload=document,
        unparsed_body=unparsed,
        error=reason,
        headers=headers,
        remote_addr=remote_addr,
    )


def _upsert(
    *,
    endpoint: WebhookEndpoint,
    external_id: str,
    event_type: str,
    status: str,
    payload: Any,
    headers: Mapping[str, str],
    remote_addr: str | None,
    occurred_at=None,
    unparsed_body: str = "",
    error: str = "",
) -> IntakeResult:
    """Store one arrival: the delivery if it is new (with its job), and a receipt either way."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _UPSERT_DELIVERY,
            [
                endpoint.pk,
                endpoint.source,
                external_id,
                event_type,
                status,
                occurred_at,
                None if payload is None else Jsonb(payload),
                unparsed_body,
                error,
                subjects_of(payload),
            ],
        )
        delivery_id, stored_status, created = cursor.fetchone()
        rejection = ""
        if stored_status == Delivery.Status.REJECTED:
            # A retry of a body already refused is still refused, and still recorded.
            rejection = error or "This delivery was rejected when it first arrived."
            verdict = DeliveryReceipt.Verdict.REJECTED
        elif created:
            delivery_run_queue(delivery_id=delivery_id)
            verdict = DeliveryReceipt.Verdict.ACCEPTED
        else:
            verdict = DeliveryReceipt.Verdict.DUPLICATE
        cursor.execute(
            _INSERT_RECEIPT,
            [
                delivery_id,
                remote_addr or None,
                Jsonb(redact_headers(dict(headers))),
                verdict,
                _ANSWER[verdict],
            ],
        )
    delivery_received_count(
        source=endpoint.source, event_type=event_type_label(event_type), verdict=verdict
    )
    return IntakeResult(delivery_id=delivery_id, duplicate=not created, rejection=rejection)


def _guess_event_type(document: Any) -> str:
    """The event type a rejected body claims, if any, for filtering in the admin."""
    if isinstance(document, dict):
        for field in ("event_id", "eventType"):
            if isinstance(document.get(field), str):
                return document[field][:100]
    return ""
