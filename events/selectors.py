"""Reads of deliveries that more than one caller shares (the admin, the commands)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, QuerySet

from events.models import Delivery, DeliveryReceipt, OpenvoltBudget

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


def deliveries_about(*, subjects: Iterable[str], limit: int) -> list[Delivery]:
    """The latest deliveries that name any of these subjects (ids, meter numbers, e-mail
    addresses: events/subjects.py), newest first, without their payloads: one lookup in the
    GIN index of Delivery.subjects."""
    keys = [key for key in subjects if key]
    return list(
        Delivery.objects.filter(subjects__overlap=keys)
        .only("id", "received_at", "source", "event_type", "status", "external_id", "summary")
        .order_by("-received_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class BodyConflicts:
    """Arrivals under a delivery's id whose body differed from the stored one."""

    count: int
    last_at: datetime


def delivery_body_conflicts(*, delivery: Delivery) -> BodyConflicts | None:
    """How many of its receipts carried another body, and when the last did; None, without a
    query, for a delivery never marked with one (nearly all)."""
    if delivery.last_conflict_at is None:
        return None
    found = DeliveryReceipt.objects.filter(
        delivery=delivery, verdict=DeliveryReceipt.Verdict.CONFLICT
    ).aggregate(count=Count("pk"), last_at=Max("received_at"))
    last_at = found["last_at"] or delivery.last_conflict_at
    return BodyConflicts(count=found["count"], last_at=last_at)


def openvolt_key_refusal() -> OpenvoltBudget | None:
    """When Openvolt last refused the API key, and with which status, unless a call was
    accepted since (events/sources/openvolt_budget.py records both)."""
    return OpenvoltBudget.objects.filter(key_refused_at__isnull=False).first()
