"""Which zone a meter's days are counted in (meters/time_zones.py), and the check of
METER_TIME_ZONE."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.checks import ERROR, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from meters.models import Meter
from meters.readings import readings_upsert
from meters.selectors import meter_days
from meters.time_zones import meter_country, meter_time_zone
from tests.factories import MeterFactory


@pytest.mark.parametrize(
    ("data_source", "meter_number", "country", "zone"),
    [
        ("dcc", "", "GB", "Europe/London"),
        ("electralink", "123456789", "GB", "Europe/London"),
        ("EDSN", "", "NL", "Europe/Amsterdam"),
        ("joulz", "", "NL", "Europe/Amsterdam"),
        ("kenter", "", "NL", "Europe/Amsterdam"),
        ("meetbedrijf", "", "NL", "Europe/Amsterdam"),
        # The data source comes first.
        ("edsn", "1200023305967", "NL", "Europe/Amsterdam"),
        # Then the number: an MPAN core, a Dutch EAN.
        ("", "1200023305967", "GB", "Europe/London"),
        ("solaredge", "12 0002 3305 967", "GB", "Europe/London"),
        ("", "871685900012345678", "NL", "Europe/Amsterdam"),
        ("anexo", "871685900012345678", "NL", "Europe/Amsterdam"),
        # Neither tells: METER_TIME_ZONE.
        ("", "123456789", "", "America/New_York"),
        ("solaredge", "", "", "America/New_York"),
        ("", "541685900012345678", "", "America/New_York"),
        ("", "12000233059670", "", "America/New_York"),
    ],
)
def test_a_meter_s_zone_is_its_country_s_else_the_setting(
    settings, data_source, meter_number, country, zone
):
    settings.METER_TIME_ZONE = "America/New_York"
    meter = Meter(data_source=data_source, meter_number=meter_number)

    assert meter_country(meter) == country
    assert meter_time_zone(meter).key == zone


def test_the_default_zone_is_london(settings):
    assert settings.METER_TIME_ZONE == "Europe/London"
    assert meter_time_zone(Meter(meter_number="123456789")).key == "Europe/London"


def test_a_meter_of_no_country_counts_days_in_meter_time_zone(db, settings):
    settings.METER_TIME_ZONE = "America/New_York"
    meter = MeterFactory(meter_number="123456789")
    # New York's summer day starts at 04:00 UTC.
    first = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
    readings_upsert(
        meter=meter,
        readings=[(first + timedelta(minutes=30 * i), Decimal("1")) for i in range(8)],
    )

    assert list(meter_days(meter=meter)) == [
        (date(2026, 6, 30), 4, Decimal("4")),
        (date(2026, 7, 1), 4, Decimal("4")),
    ]


def meter_time_zone_errors() -> list:
    return [message for message in run_checks() if "METER_TIME_ZONE" in message.msg]


@pytest.mark.parametrize("name", ["Europe/Londn", "", "Europe", "zone.tab", "../etc/passwd"])
def test_a_zone_that_is_not_one_is_refused(settings, name):
    settings.METER_TIME_ZONE = name

    with pytest.raises(SystemCheckError) as refused:
        call_command("check")

    assert "METER_TIME_ZONE" in str(refused.value)
    assert [(error.id, error.level) for error in meter_time_zone_errors()] == [
        ("meters.E001", ERROR)
    ]


@pytest.mark.parametrize("name", ["Europe/London", "Europe/Amsterdam", "UTC"])
def test_a_zone_passes(settings, name):
    settings.METER_TIME_ZONE = name

    assert meter_time_zone_errors() == []
