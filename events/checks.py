"""System checks of the settings the events app reads (`manage.py check`, which `migrate` and
the worker's start run too): a deployment that cannot work refuses to start, saying why."""

from django.conf import settings
from django.core.checks import Error

from common.secret_box import invalid_key_positions
from events.sources.openvolt_api import api_key_problem

FERNET_KEY_HINT = (
    'Each key is 32 bytes in URL-safe base64, as made by: python -c "from cryptography.fernet '
    'import Fernet; print(Fernet.generate_key().decode())"'
)


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


def secrets_encryption_key_check(app_configs=None, **kwargs) -> list[Error]:
    """A key that is not a Fernet key would encrypt nothing and decrypt nothing: every Nectar
    delivery would be refused. The message names its position, never the key."""
    keys = settings.SECRETS_ENCRYPTION_KEY
    return [
        Error(
            f"SECRETS_ENCRYPTION_KEY: key {position} of {len(keys)} is not a Fernet key.",
            hint=FERNET_KEY_HINT,
            id="events.E002",
        )
        for position in invalid_key_positions(keys)
    ]


# A sender retries a delivery for up to about 28 hours (Svix); a shorter retention would remove
# it before its last retry, which would then be taken in and processed as new.
RETENTION_DAYS_AT_LEAST = 2


def delivery_retention_check(app_configs=None, **kwargs) -> list[Error]:
    days = settings.DELIVERY_RETENTION_DAYS
    if days >= RETENTION_DAYS_AT_LEAST:
        return []
    return [
        Error(
            f"DELIVERY_RETENTION_DAYS is {days}: deliveries would be removed while their "
            "senders may still retry them, and a retry would be processed again.",
            hint=f"Set DELIVERY_RETENTION_DAYS to {RETENTION_DAYS_AT_LEAST} or more "
            "(the default is 90).",
            id="events.E003",
        )
    ]
