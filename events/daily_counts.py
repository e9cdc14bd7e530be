"""The daily counts of deliveries (DeliveryDailyCount) that the dashboard reads.

Each day is recounted from its deliveries: one GROUP BY over the day's range of the
received_at index. A delivery keeps the day it was received on; its status may change later
(a retry succeeds, a reprocess, a failure after midnight), which the next recount picks up.
"""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from common.locks import advisory_locks_take
from common.moments import day_bounds
from events.models import Delivery, DeliveryDailyCount
from events.retention import retention_cutoff

# Recounted every minute: today, and yesterday, whose last deliveries may still be processing.
RECENT_DAYS = 2
# Recounted once an hour: what the dashboard shows (30 days) and one more, for late retries
# and reprocessing. Older days change only through the refresh_dashboard command.
HOURLY_DAYS = 31


def delivery_daily_counts_recount(*, first_day: date, last_day: date) -> int:
    """Recount each day from first_day to last_day, both included; returns how many days.

    Each day is a transaction of its own, so that no long transaction holds the counts. Days
    whose deliveries may have been pruned (events/retention.py) keep their counts: those are
    the history, and recounting what is left would lose it.
    """
    days = 0
    day = max(first_day, timezone.localdate(retention_cutoff()) + timedelta(days=1))
    while day <= last_day:
        _recount_day(day)
        day += timedelta(days=1)
        days += 1
    return days


def delivery_daily_counts_refresh(*, at: datetime) -> int:
    """The periodic recount: the recent days every minute, the whole chart on the hour."""
    today = timezone.localdate(at)
    days = HOURLY_DAYS if at.minute == 0 else RECENT_DAYS
    return delivery_daily_counts_recount(first_day=today - timedelta(days=days - 1), last_day=today)


def _recount_day(day: date) -> None:
    start, end = day_bounds(day)
    with transaction.atomic():
        # The periodic task and the command may recount one day at once: they take turns.
        advisory_locks_take(keys=[f"delivery_daily_count:{day.isoformat()}"])
        counted_at = timezone.now()
        counts = (
            Delivery.objects.filter(received_at__gte=start, received_at__lt=end)
            .values("source", "status")
            .annotate(count=Count("pk"))
            .order_by()
        )
        rows = [DeliveryDailyCount(day=day, counted_at=counted_at, **count) for count in counts]
        DeliveryDailyCount.objects.filter(day=day).delete()
        DeliveryDailyCount.objects.bulk_create(rows)
