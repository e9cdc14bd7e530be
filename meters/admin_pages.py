"""What the meter and customer admin pages show around their records: consumption, data
freshness, consents, follow-ups, deliveries and bills.

Admin-side code: unlike the models and services of the meters app, it may read the events and
consents apps (the domain does not know about webhooks; the console shows everything).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from common.charts import Bar, Segment, bar_chart
from consents.selectors import (
    follow_ups_for_customer,
    hosted_consents_for_customer,
    hosted_consents_for_meter,
)
from events.models import Delivery
from meters.models import Customer, Meter
from meters.selectors import (
    Freshness,
    customer_meters,
    customer_utility_bills,
    meter_daily_consumption,
    meter_freshness,
)

LATEST_DELIVERIES = 20
# A customer page lists this many meters and bills at most; the rest are a link away.
CUSTOMER_PAGE_ROWS = 100
CHART_LABELS = 7


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
    deliveries = meter_latest_deliveries(meter=meter)
    return {
        "meter": meter,
        "freshness": meter_freshness(meter=meter),
        "customer_url": _change_url(meter.customer, user.has_perm("meters.view_customer")),
        "chart": consumption_chart(
            meter=meter, link_readings=user.has_perm("meters.view_intervalreading")
        ),
        "consents": _with_urls(
            hosted_consents_for_meter(meter_number=meter.meter_number),
            user.has_perm("consents.view_hostedconsent"),
        ),
        "deliveries": _with_urls(deliveries, user.has_perm("events.view_delivery")),
        "deliveries_search_url": _changelist_url(
            "events", "delivery", user.has_perm("events.view_delivery"), q=meter.meter_number
        ),
        "latest_deliveries": LATEST_DELIVERIES,
    }


def meter_latest_deliveries(*, meter: Meter) -> list[Delivery]:
    """The latest deliveries that name the meter (its Openvolt id or its number): one lookup in
    the GIN index of Delivery.subjects, without the payloads."""
    keys = [key for key in (meter.external_id, meter.meter_number) if key]
    return list(
        Delivery.objects.filter(subjects__overlap=keys)
        .only("id", "received_at", "source", "event_type", "status", "external_id", "summary")
        .order_by("-received_at", "-id")[:LATEST_DELIVERIES]
    )


def consumption_chart(*, meter: Meter, link_readings: bool = False) -> ConsumptionChart | None:
    days = meter_daily_consumption(meter=meter)
    if not days:
        return None
    readings_url = reverse("admin:meters_intervalreading_changelist") if link_readings else ""
    bars = [
        Bar(
            label=f"{day.day} {day:%b %Y}",
            segments=[Segment("used", kwh, _readings_of_day(readings_url, meter, day))],
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


def _readings_of_day(readings_url: str, meter: Meter, day: date) -> str:
    """The readings changelist narrowed to the meter's half-hours of that day."""
    if not readings_url:
        return ""
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), zone)
    query = {
        "meter": meter.pk,
        "start__gte": start.isoformat(),
        "start__lt": (start + timedelta(days=1)).isoformat(),
    }
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
        MeterLine(meter, _change_url(meter, can_view_meters), meter_freshness(meter=meter))
        for meter in meters[:CUSTOMER_PAGE_ROWS]
    ]
    return {
        "customer": customer,
        "meter_lines": lines,
        "more_meters_url": _changelist_url("meters", "meter", can_view_meters, customer=customer.pk)
        if len(meters) > CUSTOMER_PAGE_ROWS
        else "",
        "stale_meters": sum(1 for line in lines if line.freshness.level != "fresh"),
        "consents": _with_urls(
            hosted_consents_for_customer(customer=customer),
            user.has_perm("consents.view_hostedconsent"),
        ),
        "follow_ups": _with_urls(follow_ups, user.has_perm("consents.view_followup")),
        "open_follow_ups": sum(1 for follow_up in follow_ups if follow_up.is_open),
        "bills": _with_urls(bills[:CUSTOMER_PAGE_ROWS], user.has_perm("meters.view_utilitybill")),
        "more_bills_url": _changelist_url(
            "meters", "utilitybill", user.has_perm("meters.view_utilitybill"), q=customer.name
        )
        if len(bills) > CUSTOMER_PAGE_ROWS
        else "",
    }


def _with_urls(objects, allowed: bool) -> list[tuple[Any, str]]:
    """Each object with the URL of its admin page ("" when the user may not see it)."""
    return [(obj, _change_url(obj, allowed)) for obj in objects]


def _change_url(obj, allowed: bool) -> str:
    if obj is None or not allowed:
        return ""
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def _changelist_url(app_label: str, model_name: str, allowed: bool, **query) -> str:
    if not allowed:
        return ""
    return f"{reverse(f'admin:{app_label}_{model_name}_changelist')}?{urlencode(query)}"
