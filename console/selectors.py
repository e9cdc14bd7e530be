"""The dashboard's reads. Each is small and bounded: a range of an index, a capped count, or
a few rows of the daily summaries (never a count over the deliveries or the readings)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Case, Count, Q, QuerySet, Sum, When

from common.admin import COUNT_CAP
from consents.models import FollowUp, HostedConsent
from console.models import Alert
from events.models import Delivery, DeliveryDailyCount, WebhookEndpoint
from meters.models import ReadingsReceivedDaily


@dataclass(frozen=True)
class CappedCount:
    """A count that stops at COUNT_CAP: past that, "10,000+" says enough."""

    value: int

    @property
    def capped(self) -> bool:
        return self.value > COUNT_CAP

    def __str__(self) -> str:
        return f"{COUNT_CAP:,}+" if self.capped else f"{self.value:,}"


def capped_count(queryset: QuerySet) -> CappedCount:
    return CappedCount(queryset.order_by()[: COUNT_CAP + 1].count())


def deliveries_by_status_since(*, since: datetime) -> dict[str, int]:
    """Deliveries received since `since`, per status: a range of the received_at index, so
    it is meant for recent hours, not for weeks (the daily counts are for those)."""
    rows = (
        Delivery.objects.filter(received_at__gte=since)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return dict(rows)


def delivery_daily_counts(*, first_day: date) -> dict[date, dict[str, int]]:
    """Per day since `first_day`, deliveries received that day per status, all sources."""
    rows = (
        DeliveryDailyCount.objects.filter(day__gte=first_day)
        .values_list("day", "status")
        .annotate(count=Sum("count"))
        .order_by()
    )
    days: dict[date, dict[str, int]] = defaultdict(dict)
    for day, status, count in rows:
        days[day][status] = count
    return dict(days)


def readings_received_daily(*, first_day: date) -> dict[date, int]:
    rows = (
        ReadingsReceivedDaily.objects.filter(day__gte=first_day)
        .values_list("day")
        .annotate(count=Sum("count"))
        .order_by()
    )
    return dict(rows)


def alerts_unresolved() -> QuerySet[Alert]:
    """Alerts open or acknowledged: those nobody has acknowledged first, then the newest."""
    return (
        Alert.objects.filter(status__in=Alert.UNRESOLVED)
        .select_related("acknowledged_by")
        .order_by(Case(When(status=Alert.Status.OPEN, then=0), default=1), "-opened_at", "-id")
    )


def follow_ups_open() -> QuerySet[FollowUp]:
    """Follow-ups still being worked (open or contacted), the longest waiting first."""
    return FollowUp.objects.filter(status__in=FollowUp.OPEN_STATUSES).order_by("opened_at", "id")


def hosted_consents_matching(*, condition: Q) -> QuerySet[HostedConsent]:
    return HostedConsent.objects.filter(condition).select_related("customer").order_by("expiry")


# An endpoint's usual rhythm is read from at most this many of its latest deliveries, so that
# a busy endpoint costs no more than a quiet one.
RHYTHM_SAMPLE = 1000
RHYTHM_WINDOW = timedelta(days=7)
# Fewer gaps than this between deliveries are no rhythm to speak of.
RHYTHM_MIN_GAPS = 3
SILENCE_FACTOR = 3
SILENCE_AT_LEAST = timedelta(hours=1)
DAILY = timedelta(days=1)

_RHYTHM_SQL = f"""
    SELECT endpoint.id, latest.received_at, rhythm.median_gap, rhythm.gaps
    FROM {WebhookEndpoint._meta.db_table} AS endpoint
    CROSS JOIN LATERAL (
        SELECT received_at FROM {Delivery._meta.db_table}
        WHERE endpoint_id = endpoint.id
        ORDER BY received_at DESC LIMIT 1
    ) AS latest
    CROSS JOIN LATERAL (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap,
            count(gap) AS gaps
        FROM (
            SELECT received_at - lag(received_at) OVER (ORDER BY received_at) AS gap
            FROM (
                SELECT received_at FROM {Delivery._meta.db_table}
                WHERE endpoint_id = endpoint.id AND received_at > latest.received_at - %s
                ORDER BY received_at DESC LIMIT %s
            ) AS recent
        ) AS gaps
    ) AS rhythm
    WHERE endpoint.enabled
"""


@dataclass(frozen=True)
class SilentEndpoint:
    endpoint: WebhookEndpoint
    last_received_at: datetime
    usual_gap: timedelta
    silent_for: timedelta


def silence_allowed(usual_gap: timedelta) -> timedelta:
    """How long an endpoint may stay silent before it is flagged.

    Three times its usual gap between deliveries, and never less than an hour (a busy
    endpoint's quiet minute is no news); but an endpoint that usually hears something at
    least once a day is flagged after a whole day of silence.
    """
    allowed = max(SILENCE_FACTOR * usual_gap, SILENCE_AT_LEAST)
    return min(allowed, DAILY) if usual_gap <= DAILY else allowed


def endpoints_silent(*, now: datetime) -> list[SilentEndpoint]:
    """Enabled endpoints silent for longer than silence_allowed(their usual gap), the longest
    silent first.

    The usual gap is the median gap between the deliveries of the 7 days up to the endpoint's
    latest one (its latest RHYTHM_SAMPLE at most): measured before the silence, so that an
    endpoint stays flagged however long the silence lasts. Each endpoint costs two short
    scans of the (endpoint, received_at) index.
    """
    with connection.cursor() as cursor:
        cursor.execute(_RHYTHM_SQL, [RHYTHM_WINDOW, RHYTHM_SAMPLE])
        rhythms = {
            endpoint_id: (last, gap)
            for endpoint_id, last, gap, gaps in cursor.fetchall()
            if gaps >= RHYTHM_MIN_GAPS and now - last > silence_allowed(gap)
        }
    if not rhythms:
        return []
    silent = [
        SilentEndpoint(
            endpoint=endpoint,
            last_received_at=rhythms[endpoint.pk][0],
            usual_gap=rhythms[endpoint.pk][1],
            silent_for=now - rhythms[endpoint.pk][0],
        )
        for endpoint in WebhookEndpoint.objects.filter(pk__in=rhythms)
    ]
    return sorted(silent, key=lambda item: item.silent_for, reverse=True)
