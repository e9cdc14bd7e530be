"""What every webhook source gives the intake: a way to authenticate and to read an envelope."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from events.models import WebhookEndpoint


@dataclass(frozen=True)
class Envelope:
    """The parts of a delivery the intake needs, read from a valid body."""

    external_id: str
    event_type: str
    occurred_at: datetime | None


class Refused(Exception):
    """The sender could not be trusted: answer with an error and store nothing."""

    status = 401
    code = "invalid_signature"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class InvalidSignature(Refused):
    status = 401
    code = "invalid_signature"


class SubscriptionMismatch(Refused):
    status = 403
    code = "subscription_mismatch"


class InvalidEnvelope(Exception):
    """An authenticated body the source cannot read: stored as rejected, answered 400."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class WebhookSource(Protocol):
    def authenticate(
        self, endpoint: WebhookEndpoint, headers: Mapping[str, str], body: bytes
    ) -> None:
        """Raise `Refused` unless the request comes from the platform itself."""

    def read_envelope(
        self, endpoint: WebhookEndpoint, headers: Mapping[str, str], document: Any
    ) -> Envelope:
        """Raise `InvalidEnvelope` (or `Refused`) unless `document` is a well-formed event."""

    def rejected_external_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The id a rejected body is stored under, so that its retries are recognised."""


def require_str(document: Mapping[str, Any], field: str, *, max_length: int = 255) -> str:
    value = document.get(field)
    if field not in document:
        raise InvalidEnvelope(f"'{field}' is missing.")
    if not isinstance(value, str) or not value.strip():
        raise InvalidEnvelope(f"'{field}' must be a non-empty string.")
    if len(value) > max_length:
        raise InvalidEnvelope(f"'{field}' is longer than {max_length} characters.")
    return value
