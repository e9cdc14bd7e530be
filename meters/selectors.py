"""Reads on customers, meters, readings and bills."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import models
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.timesince import timesince

from common.moments import day_bounds, month_add
from meters.models import Customer, IntervalReading, Meter, UtilityBill
from meters.time_zones import meter_time_zone

CHART_MONTHS = 13
# Openvolt collects smart-meter data about once a day, a day behind: older than this, data is
# late rather than on its way.
STALE_AFTER = timedelta(days=2)


def meter_daily_consumption(
    *, meter: Meter, months: int = CHART_MONTHS, today: date | None = None
) -> list[tuple[date, Decimal]]:
    """kWh per day, days of the meter's time zone (meters/time_zones.py), over the last
    `months` calendar months, today included: one entry per day from the first month with
    data, zero for days without any.

    One GROUP BY over the meter's range of the (meter, start) unique index.
    """
    zone = meter_time_zone(meter)
    today = today or timezone.localdate(timezone=zone)
    first_month = month_add(today.replace(day=1), 1 - months)
    totals = {
        day: kwh for day, _, kwh in meter_days(meter=meter, first_day=first_month, last_day=today)
    }
    if not totals:
        return []
    # Start at the first of the month that has data: a new meter's chart is not all gap.
    day = max(first_month, min(totals).replace(day=1))
    days = []
    while day <= today:
        days.append((day, totals.get(day, Decimal(0))))
        day += timedelta(days=1)
    return days


def meter_days(
    *, meter: Meter, first_day: date | None = None, last_day: date | None = None
) -> models.QuerySet:
    """(day, half-hours, kWh) of each day of the meter's time zone that has readings, oldest
    first, between these days (both included; all when not given). A clock-change day has 46
    or 50 half-hours.

    One GROUP BY over the meter's range of the (meter, start) unique index.
    """
    zone = meter_time_zone(meter)
    readings = IntervalReading.objects.filter(meter=meter)
    if first_day is not None:
        readings = readings.filter(start__gte=day_bounds(first_day, zone=zone)[0])
    if last_day is not None:
        readings = readings.filter(start__lt=day_bounds(last_day, zone=zone)[1])
    return (
        readings.annotate(day=TruncDate("start", tzinfo=zone))
        .values("day")
        .annotate(half_hours=Count("pk"), kwh=Sum("consumption_kwh"))
        .order_by("day")
        .values_list("day", "half_hours", "kwh")
    )


@dataclass(frozen=True)
class Freshness:
    """How recent a meter's data is, in words, and whether that is a problem."""

    text: str
    # "fresh", "stale" or "none": a CSS class on the pages that show it.
    level: str


def meter_freshness(*, meter: Meter, now: datetime | None = None) -> Freshness:
    latest = meter.latest_reading_start
    if latest is None:
        return Freshness("no data yet", "none")
    now = now or timezone.now()
    age = timesince(latest, now, depth=1)
    if now - latest <= STALE_AFTER:
        return Freshness(f"latest half-hour {age} ago", "fresh")
    return Freshness(f"no data for {age}", "stale")


def customer_meters(*, customer: Customer) -> models.QuerySet[Meter]:
    return customer.meters.order_by("meter_number")


def meters_by_number(*, meter_numbers: list[str]) -> dict[str, Meter]:
    """The mirrored meters among these numbers, by number (a number Openvolt has not given
    a meter for yet is absent)."""
    if not meter_numbers:
        return {}
    meters = Meter.objects.filter(meter_number__in=meter_numbers).order_by("meter_number")
    return {meter.meter_number: meter for meter in meters}


def customer_utility_bills(*, customer: Customer) -> models.QuerySet[UtilityBill]:
    """Nectar's bills for the customer. A bill does not point at an Openvolt customer: it names
    a company, matched here by its external id (when the company was created with the Openvolt
    id) or by its name, ignoring case."""
    matches = Q(company_external_id=customer.external_id)
    if customer.name.strip():
        matches |= Q(company_name__iexact=customer.name.strip())
    return UtilityBill.objects.filter(matches).order_by("-document_date", "external_id")
