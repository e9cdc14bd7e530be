"""Openvolt's objects, read from a payload or an API answer, written to the mirror.

Reading and writing only: the calls to Openvolt are made before, outside any transaction
(`customer_fetch_if_missing` here, the item kinds in openvolt_items.py).
"""

import json
from typing import Any

from django.db import models

from common.fits import values_fit
from common.moments import parse_timestamp
from consents.models import HostedConsent
from consents.services import hosted_consent_upsert
from events.dispatch import PayloadError
from events.models import Delivery
from events.sources.openvolt_api import OpenvoltClient
from meters.models import Customer, Meter
from meters.services import customer_upsert, meter_upsert


def payload_items(delivery: Delivery) -> list[dict[str, Any]]:
    """The envelope's payload as a list of objects, whether sent as object, array or string."""
    payload = (delivery.payload or {}).get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload) if payload.strip() else []
        except ValueError:
            raise PayloadError("The payload is a string that is not JSON.") from None
    if isinstance(payload, dict):
        return [payload]
    if isinstance(payload, list) and all(isinstance(item, dict) for item in payload):
        return payload
    raise PayloadError("The payload is not an object or a list of objects.")


def payload_object(delivery: Delivery) -> dict[str, Any]:
    items = payload_items(delivery)
    if len(items) != 1:
        raise PayloadError(f"Expected one object in the payload, found {len(items)}.")
    return items[0]


def object_id(obj: dict[str, Any]) -> str:
    value = obj.get("id") or obj.get("_id")
    if not isinstance(value, str) or not value:
        raise PayloadError("The object has no id.")
    return value


def text_of(obj: dict[str, Any], field: str) -> str:
    value = obj.get(field)
    return value if isinstance(value, str) else ""


def account_id_of(obj: dict[str, Any]) -> str:
    account = obj.get("account")
    return object_id(account) if isinstance(account, dict) else text_of(obj, "account")


# Our field -> the key of Openvolt's object, where they differ.
_KEYS = {"external_id": "id", "account_id": "account", "version": "hosted_consent_version"}


def fitting(
    model: type[models.Model],
    kind: str,
    values: dict[str, Any],
    keys: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The values, once each text fits its field of `model`; one too long is named as
    Openvolt's object names it (`meter.meter_number`: `kind`, then the key; `keys` adds to
    the keys that differ from our fields)."""
    keys = {**_KEYS, **(keys or {})}
    values_fit(model, values, names={f: f"{kind}.{keys.get(f, f)}" for f in values})
    return values


# Mirroring objects as the API or a payload shows them


def mirror_customer(obj: dict[str, Any]) -> Customer:
    texts = {
        "external_id": object_id(obj),
        "account_id": account_id_of(obj),
        "name": text_of(obj, "name"),
        "email": text_of(obj, "email"),
        "address": text_of(obj, "address"),
        "logo_url": text_of(obj, "logo_url"),
    }
    return customer_upsert(
        **fitting(Customer, "customer", texts),
        created_on_platform=parse_timestamp(obj.get("created_at")),
        platform_updated_at=parse_timestamp(obj.get("updated_at")),
        raw=obj,
    )


def customer_fetch_if_missing(reference: Any, client: OpenvoltClient) -> dict[str, Any] | None:
    """The customer object an object names by id, fetched when it is not mirrored yet (a full
    object, or a mirrored customer, needs no call). Outside any transaction."""
    if not isinstance(reference, str) or not reference:
        return None
    if Customer.objects.filter(external_id=reference).exists():
        return None
    return client.customer(reference)


def customer_for(reference: Any, fetched: dict[str, Any] | None) -> Customer | None:
    """The mirrored customer for a full object or an id (`fetched`: the object fetched for an
    id not mirrored yet)."""
    if isinstance(reference, dict):
        return mirror_customer(reference)
    if not isinstance(reference, str) or not reference:
        return None
    customer = Customer.objects.filter(external_id=reference).first()
    if customer is None and fetched is not None:
        customer = mirror_customer(fetched)
    return customer


def mirror_meter(obj: dict[str, Any], customer: dict[str, Any] | None = None) -> Meter:
    validity = obj.get("validity_state")
    texts = {
        "external_id": object_id(obj),
        "meter_number": text_of(obj, "meter_number"),
        "account_id": account_id_of(obj),
        "status": text_of(obj, "status"),
        "data_source": text_of(obj, "data_source"),
        "update_frequency": text_of(obj, "update_frequency"),
    }
    return meter_upsert(
        **fitting(Meter, "meter", texts),
        customer=customer_for(obj.get("customer"), customer),
        enabled=obj.get("enabled") is not False,
        valid=obj.get("valid") if isinstance(obj.get("valid"), bool) else None,
        validity_state=validity if isinstance(validity, dict) else {},
        created_on_platform=parse_timestamp(obj.get("created_at")),
        platform_updated_at=parse_timestamp(obj.get("updated_at")),
        raw={k: v for k, v in obj.items() if k != "customer"},
    )


def mirror_consent(obj: dict[str, Any], customer: dict[str, Any] | None = None) -> HostedConsent:
    meter_numbers = obj.get("meter_numbers")
    texts = {
        "external_id": object_id(obj),
        "account_id": account_id_of(obj),
        "flow_type": text_of(obj, "flow_type"),
        "consent_method": text_of(obj, "consent_method"),
        "meter_numbers": [str(n) for n in meter_numbers] if isinstance(meter_numbers, list) else [],
        "version": str(obj.get("hosted_consent_version") or ""),
    }
    consent, _ = hosted_consent_upsert(
        **fitting(HostedConsent, "consent", texts),
        customer=customer_for(obj.get("customer"), customer),
        valid=obj.get("valid") is True,
        revoked_at=parse_timestamp(obj.get("revoked_at")),
        consented_at=parse_timestamp(obj.get("consented_at")),
        expiry=parse_timestamp(obj.get("expiry")),
        consentee_email_verified=obj.get("consentee_email_verified"),
        created_on_platform=parse_timestamp(obj.get("created_at")),
        platform_updated_at=parse_timestamp(obj.get("updated_at")),
        raw={k: v for k, v in obj.items() if k not in ("customer", "account")},
    )
    return consent
