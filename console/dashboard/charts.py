"""The dashboard's two charts: deliveries per day by status, and readings received per day."""

from datetime import date, datetime, timedelta

from django.utils import timezone

from common.charts import PALETTE, Bar, Segment, bar_chart
from console import selectors
from console.dashboard.parts import STATUSES_SHOWN, Chart, Links
from events.models import Delivery
from meters.time_zones import default_meter_time_zone

CHART_DAYS = 30


def chart_days(today: date) -> list[date]:
    return [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]


def _day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def deliveries_chart(links: Links, daily: dict[date, dict[str, int]], *, today: date) -> Chart:
    bars = [
        Bar(
            _day_label(day),
            [
                Segment(
                    shown.status,
                    daily.get(day, {}).get(shown.status, 0),
                    link=links.changelist(
                        Delivery, received=day.isoformat(), status__exact=shown.status
                    ),
                    label=shown.label.lower(),
                )
                for shown in STATUSES_SHOWN
            ],
        )
        for day in chart_days(today)
    ]
    return Chart(
        "Deliveries per day, by outcome",
        bar_chart(bars, title="Deliveries per day, by outcome", label_every=5),
        legend=[(PALETTE[shown.status], shown.label) for shown in STATUSES_SHOWN],
        note="Click a bar to see that day's deliveries with that outcome. Counted every "
        "minute by the background worker; older days are recounted every hour.",
    )


def readings_chart(*, now: datetime) -> Chart:
    """Days in METER_TIME_ZONE, as the tallies are counted (meters/readings.py)."""
    zone = default_meter_time_zone()
    today = timezone.localdate(now, timezone=zone)
    received = selectors.readings_received_daily(first_day=today - timedelta(days=CHART_DAYS - 1))
    bars = [
        Bar(_day_label(day), [Segment("readings", received.get(day, 0), label="readings")])
        for day in chart_days(today)
    ]
    return Chart(
        "Half-hourly readings received per day",
        bar_chart(bars, title="Half-hourly readings received per day", label_every=5),
        legend=[],
        note="Readings of every meter fetched from Openvolt that day, re-fetches included. "
        f"Days in {zone.key} time.",
    )
