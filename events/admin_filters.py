"""List filters of the deliveries changelist that the dashboard's numbers link to."""

from datetime import date, datetime, timedelta

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from common.moments import day_bounds
from events.models import Delivery

# The periods a link or a person can pick; a single day is given as YYYY-MM-DD.
LAST_24_HOURS, LAST_7_DAYS, LAST_30_DAYS = "24h", "7d", "30d"
# The 7 and 30 days are whole days, today included: as the dashboard's daily counts.
_PERIODS = {
    LAST_24_HOURS: "Last 24 hours",
    LAST_7_DAYS: "Last 7 days",
    LAST_30_DAYS: "Last 30 days",
}


# Still unfinished this long after it arrived: waiting for the worker, or being worked.
WAITING_AFTER = timedelta(minutes=5)
WAITING = "5m"
WAITING_STATUSES = (Delivery.Status.PENDING, Delivery.Status.PROCESSING)


def waiting_q(*, now: datetime | None = None) -> Q:
    """Deliveries received more than WAITING_AFTER ago and still pending or processing: a
    range of the (status, received_at) index."""
    now = now or timezone.now()
    return Q(status__in=WAITING_STATUSES, received_at__lt=now - WAITING_AFTER)


def _period_start(period: str, now: datetime) -> datetime | None:
    """When the last 24 hours, or the last 7 or 30 calendar days (whole days, so that they
    match the daily counts), began; None if `period` is none of them."""
    if period == LAST_24_HOURS:
        return now - timedelta(hours=24)
    if period in (LAST_7_DAYS, LAST_30_DAYS):
        days = 7 if period == LAST_7_DAYS else 30
        start, _ = day_bounds(timezone.localdate(now) - timedelta(days=days - 1))
        return start
    return None


def received_q(period: str, *, now: datetime | None = None) -> Q | None:
    """Deliveries received in the period: one of _PERIODS, or one day; None if not a period."""
    now = now or timezone.now()
    start = _period_start(period, now)
    if start is not None:
        return Q(received_at__gte=start)
    day = _day(period)
    if day is None:
        return None
    start, end = day_bounds(day)
    return Q(received_at__gte=start, received_at__lt=end)


def _day(value: str | None) -> date | None:
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        return None
    # The last day of the calendar has no next day to end its range.
    return day if day < date.max else None


class ReceivedFilter(admin.SimpleListFilter):
    title = "time received"
    parameter_name = "received"

    def lookups(self, request, model_admin):
        choices = list(_PERIODS.items())
        day = _day(self.value())
        if day:
            # A day picked on the dashboard's chart: shown as the selected choice.
            choices.append((self.value(), f"On {day.day} {day:%B %Y}"))
        return choices

    def queryset(self, request, queryset):
        condition = received_q(self.value() or "")
        return queryset.filter(condition) if condition is not None else queryset


# A later arrival under a delivery's id carried a different body, at any time.
CONFLICT_EVER = "any"


def conflict_q(period: str, *, now: datetime | None = None) -> Q | None:
    """Deliveries whose id came again with a different body in the period (one of _PERIODS)
    or ever: a range of the partial index on last_conflict_at. None if not a period."""
    if period == CONFLICT_EVER:
        return Q(last_conflict_at__isnull=False)
    start = _period_start(period, now or timezone.now())
    return None if start is None else Q(last_conflict_at__gte=start)


class ConflictFilter(admin.SimpleListFilter):
    """A later receipt carried another body: what the dashboard's body conflicts count."""

    title = "body conflict"
    parameter_name = "conflict"

    def lookups(self, request, model_admin):
        return [*_PERIODS.items(), (CONFLICT_EVER, "At any time")]

    def queryset(self, request, queryset):
        condition = conflict_q(self.value() or "")
        return queryset.filter(condition) if condition is not None else queryset


class WaitingFilter(admin.SimpleListFilter):
    """Pending or processing long after arrival: the dashboard's "not finished" figures."""

    title = "how long unfinished"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        minutes = int(WAITING_AFTER.total_seconds() // 60)
        return [(WAITING, f"Over {minutes} minutes (pending or processing)")]

    def queryset(self, request, queryset):
        return queryset.filter(waiting_q()) if self.value() == WAITING else queryset
