"""Completeness and gaps (meters/completeness.py): the half-hours expected from a meter's first
reading of the last 13 months to its latest, against those stored, kept as readings arrive."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from meters.completeness import (
    Gap,
    completeness_measure,
    meter_days_rebuild,
    meter_gaps,
    window_start,
)
from meters.models import Meter, MeterDay
from meters.readings import readings_upsert
from meters.tasks import measure_completeness
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db

HALF_HOUR = timedelta(minutes=30)
TODAY = date(2026, 11, 30)
FIRST = datetime(2026, 11, 1, tzinfo=UTC)


def half_hours(start: datetime, count: int) -> list[datetime]:
    return [start + HALF_HOUR * n for n in range(count)]


def store(meter: Meter, starts: list[datetime], kwh: str = "0.5") -> None:
    readings_upsert(meter=meter, readings=[(start, Decimal(kwh)) for start in starts])


def days(meter: Meter) -> dict[date, int]:
    return dict(MeterDay.objects.filter(meter=meter).values_list("day", "half_hours"))


@pytest.fixture
def meter():
    return MeterFactory(meter_number="2000012345678")


@pytest.fixture
def with_gap(meter, monkeypatch):
    """Two days from 1 November, but for 07:00 to 11:00 UTC on the second (8 half-hours)."""
    monkeypatch.setattr(
        "meters.completeness.timezone.now", lambda: datetime(2026, 11, 30, 12, tzinfo=UTC)
    )
    hole = FIRST + timedelta(days=1, hours=7)
    starts = [s for s in half_hours(FIRST, 96) if not hole <= s < hole + timedelta(hours=4)]
    store(meter, starts)
    meter.refresh_from_db()
    return hole


def test_the_window_is_this_month_and_the_twelve_before():
    assert window_start(today=date(2026, 11, 30)) == date(2025, 11, 1)
    assert window_start(today=date(2026, 1, 1)) == date(2025, 1, 1)


def test_a_store_counts_its_days_and_measures_the_meter(meter, with_gap):
    assert days(meter) == {date(2026, 11, 1): 48, date(2026, 11, 2): 40}
    assert meter.half_hours_missing == 8
    assert meter.completeness == Decimal("91.67")  # 88 of 96


def test_the_gaps_say_from_until_and_how_many(meter, with_gap):
    gaps = meter_gaps(meter=meter, today=TODAY)

    assert gaps == [Gap(with_gap, with_gap + timedelta(hours=4))]
    assert gaps[0].half_hours == 8


def test_filling_the_gap_makes_the_meter_whole(meter, with_gap):
    store(meter, half_hours(with_gap, 8))
    meter.refresh_from_db()

    assert days(meter) == {date(2026, 11, 1): 48, date(2026, 11, 2): 48}
    assert (meter.completeness, meter.half_hours_missing) == (Decimal("100.00"), 0)
    assert meter_gaps(meter=meter, today=TODAY) == []


def test_a_re_fetch_that_brings_nothing_new_counts_nothing(meter, with_gap):
    with CaptureQueriesContext(connection) as queries:
        store(meter, half_hours(FIRST, 10))

    assert not [q for q in queries if "meterday" in q["sql"] or "completeness" in q["sql"]]
    assert days(meter) == {date(2026, 11, 1): 48, date(2026, 11, 2): 40}


def test_revised_values_keep_the_counts(meter, with_gap):
    store(meter, half_hours(FIRST, 48), kwh="0.75")
    meter.refresh_from_db()

    assert days(meter)[date(2026, 11, 1)] == 48
    assert meter.half_hours_missing == 8


def test_the_expected_half_hours_start_at_the_first_reading_of_the_window(meter, monkeypatch):
    monkeypatch.setattr(
        "meters.completeness.timezone.now", lambda: datetime(2026, 11, 30, tzinfo=UTC)
    )
    # Two years ago, with a big gap since: outside the window, it is not counted.
    store(meter, half_hours(datetime(2024, 11, 1, tzinfo=UTC), 4))
    store(meter, half_hours(datetime(2026, 3, 1, 12, tzinfo=UTC), 6))
    meter.refresh_from_db()

    assert (meter.completeness, meter.half_hours_missing) == (Decimal("100.00"), 0)
    assert meter_gaps(meter=meter, today=TODAY) == []


def test_the_nightly_measure_moves_the_window_and_forgets_meters_out_of_it(meter, with_gap):
    quiet = MeterFactory()
    store(quiet, half_hours(datetime(2026, 11, 3, tzinfo=UTC), 4))

    # A year and a month later, November 2026 has left the window.
    later = datetime(2027, 12, 2, 3, 51, tzinfo=UTC)
    assert measure_completeness.func(timestamp=int(later.timestamp())) == 0

    meter.refresh_from_db()
    assert (meter.completeness, meter.half_hours_missing) == (None, None)


def test_measuring_every_meter_again_gives_what_the_stores_gave(meter, with_gap):
    other = MeterFactory()
    store(other, half_hours(FIRST, 5) + half_hours(FIRST + timedelta(hours=5), 1))
    measured = {m.pk: (m.completeness, m.half_hours_missing) for m in Meter.objects.all()}
    MeterDay.objects.all().delete()
    Meter.objects.update(completeness=None, half_hours_missing=None)

    assert meter_days_rebuild() == 3
    assert completeness_measure(today=TODAY) == 2

    again = {m.pk: (m.completeness, m.half_hours_missing) for m in Meter.objects.all()}
    assert again == measured
    assert measured[other.pk] == (Decimal("54.55"), 5)  # 6 of 11


def test_a_clock_change_day_in_london_is_still_48_half_hours_a_utc_day(monkeypatch):
    monkeypatch.setattr(
        "meters.completeness.timezone.now", lambda: datetime(2026, 11, 30, tzinfo=UTC)
    )
    london = MeterFactory(meter_number="1200000000009", data_source="dcc")
    # 25 October 2026, London's 50-half-hour day: 23:00 UTC on the 24th to 00:00 on the 26th.
    store(london, half_hours(datetime(2026, 10, 24, 23, tzinfo=UTC), 50))
    london.refresh_from_db()

    assert days(london) == {date(2026, 10, 24): 2, date(2026, 10, 25): 48}
    assert (london.completeness, london.half_hours_missing) == (Decimal("100.00"), 0)
