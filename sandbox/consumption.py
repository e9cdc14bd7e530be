"""Plausible half-hourly consumption that is the same on every fetch.

A day's shape in UK clock time (a low night, a morning peak, a higher evening peak), a bit
lower at weekends and in summer, and a deterministic noise of ±8 % drawn from a hash of the
meter id and the half-hour, so a re-fetch, in any process, gives the same values.
"""

import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

HALF_HOUR = timedelta(minutes=30)
UK = ZoneInfo("Europe/London")
THOUSANDTH = Decimal("0.001")


def half_hour_starts(start: datetime, end: datetime) -> Iterator[datetime]:
    """Starts of the half-hours from the one holding `start` up to AND INCLUDING the one
    starting at `end`: what Openvolt's /interval-data returns."""
    moment = start.astimezone(UTC).replace(second=0, microsecond=0)
    moment -= timedelta(minutes=moment.minute % 30)
    while moment <= end:
        yield moment
        moment += HALF_HOUR


def consumption_kwh(meter_id: str, scale_kwh: float, start: datetime) -> Decimal:
    local = start.astimezone(UK)
    hour = local.hour + local.minute / 60 + 0.25  # the middle of the half-hour
    weekend = 0.8 if local.weekday() >= 5 else 1.0
    # Highest in late January, lowest in July.
    season = 1 + 0.15 * math.cos(2 * math.pi * (local.timetuple().tm_yday - 20) / 365.25)
    noise = 0.92 + 0.16 * _unit_noise(meter_id, start)
    kwh = scale_kwh * daily_shape(hour) * weekend * season * noise
    return Decimal(kwh).quantize(THOUSANDTH)


def daily_shape(hour: float) -> float:
    """Relative demand at a time of day (0-24): about 0.2 at night, 1 at the evening peak."""
    return (
        0.2
        + 0.55 * _bump(hour, centre=8.0, width=1.5)
        + 0.25 * _bump(hour, centre=13.0, width=3.0)
        + 0.8 * _bump(hour, centre=18.5, width=1.8)
    )


def _bump(hour: float, *, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def _unit_noise(meter_id: str, start: datetime) -> float:
    """A number in [0, 1) fixed by the meter and the half-hour."""
    key = f"{meter_id}:{start.astimezone(UTC):%Y-%m-%dT%H:%M}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8]) / 2**64
