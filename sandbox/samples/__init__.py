"""Realistic sample deliveries of every event type, ready to POST (see send_test_event)."""

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from events.models import Source
from sandbox.samples import nectar, openvolt


@dataclass(frozen=True)
class Sample:
    event_type: str
    source: str
    # Openvolt's delivery_id, or Nectar's svix-id: what makes a retry a duplicate.
    delivery_id: str
    body: bytes
    headers: dict[str, str]


EVENT_SOURCES = {
    **dict.fromkeys(openvolt.PAYLOADS, Source.OPENVOLT),
    **dict.fromkeys(nectar.EVENTS, Source.NECTAR),
}


def source_of(event_type: str) -> str | None:
    return EVENT_SOURCES.get(event_type)


def build(
    event_type: str,
    *,
    delivery_id: str | None = None,
    subscription_id: str | None = None,
    secret: str | None = None,
    now: datetime | None = None,
) -> Sample:
    """A delivery of `event_type` as its platform would send it.

    Openvolt: the envelope carries `subscription_id` (the sandbox's own when None). Nectar:
    signed with `secret`, a `whsec_…` secret, as Svix signs.
    """
    now = now or datetime.now(UTC)
    source = source_of(event_type)
    headers = {"Content-Type": "application/json"}
    if source == Source.OPENVOLT:
        delivery_id = delivery_id or str(uuid.uuid4())
        document = openvolt.envelope(
            event_type,
            openvolt.PAYLOADS[event_type](now),
            delivery_id=delivery_id,
            subscription_id=subscription_id or openvolt.SANDBOX_SUBSCRIPTION_ID,
            now=now,
        )
        body = json.dumps(document).encode()
    elif source == Source.NECTAR:
        if not secret:
            raise ValueError("A Nectar sample is signed: give the endpoint's secret.")
        delivery_id = delivery_id or nectar.message_id()
        body = json.dumps(nectar.EVENTS[event_type](event_type, now)).encode()
        headers |= nectar.svix_headers(secret, delivery_id, body, int(time.time()))
    else:
        raise ValueError(f"No sample of {event_type!r}.")
    return Sample(
        event_type=event_type, source=source, delivery_id=delivery_id, body=body, headers=headers
    )
