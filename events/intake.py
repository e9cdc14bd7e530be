"""The way in: verify a webhook request, store it with its processing job, say what happened.

Nothing is processed here. A delivery is committed together with its job before the sender
hears 2xx, so an acknowledged delivery is never lost; the worker does the rest.
"""

import hashlib
import logging
import traceback
import uuid
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from procrastinate.exceptions import ConnectorException
from psycopg.types.json import Jsonb

from common.metrics import delivery_received_count
from common.prepared import prepared_cursor
from events.dispatch import source_for
from events.endpoint_cache import enabled_endpoint
from events.json_body import parse_json
from events.metric_labels import event_type_label
from events.models import Delivery, DeliveryReceipt, WebhookEndpoint
from events.receipts import DELIVERY_JOB, STORE_ARRIVAL
from events.redaction import redact_document, redact_headers
from events.sources.base import Envelope, InvalidEnvelope, Refused, WebhookSource
from events.storable import body_as_text, is_ip_address, storable
from events.subjects import subjects_of

logger = logging.getLogger(__name__)

JSON_MEDIA_TYPES = ("application/json",)
# The database (or the job queue in it) cannot be reached now; the same request may well be
# stored later, so the sender is asked to retry rather than told its delivery is bad.
UNAVAILABLE = (OperationalError, InterfaceError, ConnectorException)
EXTERNAL_ID_LENGTH = Delivery._meta.get_field("external_id").max_length


class IntakeError(Exception):
    """A request answered with an error before anything is stored."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class NotStored(Exception):
    """An authenticated delivery could not be stored even as rejected: the sender retries."""


@dataclass(frozen=True)
class IntakeResult:
    delivery_id: int
    duplicate: bool
    # Set when the body was stored as rejected: the sender is told why with a 400.
    rejection: str = ""


def endpoint_for_delivery(*, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """The enabled endpoint at this address. One answer for an address that was never an
    endpoint's and for a disabled one: a caller cannot tell which addresses exist."""
    endpoint = enabled_endpoint(endpoint_id)
    if endpoint is None:
        raise IntakeError(404, "unknown_endpoint", "No webhook endpoint has this address.")
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

    `headers` must have lower-case names. Raises IntakeError for what is not stored, and
    UNAVAILABLE errors or NotStored when the sender should retry.
    """
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if len(body) > limit:
        raise IntakeError(413, "payload_too_large", f"The body is over {limit} bytes.")
    source = source_for(endpoint.source)
    try:
        source.authenticate(endpoint, headers, body)
    except Refused as refused:
        raise IntakeError(refused.status, refused.code, refused.detail) from refused
    arrival = {
        "endpoint": endpoint,
        "body": body,
        # Of the bytes as they came, before any parsing or redaction: what the sender sent.
        "body_sha256": hashlib.sha256(body).digest(),
        "headers": headers,
        "remote_addr": remote_addr,
    }
    try:
        return _read_and_store(source, **arrival)
    except (IntakeError, *UNAVAILABLE):
        raise
    except Exception as error:
        # A fault of Switchboard's own must not cost a real sender its delivery, nor answer
        # 500: the delivery is kept as rejected, for staff to see and reprocess once fixed.
        return _store_unexpected(source, error, **arrival)


def _read_and_store(
    source: WebhookSource,
    *,
    endpoint: WebhookEndpoint,
    body: bytes,
    body_sha256: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
) -> IntakeResult:
    document = None
    try:
        document = parse_json(body)
        envelope = source.read_envelope(endpoint, headers, document)
    except InvalidEnvelope as invalid:
        return _store_rejected(
            endpoint=endpoint,
            external_id=source.rejected_external_id(headers, body),
            document=document,
            body=body,
            body_sha256=body_sha256,
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
        body_sha256=body_sha256,
        headers=headers,
        remote_addr=remote_addr,
    )


def _store(
    *,
    endpoint: WebhookEndpoint,
    envelope: Envelope,
    document: Any,
    body_sha256: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
) -> IntakeResult:
    payload = redact_document(document)
    return _upsert(
        endpoint=endpoint,
        external_id=envelope.external_id,
        event_type=envelope.event_type,
        status=Delivery.Status.PENDING,
        occurred_at=envelope.occurred_at,
        payload=payload,
        subjects=subjects_of(payload),
        body_sha256=body_sha256,
        headers=headers,
        remote_addr=remote_addr,
    )


def _store_rejected(
    *,
    endpoint: WebhookEndpoint,
    external_id: str,
    document: Any,
    body: bytes,
    body_sha256: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    reason: str,
) -> IntakeResult:
    """Store a body the source cannot read: as JSON when it parsed, else as text."""
    unparsed = ""
    if document is None:
        unparsed = body_as_text(body)
    else:
        document = redact_document(document)
    return _upsert(
        endpoint=endpoint,
        external_id=external_id,
        event_type=_guess_event_type(document),
        status=Delivery.Status.REJECTED,
        payload=document,
        subjects=subjects_of(document),
        unparsed_body=unparsed,
        error=reason,
        body_sha256=body_sha256,
        headers=headers,
        remote_addr=remote_addr,
    )


def _store_unexpected(
    source: WebhookSource,
    error: Exception,
    *,
    endpoint: WebhookEndpoint,
    body: bytes,
    body_sha256: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
) -> IntakeResult:
    """Store as rejected a delivery that failed in an unforeseen way, keeping only what
    cannot fail the same way again: no payload, subjects or event type; the body as text."""

    def scrubbed(lines: list[str]) -> str:
        # An Openvolt endpoint's id is its credential, and a database error may quote it.
        text = "".join(lines)
        return text.replace(str(endpoint.pk), "<endpoint>").replace(endpoint.pk.hex, "<endpoint>")

    logger.error(
        "A %s delivery could not be taken in; it is stored as rejected.\n%s",
        endpoint.source,
        scrubbed(traceback.format_exception(error)),
    )
    reason = scrubbed(traceback.format_exception_only(error)).strip()[:500]
    try:
        return _upsert(
            endpoint=endpoint,
            external_id=_fallback_external_id(source, headers, body, body_sha256),
            event_type="",
            status=Delivery.Status.REJECTED,
            payload=None,
            subjects=[],
            unparsed_body=body_as_text(body),
            error=storable(f"Switchboard could not take this delivery in: {reason}"),
            body_sha256=body_sha256,
            headers=headers,
            remote_addr=remote_addr if is_ip_address(remote_addr) else None,
        )
    except Exception as failure:
        logger.error(
            "Not even the rejected %s delivery could be stored (%s); the sender will retry.",
            endpoint.source,
            scrubbed(traceback.format_exception_only(failure)).strip(),
        )
        raise NotStored from failure


def _fallback_external_id(
    source: WebhookSource, headers: Mapping[str, str], body: bytes, body_sha256: bytes
) -> str:
    try:
        external_id = storable(source.rejected_external_id(headers, body))
    except Exception:
        external_id = ""
    if 0 < len(external_id) <= EXTERNAL_ID_LENGTH:
        return external_id
    return "invalid-body:" + body_sha256.hex()


def _upsert(
    *,
    endpoint: WebhookEndpoint,
    external_id: str,
    event_type: str,
    status: str,
    payload: Any,
    subjects: list[str],
    body_sha256: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    occurred_at=None,
    unparsed_body: str = "",
    error: str = "",
) -> IntakeResult:
    """Store one arrival: the delivery if it is new (with its job), and a receipt either way,
    in one statement (events/receipts.py), committed on its own. Inside a caller's
    transaction it runs in a savepoint: failing, it must not abort the caller's work, nor
    keep the rejected-delivery fallback from storing the arrival."""
    in_savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with in_savepoint, prepared_cursor() as cursor:
        cursor.execute(
            STORE_ARRIVAL,
            {
                "endpoint_id": endpoint.pk,
                "source": endpoint.source,
                "external_id": external_id,
                "event_type": event_type,
                "status": status,
                "occurred_at": occurred_at,
                "payload": None if payload is None else Jsonb(payload),
                "unparsed_body": unparsed_body,
                "error": error,
                "subjects": subjects,
                "body_sha256": body_sha256,
                "remote_addr": remote_addr or None,
                # Names and values as the server passed them: odd bytes must not lose a delivery.
                "headers": Jsonb(
                    redact_headers({storable(k): storable(v) for k, v in headers.items()})
                ),
                **DELIVERY_JOB,
            },
        )
        delivery_id, created, verdict, _ = cursor.fetchone()
    rejection = ""
    if verdict == DeliveryReceipt.Verdict.REJECTED:
        # A retry of a body already refused is still refused, and still recorded.
        rejection = error or "This delivery was rejected when it first arrived."
    if verdict == DeliveryReceipt.Verdict.CONFLICT:
        logger.warning(
            "Delivery %s arrived again with a different body: recorded as a conflict, "
            "the stored body kept.",
            delivery_id,
        )
    try:
        delivery_received_count(
            source=endpoint.source, event_type=event_type_label(event_type), verdict=verdict
        )
    except Exception:
        # Committed and about to be acknowledged: a count lost must not change the answer.
        logger.exception("A received delivery could not be counted in the metrics")
    return IntakeResult(delivery_id=delivery_id, duplicate=not created, rejection=rejection)


def _guess_event_type(document: Any) -> str:
    """The event type a rejected body claims, if any, for filtering in the admin."""
    if isinstance(document, dict):
        for field in ("event_id", "eventType"):
            if isinstance(document.get(field), str):
                return document[field][:100]
    return ""
