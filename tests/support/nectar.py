"""Helpers of the Nectar suite: the fixtures under tests/fixtures/nectar/, and deliveries
posted through the real intake, signed as Svix signs them."""

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from events.models import Delivery
from tests.support.webhooks import nectar_headers, post_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nectar"

CONNECTION_TYPES = (
    "connection.created",
    "connection.updated",
    "connection.validated",
    "connection.created.v2",
    "connection.updated.v2",
    "connection.validated.v2",
)
# Document events that carry the document to mirror (deletion is tested on its own).
DOCUMENT_TYPES = ("document.created", "document.created.v2", "document.updated.v2")
ALL_TYPES = (*CONNECTION_TYPES, *DOCUMENT_TYPES, "document.deleted.v2")


def load(event_type: str) -> dict[str, Any]:
    """A fresh copy of the fixture of this event type: tests may change it."""
    return json.loads((FIXTURES / f"{event_type}.json").read_text())


def event_like(event_type: str, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load(event_type))
    event.update(changes)
    return event


def utc(text: str) -> datetime:
    """Nectar's zone-less timestamp (nanoseconds, or fewer digits, or none) as aware UTC,
    cut to the microseconds Python keeps. Written independently of the production parser."""
    seconds, _, fraction = text.partition(".")
    return datetime.fromisoformat(f"{seconds}.{(fraction + '000000')[:6]}").replace(tzinfo=UTC)


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def send(client, endpoint, event: dict[str, Any], *, message_id: str | None = None) -> Delivery:
    """POST the event to the endpoint, signed by the Standard Webhooks signer; 202 expected."""
    body = json.dumps(event).encode()
    headers = nectar_headers(endpoint.test_secret, body, message_id=message_id or new_message_id())
    response = post_json(client, endpoint, body, headers)
    assert response.status_code == 202, response.content
    assert response.json()["duplicate"] is False
    return Delivery.objects.get(pk=response.json()["delivery"])
