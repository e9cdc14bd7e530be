"""Nectar: events delivered by Svix, signed as Standard Webhooks describes.

The signature is an HMAC-SHA256, keyed with the base64 part of a `whsec_…` secret, over
`<message id>.<timestamp>.<raw body>`; the header holds one or more space-separated
`v1,<base64>` entries. Svix names the headers `svix-*`, Standard Webhooks `webhook-*`.
"""

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings

from common.moments import parse_timestamp
from events.models import EndpointSecret, WebhookEndpoint
from events.sources.base import (
    Envelope,
    InvalidEnvelope,
    InvalidSignature,
    require_str,
)

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
HEADER_PREFIXES = ("svix-", "webhook-")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_…` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def secret_readable(secret: str | None) -> bool:
    """Whether a stored secret holds a key to check signatures with. One that does not (not
    base64, stored by hand or damaged; None: it cannot be decrypted) verifies nothing, and
    raises an alert (console/alerts)."""
    if secret is None:
        return False
    try:
        # An empty key would accept a signature anyone can compute.
        return len(secret_key(secret)) > 0
    except (binascii.Error, ValueError):
        return False


def is_valid_secret(secret: str) -> bool:
    try:
        return secret.startswith(SECRET_PREFIX) and len(secret_key(secret)) >= 16
    except (binascii.Error, ValueError):
        return False


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    """Message id, timestamp and signatures, from whichever family of headers is complete."""
    for prefix in HEADER_PREFIXES:
        values = [headers.get(prefix + name, "") for name in ("id", "timestamp", "signature")]
        if all(values):
            return values[0], values[1], values[2]
    raise InvalidSignature(
        "Missing signature headers: send svix-id, svix-timestamp and svix-signature "
        "(or webhook-id, webhook-timestamp and webhook-signature)."
    )


def verify(
    secrets: Iterable[str | None],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> str:
    """Return the verified message id, or raise InvalidSignature. A secret that cannot be
    decrypted is None (EndpointSecret.secret)."""
    message_id, timestamp_text, signature_header = signature_headers(headers)
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise InvalidSignature("The timestamp header is not a number of seconds.") from None
    tolerance = settings.WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS
    now = time.time() if now is None else now
    if timestamp < now - tolerance:
        raise InvalidSignature("The timestamp is too old (more than 5 minutes).")
    if timestamp > now + tolerance:
        raise InvalidSignature("The timestamp is in the future (more than 5 minutes).")

    offered = [
        entry.partition(",")[2].encode()
        for entry in signature_header.split()
        if entry.startswith("v1,")
    ]
    for secret in secrets:
        if not secret_readable(secret):
            # The endpoint's other secrets still may verify. Logged without the secret.
            logger.error(
                "A signing secret of this endpoint cannot be %s; it was skipped.",
                "decrypted with SECRETS_ENCRYPTION_KEY" if secret is None else "read",
            )
            continue
        expected = sign(secret, message_id, timestamp, body).encode()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return message_id
    raise InvalidSignature("No signature matches this endpoint's secret.")


class NectarSource:
    def authenticate(self, endpoint: WebhookEndpoint, headers: Mapping[str, str], body: bytes):
        secrets = EndpointSecret.objects.filter(endpoint=endpoint).active()
        verify([s.secret for s in secrets], headers, body)

    def read_envelope(
        self, endpoint: WebhookEndpoint, headers: Mapping[str, str], document: Any
    ) -> Envelope:
        if not isinstance(document, dict):
            raise InvalidEnvelope("The body must be a JSON object (a Nectar event).")
        event_type = require_str(document, "eventType", max_length=100)
        message_id, _, _ = signature_headers(headers)
        if len(message_id) > 255:
            raise InvalidEnvelope("The message id header is longer than 255 characters.")
        return Envelope(
            external_id=message_id,
            event_type=event_type,
            occurred_at=parse_timestamp(document.get("updated") or document.get("created")),
        )

    def rejected_external_id(self, headers: Mapping[str, str], body: bytes) -> str:
        # The message id is signed, and Svix reuses it on every retry.
        message_id = signature_headers(headers)[0]
        if len(message_id) > 255:
            return "long-id:" + hashlib.sha256(message_id.encode()).hexdigest()
        return message_id
