"""Moments and days: the platforms' timestamps, dates typed by people, a day's bounds."""

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


def parse_timestamp(value: Any) -> datetime | None:
    """Read an ISO 8601 timestamp as the platforms write them; None when it is not one.

    Openvolt writes `2024-04-28T11:44:01.010Z`; Nectar writes nanoseconds and no zone
    (`2024-12-13T22:35:04.693456313`), which is UTC.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    date_part, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        # Python keeps microseconds: cut nanoseconds down to six digits.
        text = f"{date_part}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        # In UTC: one whose UTC date is outside years 1-9999 could not be read back, and
        # PostgreSQL refuses offsets over 15:59 that Python reads (-20:33, say).
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def parse_moment(text: str) -> datetime:
    """What a person typed: a date (its midnight) or an ISO date-time, as an aware datetime
    (naive ones are read in the site's time zone); ValueError if it is neither."""
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(f"{text!r} is not a date (2026-11-23) or a time (2026-11-23T10:00).")
        moment = datetime.combine(day, time.min)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def day_bounds(day: date, *, zone: tzinfo | None = None) -> tuple[datetime, datetime]:
    """Where the day starts and the next begins, in `zone` (the site's by default)."""
    return days_bounds(first_day=day, last_day=day, zone=zone)


def days_bounds(
    *, first_day: date, last_day: date, zone: tzinfo | None = None
) -> tuple[datetime, datetime]:
    """Where first_day starts and the day after last_day begins, in `zone` (the site's by
    default): the half-open range of both days and those between."""
    zone = zone or timezone.get_current_timezone()
    return (
        datetime.combine(first_day, time.min, tzinfo=zone),
        datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone),
    )


def month_add(month: date, months: int) -> date:
    """The first day of the month `months` after the month of `month` (before, if negative)."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
