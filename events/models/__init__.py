"""The way in: endpoints, deliveries with their receipts, attempts and items, e-mail
subscriptions, and the shared budget of calls to Openvolt."""

from events.models.deliveries import (
    Delivery,
    DeliveryAttempt,
    DeliveryDailyCount,
    DeliveryReceipt,
)
from events.models.endpoints import EndpointSecret, Source, WebhookEndpoint
from events.models.items import DeliveryItem
from events.models.notifications import EmailSubscription, Notification
from events.models.openvolt import OpenvoltBudget
from events.models.requeues import DeliveryRequeue

__all__ = [
    "Delivery",
    "DeliveryAttempt",
    "DeliveryDailyCount",
    "DeliveryItem",
    "DeliveryReceipt",
    "DeliveryRequeue",
    "EmailSubscription",
    "EndpointSecret",
    "Notification",
    "OpenvoltBudget",
    "Source",
    "WebhookEndpoint",
]
