"""The demo's webhook endpoints, which its deliveries arrived at."""

from uuid import UUID

from demo.plan import DEMO_SUBSCRIPTION_ID, ENDPOINTS
from events.models import WebhookEndpoint
from events.services import endpoint_create


def endpoints_seed() -> tuple[dict[str, UUID], int]:
    """The demo endpoints' ids by description, made where missing; and how many were made."""
    endpoint_ids, created = {}, 0
    for source, description in ENDPOINTS:
        endpoint = WebhookEndpoint.objects.filter(source=source, description=description).first()
        if endpoint is None:
            subscription = DEMO_SUBSCRIPTION_ID if description.endswith("production") else ""
            endpoint, _ = endpoint_create(
                source=source, description=description, openvolt_subscription_id=subscription
            )
            created += 1
        endpoint_ids[description] = endpoint.pk
    return endpoint_ids, created
