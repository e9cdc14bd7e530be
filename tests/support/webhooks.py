"""Deliveries as the platforms send them: Openvolt envelopes, Nectar events signed as Svix
signs them, and the POST of either to an endpoint through Django's test client."""

import json
import time
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from events.models import Delivery


def openvolt_envelope(event_type="customer.created", delivery_id="delivery-1", **overrides):
    envelope = {
        "subscription_id": "0315r6h8-7b9c-4b2e-bf8d-1139196ty78i",
        "event_id": event_type,
        "event_timestamp": "2024-04-28T11:44:01.010Z",
        "delivery_id": delivery_id,
        "payload": {"id": "6627795d54dc5b0961a08ae5", "name": "Customer Name"},
    }
    envelope.update(overrides)
    return envelope


def nectar_event(event_type="connection.created.v2", **overrides):
    event = {
        "eventType": event_type,
        "id": "dcb91efe-d2a1-4ae8-a672-5d0412c81fce",
        "status": "active",
        "updated": "2024-12-13T22:35:04.693469135",
    }
    event.update(overrides)
    return event


def nectar_headers(secret, body: bytes, *, message_id="msg_1", timestamp=None, prefix="svix"):
    """Headers as Svix would send them, signed by the Standard Webhooks reference signer."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    signature = Webhook(secret).sign(
        message_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode()
    )
    return {
        f"{prefix}-id": message_id,
        f"{prefix}-timestamp": str(timestamp),
        f"{prefix}-signature": signature,
    }


def as_django_headers(headers):
    """Request headers as keyword arguments of Django's test client."""
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def post_json(client, endpoint, document, headers=None, content_type="application/json"):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.post(
        endpoint.path, data=body, content_type=content_type, **as_django_headers(headers or {})
    )


def body_of(document) -> bytes:
    return json.dumps(document).encode()


def post_signed(client, endpoint, body: bytes, **signing):
    """POST a body to a Nectar endpoint, signed with the endpoint's secret."""
    return post_json(client, endpoint, body, nectar_headers(endpoint.test_secret, body, **signing))


def delivery_of(response) -> Delivery:
    return Delivery.objects.get(pk=int(response.json()["delivery"]))
