"""Openvolt: unsigned JSON envelopes; the endpoint's unguessable path is the credential."""

import hashlib
from collections.abc import Mapping
from typing import Any

from common.moments import parse_timestamp
from events.models import WebhookEndpoint
from events.sources.base import (
    Envelope,
    InvalidEnvelope,
    SubscriptionMismatch,
    require_str,
)


class OpenvoltSource:
    def authenticate(self, endpoint: WebhookEndpoint, headers: Mapping[str, str], body: bytes):
        """Openvolt signs nothing: knowing the endpoint's path is the proof."""

    def read_envelope(
        self, endpoint: WebhookEndpoint, headers: Mapping[str, str], document: Any
    ) -> Envelope:
        if not isinstance(document, dict):
            raise InvalidEnvelope("The body must be a JSON object (an Openvolt envelope).")
        subscription_id = require_str(document, "subscription_id")
        bound = endpoint.openvolt_subscription_id
        if bound and subscription_id != bound:
            # The bound id is not echoed: a sender that does not know it should not learn it.
            raise SubscriptionMismatch("This endpoint does not accept this subscription.")
        event_type = require_str(document, "event_id", max_length=100)
        delivery_id = require_str(document, "delivery_id")
        occurred_at = parse_timestamp(require_str(document, "event_timestamp"))
        if occurred_at is None:
            raise InvalidEnvelope("'event_timestamp' must be an ISO 8601 timestamp.")
        if "payload" not in document:
            raise InvalidEnvelope("'payload' is missing.")
        if not isinstance(document["payload"], dict | list | str):
            raise InvalidEnvelope("'payload' must be an object, an array or a string.")
        return Envelope(external_id=delivery_id, event_type=event_type, occurred_at=occurred_at)

    def rejected_external_id(self, headers: Mapping[str, str], body: bytes) -> str:
        # Not the body's delivery_id: a later valid delivery under that id must not be taken
        # for a retry of the invalid one.
        return "invalid-body:" + hashlib.sha256(body).hexdigest()
