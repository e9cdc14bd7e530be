"""System checks of the settings the meters app reads (`manage.py check`, which `migrate` and
the worker's start run too)."""

from django.conf import settings
from django.core.checks import Error

from meters.time_zones import time_zone_problem


def meter_time_zone_check(app_configs=None, **kwargs) -> list[Error]:
    """Every meter page, daily export and the dashboard count days in METER_TIME_ZONE when
    a meter's country does not say: a zone that does not exist would break them all."""
    problem = time_zone_problem(settings.METER_TIME_ZONE)
    if not problem:
        return []
    return [
        Error(
            f"METER_TIME_ZONE: {problem}",
            hint="Name a zone as the IANA database does, e.g. Europe/London or Europe/Amsterdam.",
            id="meters.E001",
        )
    ]
