"""Sample Openvolt deliveries: the envelope of CONTRACT.md section 4 around the payloads of
Openvolt's "Event Types" page, about the sandbox's catalogue so that processing them against
the sandbox succeeds."""

import secrets
import string
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from events.sources.openvolt_api import openvolt_timestamp
from sandbox import catalogue
from sandbox.representations import customer_json, hosted_consent_json, meter_event_json

# What the sandbox's deliveries carry as subscription_id, unless the endpoint is bound to one.
SANDBOX_SUBSCRIPTION_ID = "5f0c6d1e-8a4b-4c2d-9e7f-3b1a2c4d5e6f"
# Meters whose data the `meter_data.received` sample announces.
METERS_WITH_NEW_DATA = (catalogue.BAKERY_OVENS, catalogue.COLD_STORE)
DAYS_OF_NEW_DATA = 2


def envelope(
    event_type: str, payload: Any, *, delivery_id: str, subscription_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "subscription_id": subscription_id,
        "event_id": event_type,
        "event_timestamp": openvolt_timestamp(now),
        "delivery_id": delivery_id,
        "payload": payload,
    }


def meter_data_received(now: datetime) -> list[dict[str, str]]:
    """The last two whole days (UTC) of two meters, as a daily update announces them."""
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DAYS_OF_NEW_DATA)
    return [
        {
            "meter_id": meter.id,
            "start_interval": openvolt_timestamp(start),
            "end_interval": openvolt_timestamp(end),
        }
        for meter in METERS_WITH_NEW_DATA
    ]


def meter_created(now: datetime) -> dict[str, Any]:
    return meter_event_json(catalogue.COLD_STORE_OFFICE)


def user_created(now: datetime) -> dict[str, Any]:
    # Openvolt publishes no schema for users: the fields its other objects have.
    user = catalogue.USER
    return {
        "id": user.id,
        "account": catalogue.ACCOUNT.id,
        "name": user.name,
        "email": user.email,
        "created_at": openvolt_timestamp(user.created_at),
    }


def customer_created(now: datetime) -> dict[str, Any]:
    return customer_json(catalogue.VICARAGE, id_key="id")


def api_keys_rotated(now: datetime) -> dict[str, Any]:
    account = catalogue.ACCOUNT
    return {
        "id": account.id,
        "name": account.name,
        "email": account.email,
        "live_api_key": _fake_api_key(),
        "readonly": False,
        "created_at": openvolt_timestamp(account.created_at),
        "logo": account.logo,
    }


def hosted_consent_approved(now: datetime) -> list[dict[str, str]]:
    return [{"hosted_consent_id": catalogue.NEW_SITE_CONSENT.id}]


def hosted_consent_revoked(now: datetime) -> dict[str, Any]:
    return hosted_consent_json(catalogue.REVOKED_CONSENT, now=now)


def _fake_api_key() -> str:
    """Four groups of seven, as Openvolt's keys look; random, so it is never a real one."""
    alphabet = string.ascii_uppercase + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(7)) for _ in range(4))


PAYLOADS: dict[str, Callable[[datetime], Any]] = {
    "meter_data.received": meter_data_received,
    "meter.created": meter_created,
    "user.created": user_created,
    "customer.created": customer_created,
    "api_keys.rotated": api_keys_rotated,
    "hosted_consent.approved": hosted_consent_approved,
    "hosted_consent.revoked": hosted_consent_revoked,
}
