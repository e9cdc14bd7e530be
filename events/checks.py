"""System checks of the settings the events app reads (`manage.py check`, which `migrate` and
the worker's start run too): a deployment that cannot work refuses to start, saying why."""

from django.conf import settings
from django.core.checks import Error

from events.sources.openvolt_api import api_key_problem


def openvolt_api_key_check(app_configs=None, **kwargs) -> list[Error]:
    """An OPENVOLT_API_KEY that cannot be sent as a header (whitespace inside it, characters
    beyond visible ASCII) would fail every call to Openvolt, delivery after delivery."""
    problem = api_key_problem(settings.OPENVOLT_API_KEY)
    if not problem:
        return []
    return [
        Error(
            problem,
            hint="Set OPENVOLT_API_KEY to the key exactly as Openvolt shows it, on one line.",
            id="events.E001",
        )
    ]
