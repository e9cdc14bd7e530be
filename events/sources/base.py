"""What every webhook source gives the intake: a way to authenticate and to read an envelope."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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


class PayloadError(ValueError):
    """A stored event lacks what its handler needs, or holds a value it cannot read: the
    delivery fails with this message, which names the field."""


class WebhookSource(Protocol):
    event_types: tuple[str, ...]

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


def parse_timestamp(value: Any) -> datetime | None:
    """Read an ISO 8601 timestamp as the platforms write them; None when it is not one.

    Openvolt writes `2024-04-28T11:44:01.010Z`; Nectar writes nanoseconds and no zone
    (`2024-12-13T22:35:04.693456313`), which is UTC.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    date_part, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        # Python keeps microseconds: cut nanoseconds down to six digits.
        text = f"{date_part}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        # Stored in UTC: one whose UTC date is outside years 1-9999 could not be read back.
        moment.astimezone(UTC)
    except OverflowError:
        return None
    return moment
