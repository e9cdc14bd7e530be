"""What the meter and customer pages show around their records: consumption, data freshness,
consents, follow-ups, deliveries and bills, each linked for those who may open it."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.safestring import SafeString

from common.charts import Bar, Segment, bar_chart
from common.moments import day_bounds
from consents.selectors import (
    follow_ups_for_customer,
    hosted_consents_for_customer,
    hosted_consents_for_meter,
)
from console.pages.links import change_url_if, changelist_url_if, with_urls
from events.models import Delivery
from events.selectors import deliveries_about
from meters.completeness import Gap, meter_gaps
from meters.models import Customer, Meter, UtilityBill
from meters.selectors import (
    Freshness,
    customer_meters,
    customer_utility_bills,
    meter_daily_consumption,
    meter_freshness,
)
from meters.time_zones import meter_time_zone

LATEST_DELIVERIES = 20
# A customer page lists this many meters and bills at most; the rest are a link away.
CUSTOMER_PAGE_ROWS = 100
CHART_LABELS = 7
# The meter page lists this many gaps, the oldest first; the count says how many more.
GAPS_LISTED = 50


@dataclass(frozen=True)
class ConsumptionChart:
    svg: SafeString
    first_day: date
    total_kwh: Decimal
    days_with_data: int
    days_without_data: int
    average_kwh: Decimal
    peak_day: date
    peak_kwh: Decimal


def meter_page(request, meter: Meter) -> dict[str, Any]:
    user = request.user
    deliveries = deliveries_about(
        subjects=[meter.external_id, meter.meter_number], limit=LATEST_DELIVERIES
    )
    zone = meter_time_zone(meter)
    return {
        "meter": meter,
        # The page's days and times are the meter's (meters/time_zones.py).
        "meter_time_zone": zone.key,
        "latest_half_hour": _local_time(meter.latest_reading_start, zone),
        "freshness": meter_freshness(meter=meter),
        "customer_url": change_url_if(
            meter.customer, allowed=user.has_perm("meters.view_customer")
        ),
        "chart": consumption_chart(
            meter=meter, link_readings=user.has_perm("meters.view_intervalreading")
        ),
        "consents": with_urls(
            hosted_consents_for_meter(meter_number=meter.meter_number),
            allowed=user.has_perm("consents.view_hostedconsent"),
        ),
        **_gaps(meter, zone, can_refetch=user.has_perm("meters.refetch_gaps")),
        "deliveries": with_urls(deliveries, allowed=user.has_perm("events.view_delivery")),
        "deliveries_search_url": changelist_url_if(
            Delivery, allowed=user.has_perm("events.view_delivery"), q=meter.meter_number
        ),
        "latest_deliveries": LATEST_DELIVERIES,
    }


@dataclass(frozen=True)
class GapLine:
    """A gap as the page shows it: times in the meter's zone."""

    start: str
    end: str
    half_hours: int


def _gaps(meter: Meter, zone: ZoneInfo, *, can_refetch: bool) -> dict[str, Any]:
    gaps: list[Gap] = meter_gaps(meter=meter)
    return {
        "gaps": [
            GapLine(_local_time(gap.start, zone), _local_time(gap.end, zone), gap.half_hours)
            for gap in gaps[:GAPS_LISTED]
        ],
        "gaps_count": len(gaps),
        "gaps_half_hours": sum(gap.half_hours for gap in gaps),
        "refetch_url": reverse("admin:meters_meter_changelist") if can_refetch and gaps else "",
    }


def consumption_chart(
    *, meter: Meter, link_readings: bool = False, today: date | None = None
) -> ConsumptionChart | None:
    days = meter_daily_consumption(meter=meter, today=today)
    if not days:
        return None
    zone = meter_time_zone(meter)
    readings_url = reverse("admin:meters_intervalreading_changelist") if link_readings else ""
    bars = [
        Bar(
            label=f"{day.day} {day:%b %Y}",
            segments=[Segment("used", kwh, _readings_of_day(readings_url, meter, day, zone))],
        )
        for day, kwh in days
    ]
    with_data = [(day, kwh) for day, kwh in days if kwh]
    # Today is still being collected: an empty today is not a gap.
    gaps = sum(1 for day, kwh in days if not kwh and day != days[-1][0])
    total = sum((kwh for _, kwh in days), Decimal(0))
    peak_day, peak_kwh = max(days, key=lambda entry: entry[1])
    svg = bar_chart(
        bars,
        title=f"Daily consumption of meter {meter.meter_number}, kWh",
        unit=" kWh",
        height=200,
        label_every=max(1, -(-len(bars) // CHART_LABELS)),
    )
    return ConsumptionChart(
        svg=svg,
        first_day=days[0][0],
        total_kwh=total,
        days_with_data=len(with_data),
        days_without_data=gaps,
        average_kwh=total / len(with_data) if with_data else Decimal(0),
        peak_day=peak_day,
        peak_kwh=peak_kwh,
    )


def _local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """The moment in the zone, with its abbreviation: the template's `T` leaves it out on the
    hour that comes twice when the clocks go back, where it is the one thing that tells."""
    if moment is None:
        return ""
    local = timezone.localtime(moment, zone)
    return f"{dateformat.format(local, 'D j M Y, H:i')} {local.tzname()}"


def _readings_of_day(readings_url: str, meter: Meter, day: date, zone: ZoneInfo) -> str:
    """The readings changelist narrowed to the meter's half-hours of that day, in its zone."""
    if not readings_url:
        return ""
    start, end = day_bounds(day, zone=zone)
    query = {"meter": meter.pk, "start__gte": start.isoformat(), "start__lt": end.isoformat()}
    return f"{readings_url}?{urlencode(query)}"


@dataclass(frozen=True)
class MeterLine:
    meter: Meter
    url: str
    freshness: Freshness


def customer_page(request, customer: Customer) -> dict[str, Any]:
    user = request.user
    can_view_meters = user.has_perm("meters.view_meter")
    meters = list(customer_meters(customer=customer)[: CUSTOMER_PAGE_ROWS + 1])
    bills = list(customer_utility_bills(customer=customer)[: CUSTOMER_PAGE_ROWS + 1])
    follow_ups = list(follow_ups_for_customer(customer=customer))
    lines = [
        MeterLine(
            meter, change_url_if(meter, allowed=can_view_meters), meter_freshness(meter=meter)
        )
        for meter in meters[:CUSTOMER_PAGE_ROWS]
    ]
    return {
        "customer": customer,
        "meter_lines": lines,
        "more_meters_url": changelist_url_if(Meter, allowed=can_view_meters, customer=customer.pk)
        if len(meters) > CUSTOMER_PAGE_ROWS
        else "",
        "stale_meters": sum(1 for line in lines if line.freshness.level != "fresh"),
        "consents": with_urls(
            hosted_consents_for_customer(customer=customer),
            allowed=user.has_perm("consents.view_hostedconsent"),
        ),
        "follow_ups": with_urls(follow_ups, allowed=user.has_perm("consents.view_followup")),
        "open_follow_ups": sum(1 for follow_up in follow_ups if follow_up.is_open),
        "bills": with_urls(
            bills[:CUSTOMER_PAGE_ROWS], allowed=user.has_perm("meters.view_utilitybill")
        ),
        "more_bills_url": changelist_url_if(
            UtilityBill, allowed=user.has_perm("meters.view_utilitybill"), q=customer.name
        )
        if len(bills) > CUSTOMER_PAGE_ROWS
        else "",
    }
