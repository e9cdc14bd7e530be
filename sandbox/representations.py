"""The JSON of the sandbox's objects, shaped as Openvolt's API and events show them.

The REST objects (`GET /meters`, `GET /customers`) carry MongoDB's `_id`; the objects inside a
hosted consent and the event payloads carry `id`, as in Openvolt's "Event Types" page.
"""

from datetime import datetime
from typing import Any

from events.sources.openvolt_api import openvolt_timestamp
from sandbox import catalogue
from sandbox.catalogue import Customer, HostedConsent, Meter
from sandbox.consumption import consumption_kwh, half_hour_starts

HALF_HOUR_SECONDS = 30 * 60


def customer_json(customer: Customer, *, id_key: str = "_id") -> dict[str, Any]:
    return {
        id_key: customer.id,
        "account": catalogue.ACCOUNT.id,
        "name": customer.name,
        "email": customer.email,
        "address": customer.address,
        "logo_url": customer.logo_url,
        "created_at": openvolt_timestamp(customer.created_at),
    }


def meter_json(meter: Meter) -> dict[str, Any]:
    """`GET /meters/<id>`: the customer as a full object."""
    return {
        "_id": meter.id,
        "meter_number": meter.meter_number,
        "customer": customer_json(catalogue.customer(meter.customer_id)),
        "account": catalogue.ACCOUNT.id,
        "enabled": meter.enabled,
        "status": meter.status,
        "data_source": meter.data_source,
        "update_frequency": meter.update_frequency,
        "valid": meter.valid,
        "validity_state": _validity_json(meter),
        "created_at": openvolt_timestamp(meter.created_at),
        "updated_at": openvolt_timestamp(meter.updated_at),
    }


def meter_event_json(meter: Meter) -> dict[str, Any]:
    """The `meter.created` payload: the customer as an id."""
    return {
        "id": meter.id,
        "account": catalogue.ACCOUNT.id,
        "meter_number": meter.meter_number,
        "customer": meter.customer_id,
        "enabled": meter.enabled,
        "update_frequency": meter.update_frequency,
        "data_source": meter.data_source,
        "created_at": openvolt_timestamp(meter.created_at),
        "validity_state": _validity_json(meter),
        "valid": meter.valid,
        "status": meter.status,
    }


def _validity_json(meter: Meter) -> dict[str, bool]:
    validity = meter.validity
    return {
        "missing_consent": validity.missing_consent,
        "expired_consent": validity.expired_consent,
        "is_disabled_by_user": validity.is_disabled_by_user,
        "has_invalid_meter_number": validity.has_invalid_meter_number,
    }


def hosted_consent_json(consent: HostedConsent, *, now: datetime) -> dict[str, Any]:
    """`GET /hosted-consents/<id>`, shaped as the `hosted_consent.revoked` payload."""
    account = catalogue.ACCOUNT
    return {
        "id": consent.id,
        "account": {"id": account.id, "name": account.name, "logo": account.logo},
        "customer": customer_json(catalogue.customer(consent.customer_id), id_key="id"),
        "expiry": openvolt_timestamp(consent.expiry(now)),
        "redirect_url": "https://brightwater-energy.example/consent/complete",
        "flow_type": consent.flow_type,
        "consent_method": consent.consent_method,
        "consentee_email_verified": consent.consentee_email_verified,
        "meter_numbers": list(consent.meter_numbers),
        "token": consent.token,
        "created_at": openvolt_timestamp(consent.created_at),
        "consented_at": openvolt_timestamp(consent.consented_at),
        "hosted_consent_version": "0",
        "updated_at": openvolt_timestamp(consent.updated_at),
        "revoked_at": openvolt_timestamp(consent.revoked_at) if consent.revoked_at else None,
        "hosted_consent_link": f"https://consent.openvolt.com/{consent.id}?t={consent.token}",
        "valid": consent.valid(now),
    }


def interval_data_json(
    meter: Meter, start: datetime, end: datetime, *, now: datetime
) -> dict[str, Any]:
    """`GET /interval-data?granularity=hh`: half-hours that are over and that Openvolt holds."""
    rows = [
        {
            "start_interval": openvolt_timestamp(moment),
            "meter_id": meter.id,
            "meter_number": meter.meter_number,
            "customer_id": meter.customer_id,
            "consumption": str(consumption_kwh(meter.id, meter.scale_kwh, moment)),
            "consumption_units": "kWh",
        }
        for moment in half_hour_starts(start, end)
        if (now - moment).total_seconds() >= HALF_HOUR_SECONDS and meter.has_data_for(moment)
    ]
    return {
        "startInterval": openvolt_timestamp(start),
        "endInterval": openvolt_timestamp(end),
        "granularity": "hh",
        "data": rows,
    }
