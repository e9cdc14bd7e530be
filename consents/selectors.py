"""Reads on hosted consents and follow-ups."""

from datetime import date

from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from consents.models import FollowUp, FollowUpNote, HostedConsent
from meters.models import Customer


def follow_up_open_first_ordering() -> list:
    """Those still being worked first, the longest waiting at the top; then the closed ones."""
    closed = Case(
        When(status__in=FollowUp.OPEN_STATUSES, then=Value(0)),
        default=Value(1),
        output_field=models.IntegerField(),
    )
    return [closed.asc(), "opened_at", "id"]


def follow_up_overdue_q(*, today: date | None = None) -> Q:
    """Follow-ups past their due date and still being worked."""
    today = today or timezone.localdate()
    return Q(status__in=FollowUp.OPEN_STATUSES, due_on__lt=today)


def follow_up_history(*, follow_up: FollowUp) -> models.QuerySet[FollowUpNote]:
    """Its notes and events, oldest first, each with its author."""
    return follow_up.notes.select_related("author").order_by("created_at", "id")


def follow_ups_for_customer(*, customer: Customer) -> models.QuerySet[FollowUp]:
    return (
        FollowUp.objects.filter(consent__customer=customer)
        .select_related("consent", "assignee")
        .order_by(*follow_up_open_first_ordering())
    )


def hosted_consents_for_customer(*, customer: Customer) -> models.QuerySet[HostedConsent]:
    return customer.consents.order_by("-created_on_platform", "external_id")


def hosted_consents_for_meter(*, meter_number: str) -> models.QuerySet[HostedConsent]:
    """The consents that name the meter number (a customer has few; no index needed yet)."""
    if not meter_number:
        return HostedConsent.objects.none()
    return HostedConsent.objects.filter(meter_numbers__contains=[meter_number]).order_by(
        "-created_on_platform", "external_id"
    )
