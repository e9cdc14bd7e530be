"""The admin of the way in: deliveries, their items, endpoints, e-mail subscriptions."""

from events.admin import deliveries, endpoints, items  # noqa: F401  (registers them)
