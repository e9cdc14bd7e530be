from datetime import UTC, datetime, timedelta
from statistics import mean
from zoneinfo import ZoneInfo

from sandbox import catalogue
from sandbox.consumption import consumption_kwh, half_hour_starts

LONDON = ZoneInfo("Europe/London")
METER = catalogue.BAKERY_OVENS


def kwh(meter_id, moment):
    return consumption_kwh(meter_id, METER.scale_kwh, moment)


def mean_between(day, first_hour, last_hour, meter_id=METER.id):
    """Mean consumption of the half-hours starting between these UK clock hours."""
    starts = [
        datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)
        for hour in range(first_hour, last_hour)
        for minute in (0, 30)
    ]
    return mean(float(kwh(meter_id, moment)) for moment in starts)


def test_a_day_is_low_at_night_with_a_morning_and_a_higher_evening_peak():
    for day in (datetime(2025, 1, 8), datetime(2025, 7, 9)):  # Wednesdays, GMT and BST
        night = mean_between(day, 1, 5)
        morning = mean_between(day, 7, 9)
        afternoon = mean_between(day, 14, 16)
        evening = mean_between(day, 18, 20)
        assert night < afternoon < morning < evening
        assert evening > 3 * night


def test_weekends_and_summer_use_less():
    weekday = mean_between(datetime(2025, 1, 8), 0, 24)
    assert mean_between(datetime(2025, 1, 11), 0, 24) < weekday  # a Saturday
    assert mean_between(datetime(2025, 7, 9), 0, 24) < weekday


def test_values_are_fixed_by_meter_and_half_hour():
    moment = datetime(2025, 3, 4, 18, 30, tzinfo=UTC)

    assert kwh(METER.id, moment) == kwh(METER.id, moment)
    assert kwh(METER.id, moment) == kwh(METER.id, moment.astimezone(LONDON))
    assert kwh(METER.id, moment) != kwh(catalogue.BAKERY_SHOP.id, moment)
    assert kwh(METER.id, moment) != kwh(METER.id, moment + timedelta(days=7))
    assert kwh(METER.id, moment).as_tuple().exponent == -3


def test_half_hours_run_from_the_one_holding_start_to_the_one_starting_at_end():
    start = datetime(2025, 3, 4, 10, 10, tzinfo=UTC)
    end = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)

    starts = list(half_hour_starts(start, end))

    assert starts[0] == datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    assert starts[-1] == end
    assert len(starts) == 5
