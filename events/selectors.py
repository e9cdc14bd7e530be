"""Reads of deliveries that more than one caller shares (the admin, the commands)."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet

from events.models import Delivery

# What "retry everything that failed" means: failed (retrying on its own) and dead (gave up).
FAILED_STATUSES = (Delivery.Status.FAILED, Delivery.Status.DEAD)


def deliveries_matching(
    *,
    statuses: Iterable[str] = FAILED_STATUSES,
    since: datetime | None = None,
    until: datetime | None = None,
    event_type: str = "",
    source: str = "",
) -> QuerySet[Delivery]:
    """Deliveries in one of `statuses`, received in [since, until), of a type and source if
    given; each condition is served by an index on (column, received_at)."""
    deliveries = Delivery.objects.filter(status__in=list(statuses))
    if since is not None:
        deliveries = deliveries.filter(received_at__gte=since)
    if until is not None:
        deliveries = deliveries.filter(received_at__lt=until)
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    if source:
        deliveries = deliveries.filter(source=source)
    return deliveries
