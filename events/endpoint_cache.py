"""The enabled endpoints, as the intake looks them up on every request: kept a few seconds in
each process, so that a sender's stream of deliveries costs one query per endpoint every few
seconds rather than one per delivery.

A change to an endpoint made in this process (the admin, a command, a test) forgets them at
once; one made elsewhere reaches this process within ENDPOINT_CACHE_SECONDS: a disabled
endpoint may take a few more deliveries for that long, as it would have a moment before.
Only endpoints that exist and are enabled are kept: addresses nobody owns are not, so a
scan of random addresses grows nothing.
"""

import time
import uuid

from events.models import WebhookEndpoint

ENDPOINT_CACHE_SECONDS = 5.0
# More enabled endpoints than a deployment has; past it, all are forgotten and looked up again.
ENDPOINT_CACHE_SIZE = 1000

_endpoints: dict[uuid.UUID, tuple[float, WebhookEndpoint]] = {}


def enabled_endpoint(endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    """The enabled endpoint with this id, or None. The instance may be shared between the
    threads of a process: read it, never change it."""
    now = time.monotonic()
    kept = _endpoints.get(endpoint_id)
    if kept is not None and kept[0] > now:
        return kept[1]
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).first()
    if endpoint is None:
        _endpoints.pop(endpoint_id, None)
        return None
    if len(_endpoints) >= ENDPOINT_CACHE_SIZE:
        _endpoints.clear()
    _endpoints[endpoint_id] = (now + ENDPOINT_CACHE_SECONDS, endpoint)
    return endpoint


def endpoints_forget(**_signal) -> None:
    """Forget every endpoint kept (connected to WebhookEndpoint's saves and deletions)."""
    _endpoints.clear()
