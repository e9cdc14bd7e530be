"""What each Openvolt event does to the mirror (payloads as in Openvolt's "Event Types").

Consents and meters are fetched from Openvolt's API, which holds their current truth, rather
than taken from a payload that may be older than what is already mirrored.
"""

import json
from typing import Any

from django.conf import settings

from common.locks import advisory_locks_take
from common.moments import parse_timestamp
from consents.models import FollowUp, HostedConsent
from consents.services import follow_up_open_for_revocation, hosted_consent_upsert
from events.dispatch import Outcome, PayloadError, handles
from events.models import Delivery, Source
from events.redaction import last_four
from events.sources.openvolt_api import OpenvoltClient, OpenvoltConflict, OpenvoltNotFound
from meters.models import Customer, Meter
from meters.readings import readings_upsert
from meters.services import (
    api_key_rotation_record,
    customer_upsert,
    meter_upsert,
    platform_user_upsert,
)


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


def _text(obj: dict[str, Any], field: str) -> str:
    value = obj.get(field)
    return value if isinstance(value, str) else ""


def _account_id(obj: dict[str, Any]) -> str:
    account = obj.get("account")
    return object_id(account) if isinstance(account, dict) else _text(obj, "account")


# Mirroring objects as the API or a payload shows them


def mirror_customer(obj: dict[str, Any]) -> Customer:
    return customer_upsert(
        external_id=object_id(obj),
        account_id=_account_id(obj),
        name=_text(obj, "name"),
        email=_text(obj, "email"),
        address=_text(obj, "address"),
        logo_url=_text(obj, "logo_url"),
        created_on_platform=parse_timestamp(obj.get("created_at")),
        platform_updated_at=parse_timestamp(obj.get("updated_at")),
        raw=obj,
    )


def customer_for(reference: Any, client: OpenvoltClient) -> Customer | None:
    """The mirrored customer for a full object or an id, fetched when not mirrored yet."""
    if isinstance(reference, dict):
        return mirror_customer(reference)
    if not isinstance(reference, str) or not reference:
        return None
    return Customer.objects.filter(external_id=reference).first() or mirror_customer(
        client.customer(reference)
    )


def mirror_meter(obj: dict[str, Any], client: OpenvoltClient) -> Meter:
    validity = obj.get("validity_state")
    return meter_upsert(
        external_id=object_id(obj),
        meter_number=_text(obj, "meter_number"),
        customer=customer_for(obj.get("customer"), client),
        account_id=_account_id(obj),
        enabled=obj.get("enabled") is not False,
        valid=obj.get("valid") if isinstance(obj.get("valid"), bool) else None,
        status=_text(obj, "status"),
        data_source=_text(obj, "data_source"),
        update_frequency=_text(obj, "update_frequency"),
        validity_state=validity if isinstance(validity, dict) else {},
        created_on_platform=parse_timestamp(obj.get("created_at")),
        platform_updated_at=parse_timestamp(obj.get("updated_at")),
        raw={k: v for k, v in obj.items() if k != "customer"},
    )


def meter_for(meter_id: str, client: OpenvoltClient) -> Meter:
    return Meter.objects.filter(external_id=meter_id).first() or mirror_meter(
        client.meter(meter_id), client
    )


def mirror_consent(obj: dict[str, Any], client: OpenvoltClient) -> HostedConsent:
    meter_numbers = obj.get("meter_numbers")
    consent, _ = hosted_consent_upsert(
        external_id=object_id(obj),
        customer=customer_for(obj.get("customer"), client),
        valid=obj.get("valid") is True,
        account_id=_account_id(obj),
        revoked_at=parse_timestamp(obj.get("revoked_at")),
        consented_at=parse_timestamp(obj.get("consented_at")),
        expiry=parse_timestamp(obj.get("expiry")),
        flow_type=_text(obj, "flow_type"),
        consent_method=_text(obj, "consent_method"),
        consentee_email_verified=obj.get("consentee_email_verified"),
        meter_numbers=[str(n) for n in meter_numbers] if isinstance(meter_numbers, list) else [],
        version=str(obj.get("hosted_consent_version") or ""),
        created_on_platform=parse_timestamp(obj.get("created_at")),
        platform_updated_at=parse_timestamp(obj.get("updated_at")),
        raw={k: v for k, v in obj.items() if k not in ("customer", "account")},
    )
    return consent


def current_consent(consent_id: str, client: OpenvoltClient, payload_copy: dict):
    """The consent as Openvolt holds it now; the payload's copy only if Openvolt lost it."""
    try:
        return client.hosted_consent(consent_id), None
    except OpenvoltNotFound:
        return payload_copy, f"Openvolt no longer has consent {consent_id}: mirrored the payload."


# Handlers


@handles(Source.OPENVOLT, "customer.created")
def customer_created(delivery: Delivery) -> Outcome:
    obj = payload_object(delivery)
    advisory_locks_take(keys=[f"customer:{object_id(obj)}"])
    customer = mirror_customer(obj)
    outcome = Outcome(summary=f"New customer {customer} ({customer.email or 'no e-mail'}).")
    outcome.link(customer)
    return outcome


@handles(Source.OPENVOLT, "user.created")
def user_created(delivery: Delivery) -> Outcome:
    # Openvolt publishes no schema for users: keep the object and the fields that are there.
    obj = payload_object(delivery)
    user = platform_user_upsert(
        external_id=object_id(obj),
        account_id=_account_id(obj),
        name=_text(obj, "name"),
        email=_text(obj, "email"),
        created_on_platform=parse_timestamp(obj.get("created_at")),
        raw=obj,
    )
    outcome = Outcome(summary=f"New Openvolt user {user}.")
    outcome.link(user)
    return outcome


@handles(Source.OPENVOLT, "meter.created")
def meter_created(delivery: Delivery) -> Outcome:
    obj = payload_object(delivery)
    meter_id = object_id(obj)
    advisory_locks_take(keys=[f"meter:{meter_id}"])
    client = OpenvoltClient()
    outcome = Outcome()
    try:
        current = client.meter(meter_id)
    except OpenvoltNotFound:
        current = obj
        outcome.warnings.append(f"Openvolt no longer has meter {meter_id}: mirrored the payload.")
    meter = mirror_meter(current, client)
    state = "valid" if meter.valid else f"not valid yet ({meter.status or 'no status'})"
    outcome.summary = f"New meter {meter} for {meter.customer or 'an unknown customer'}: {state}."
    outcome.link(meter)
    if meter.customer:
        outcome.link(meter.customer)
    return outcome


@handles(Source.OPENVOLT, "meter_data.received")
def meter_data_received(delivery: Delivery) -> Outcome:
    client = OpenvoltClient()
    outcome = Outcome()
    stored = 0
    items = payload_items(delivery)
    # Every meter's lock at once, in a fixed order: taken item by item, two deliveries
    # naming the same meters in other orders would each hold a meter the other waits for.
    advisory_locks_take(keys=(f"meter:{item.get('meter_id')}" for item in items))
    for index, item in enumerate(items, start=1):
        meter_id = item.get("meter_id")
        start = parse_timestamp(item.get("start_interval"))
        end = parse_timestamp(item.get("end_interval"))
        if not isinstance(meter_id, str) or not meter_id or start is None or end is None:
            outcome.warnings.append(f"Item {index} skipped: it needs meter_id and both intervals.")
            continue
        if end <= start:
            outcome.warnings.append(
                f"Item {index} skipped: meter {meter_id} ends ({end:%Y-%m-%d %H:%M}) "
                f"before it starts ({start:%Y-%m-%d %H:%M})."
            )
            continue
        try:
            meter = meter_for(meter_id, client)
        except OpenvoltNotFound:
            # Retrying cannot bring it back; the other items are still worth storing.
            outcome.warnings.append(f"Item {index} skipped: Openvolt has no meter {meter_id}.")
            continue
        intervals = client.interval_data(meter_id, start, end)
        stored += readings_upsert(
            meter=meter, readings=[(i.start, i.consumption_kwh) for i in intervals]
        )
        outcome.link(meter)
    meters = len(outcome.links)
    outcome.summary = f"{stored} half-hourly readings stored for {meters} meter(s)."
    return outcome


@handles(Source.OPENVOLT, "hosted_consent.approved")
def hosted_consent_approved(delivery: Delivery) -> Outcome:
    client = OpenvoltClient()
    outcome = Outcome()
    approvals, created = [], []
    consent_ids = [
        item.get("hosted_consent_id") or item.get("id") for item in payload_items(delivery)
    ]
    if not all(isinstance(consent_id, str) and consent_id for consent_id in consent_ids):
        raise PayloadError("An item has no hosted_consent_id.")
    # All at once, in order, for the reason given in meter_data_received.
    advisory_locks_take(keys=(f"consent:{consent_id}" for consent_id in consent_ids))
    for consent_id in consent_ids:
        consent = mirror_consent(client.hosted_consent(consent_id), client)
        outcome.link(consent)
        if consent.customer:
            outcome.link(consent.customer)
        if not consent.valid:
            outcome.warnings.append(f"Openvolt shows consent {consent_id} as not valid now.")
        elif settings.OPENVOLT_AUTO_CREATE_METERS:
            created += _create_missing_meters(consent, client, outcome)
        approvals.append(str(consent.customer or consent.external_id))
    outcome.summary = f"Consent approved by {', '.join(approvals)}."
    if created:
        outcome.summary += f" Created meter(s) {', '.join(created)} on Openvolt."
    return outcome


def _create_missing_meters(
    consent: HostedConsent, client: OpenvoltClient, outcome: Outcome
) -> list[str]:
    """POST /meters for each meter number of the consent not mirrored yet."""
    mirrored = set(
        Meter.objects.filter(meter_number__in=consent.meter_numbers).values_list(
            "meter_number", flat=True
        )
    )
    created = []
    for number in consent.meter_numbers:
        if number in mirrored:
            continue
        if consent.customer is None:
            outcome.warnings.append(f"Meter {number} not created: the consent has no customer.")
            continue
        try:
            created_meter = client.create_meter(
                meter_number=number,
                customer_id=consent.customer.external_id,
                hosted_consent_id=consent.external_id,
            )
        except OpenvoltConflict:
            # Created on an earlier run whose transaction did not commit, or by someone else:
            # its meter.created event will mirror it.
            outcome.warnings.append(f"Meter {number} already exists on Openvolt.")
            continue
        meter = mirror_meter(created_meter, client)
        outcome.link(meter)
        created.append(meter.meter_number)
    return created


@handles(Source.OPENVOLT, "hosted_consent.revoked")
def hosted_consent_revoked(delivery: Delivery) -> Outcome:
    obj = payload_object(delivery)
    consent_id = object_id(obj)
    advisory_locks_take(keys=[f"consent:{consent_id}"])
    client = OpenvoltClient()
    current, warning = current_consent(consent_id, client, payload_copy=obj)
    consent = mirror_consent(current, client)
    outcome = Outcome(warnings=[warning] if warning else [])
    outcome.link(consent)
    if consent.valid:
        outcome.summary = (
            f"Consent {consent_id} was revoked, but Openvolt shows it valid again: "
            "no follow-up needed."
        )
        return outcome
    follow_up, created = follow_up_open_for_revocation(consent=consent)
    outcome.link(follow_up, label=f"Follow-up: {follow_up.get_status_display()}")
    customer = consent.customer
    who = f"{customer} <{customer.email}>" if customer else "an unknown customer"
    meters = ", ".join(consent.meter_numbers) or "no meters"
    outcome.summary = f"{who} revoked consent {consent_id} for meters {meters}. " + (
        "A follow-up is open for customer success." if created else _reused(follow_up)
    )
    if customer:
        outcome.link(customer)
    return outcome


def _reused(follow_up: FollowUp) -> str:
    return f"The existing follow-up ({follow_up.get_status_display().lower()}) covers it."


@handles(Source.OPENVOLT, "api_keys.rotated")
def api_keys_rotated(delivery: Delivery) -> Outcome:
    obj = payload_object(delivery)
    rotated_at = delivery.occurred_at or parse_timestamp(obj.get("created_at"))
    if rotated_at is None:
        raise PayloadError("No time for the rotation: the envelope has no event_timestamp.")
    masked = obj.get("live_api_key")
    rotation, _ = api_key_rotation_record(
        account_id=object_id(obj),
        account_name=_text(obj, "name"),
        account_email=_text(obj, "email"),
        key_last_four=last_four(masked) if isinstance(masked, str) else "",
        readonly=obj.get("readonly") if isinstance(obj.get("readonly"), bool) else None,
        rotated_at=rotated_at,
    )
    ending = f" The new key ends in {rotation.key_last_four}." if rotation.key_last_four else ""
    outcome = Outcome(
        summary=f"The API key of Openvolt account {rotation.account_name or rotation.account_id} "
        f"was rotated.{ending} Update OPENVOLT_API_KEY wherever it is used."
    )
    outcome.link(rotation, label="Key rotation")
    return outcome
