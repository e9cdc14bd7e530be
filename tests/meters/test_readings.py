"""readings_upsert: half-hourly readings stored once per meter and start, revisions replacing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from meters.models import IntervalReading, Meter
from meters.readings import readings_upsert
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 4, 27, tzinfo=UTC)


def half_hours(first: int, count: int) -> list[datetime]:
    return [START + timedelta(minutes=30 * i) for i in range(first, first + count)]


def stored(meter: Meter) -> dict[datetime, Decimal]:
    readings = IntervalReading.objects.filter(meter=meter).order_by("start")
    return dict(readings.values_list("start", "consumption_kwh"))


@pytest.fixture
def meter():
    return MeterFactory(meter_number="2000012345678")


def test_insert_stores_every_reading_and_the_newest_start(meter):
    readings = [(start, Decimal(f"0.{i + 1}25")) for i, start in enumerate(half_hours(0, 3))]

    assert readings_upsert(meter=meter, readings=iter(readings)) == 3

    assert stored(meter) == dict(readings)
    assert meter.latest_reading_start == START + timedelta(hours=1)
    meter.refresh_from_db()
    assert meter.latest_reading_start == START + timedelta(hours=1)


def test_revised_values_replace_and_unchanged_rows_are_left_alone(meter):
    starts = half_hours(0, 4)
    readings_upsert(meter=meter, readings=[(start, Decimal("1.5")) for start in starts])
    before = {r.start: r for r in IntervalReading.objects.filter(meter=meter)}

    # Openvolt revised the last two half-hours; the first two come back as they were.
    again = [(start, Decimal("1.500")) for start in starts[:2]]
    again += [(start, Decimal("2.75")) for start in starts[2:]]
    assert readings_upsert(meter=meter, readings=again) == 4

    assert stored(meter) == dict(again)
    after = {r.start: r for r in IntervalReading.objects.filter(meter=meter)}
    assert {start: r.pk for start, r in after.items()} == {s: r.pk for s, r in before.items()}
    assert all(after[s].fetched_at == before[s].fetched_at for s in starts[:2])
    assert all(after[s].fetched_at > before[s].fetched_at for s in starts[2:])


def test_overlapping_fetches_never_duplicate(meter):
    readings_upsert(meter=meter, readings=[(s, Decimal("1")) for s in half_hours(0, 48)])
    readings_upsert(meter=meter, readings=[(s, Decimal("2")) for s in half_hours(24, 48)])

    assert IntervalReading.objects.filter(meter=meter).count() == 72
    values = stored(meter)
    assert set(values) == set(half_hours(0, 72))
    assert [values[s] for s in half_hours(23, 2)] == [Decimal("1"), Decimal("2")]


def test_other_meters_readings_are_untouched(meter):
    other = MeterFactory(meter_number="2000087654321")
    readings_upsert(meter=other, readings=[(START, Decimal("9.9"))])

    readings_upsert(meter=meter, readings=[(START, Decimal("0.1"))])

    assert stored(other) == {START: Decimal("9.9")}
    assert stored(meter) == {START: Decimal("0.1")}


def test_latest_reading_start_never_moves_back(meter):
    readings_upsert(meter=meter, readings=[(s, Decimal("1")) for s in half_hours(48, 2)])

    readings_upsert(meter=meter, readings=[(s, Decimal("1")) for s in half_hours(0, 2)])

    meter.refresh_from_db()
    assert meter.latest_reading_start == START + timedelta(minutes=30 * 49)


def test_an_empty_list_stores_nothing(meter, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert readings_upsert(meter=meter, readings=[]) == 0

    assert not IntervalReading.objects.exists()
    meter.refresh_from_db()
    assert meter.latest_reading_start is None


def test_runs_in_the_callers_transaction(meter):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        readings_upsert(meter=meter, readings=[(START, Decimal("1"))])
        assert IntervalReading.objects.filter(meter=meter).count() == 1
        raise Abort

    assert not IntervalReading.objects.exists()
    meter.refresh_from_db()
    assert meter.latest_reading_start is None
