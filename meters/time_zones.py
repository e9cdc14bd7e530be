"""Which time zone a meter's days are counted in: the customer's day, not UTC's.

The rule, from what the meter's own row says (no query: safe on any list of meters):

1. its `data_source` is a country's data hub or metering company: `dcc` and `electralink`
   are Great Britain's; `edsn`, `joulz`, `kenter` and `meetbedrijf` the Netherlands';
2. else its number: 13 digits is an MPAN core (GB), 18 digits from 871 a Dutch EAN (NL);
3. else neither says: settings.METER_TIME_ZONE.

GB meters count days in Europe/London, NL ones in Europe/Amsterdam. A clock-change day then
has 46 or 50 half-hours, and a summer day starts at 23:00 (London) or 22:00 (Amsterdam) UTC.
"""

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from meters.models import Meter

GB, NL = "GB", "NL"
COUNTRY_TIME_ZONES = {GB: "Europe/London", NL: "Europe/Amsterdam"}
DATA_SOURCE_COUNTRIES = {
    "dcc": GB,
    "electralink": GB,
    "edsn": NL,
    "joulz": NL,
    "kenter": NL,
    "meetbedrijf": NL,
}
_MPAN_CORE = re.compile(r"\d{13}")
_DUTCH_EAN = re.compile(r"871\d{15}")


def meter_country(meter: Meter) -> str:
    """GB, NL, or "" when neither the meter's data source nor its number tells."""
    country = DATA_SOURCE_COUNTRIES.get(meter.data_source.strip().lower())
    if country:
        return country
    number = meter.meter_number.replace(" ", "")
    if _MPAN_CORE.fullmatch(number):
        return GB
    if _DUTCH_EAN.fullmatch(number):
        return NL
    return ""


def meter_time_zone(meter: Meter) -> ZoneInfo:
    """The zone of the meter's days: its country's, else METER_TIME_ZONE."""
    name = COUNTRY_TIME_ZONES.get(meter_country(meter))
    return ZoneInfo(name) if name else default_meter_time_zone()


def default_meter_time_zone() -> ZoneInfo:
    """METER_TIME_ZONE: the days of a meter whose country is not known, and of figures over
    all meters (the dashboard's readings received per day)."""
    return ZoneInfo(settings.METER_TIME_ZONE)


def time_zone_problem(name: str) -> str:
    """Why `name` is not a time zone Switchboard can count days in; "" when it is one."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"{name!r} is not a time zone of the IANA database."
    return ""
