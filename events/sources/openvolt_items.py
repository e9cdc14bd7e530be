"""The items Openvolt's events fan out into (events/items.py), each fetched from Openvolt
outside any transaction, then stored in a short one under its object's lock.

    openvolt.readings         one meter, up to 31 days of half-hours (meter_data.received)
    openvolt.meter            one meter, as Openvolt holds it now (meter.created)
    openvolt.consent          one approved consent (hosted_consent.approved)
    openvolt.meter_creation   one meter number of an approved consent, created on Openvolt
    openvolt.revocation       one revoked consent, and its follow-up (hosted_consent.revoked)
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from common.moments import parse_timestamp
from consents.models import FollowUp
from consents.services import follow_up_open_for_revocation
from events.dispatch import ItemKind, ItemSkipped, Outcome, WorkItem, item_kind_register
from events.models import DeliveryItem
from events.sources.openvolt_api import (
    Interval,
    OpenvoltClient,
    OpenvoltConflict,
    OpenvoltNotFound,
    data_source_for,
)
from events.sources.openvolt_mirror import (
    customer_fetch_if_missing,
    mirror_consent,
    mirror_meter,
)
from meters.models import Meter
from meters.partitions import reading_partitions_ensure
from meters.readings import readings_upsert


@dataclass
class Fetched:
    """What an item fetched: the object, the customer it names when not mirrored yet, what
    else the call brought, and what is worth a warning."""

    obj: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None
    intervals: list[Interval] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _object_fetch(fetch, payload_copy: dict[str, Any], what: str) -> Fetched:
    """The object as Openvolt holds it now, with the customer it names; the payload's copy
    only if Openvolt lost it."""
    client = OpenvoltClient()
    try:
        fetched = Fetched(obj=fetch(client))
    except OpenvoltNotFound:
        fetched = Fetched(
            obj=payload_copy, warnings=[f"Openvolt no longer has {what}: mirrored the payload."]
        )
    fetched.customer = customer_fetch_if_missing(fetched.obj.get("customer"), client)
    return fetched


# --- openvolt.readings ----------------------------------------------------------------------


def readings_fetch(item: DeliveryItem) -> Fetched:
    client = OpenvoltClient()
    meter_id = item.subject
    fetched = Fetched()
    if not Meter.objects.filter(external_id=meter_id).exists():
        try:
            fetched.obj = client.meter(meter_id)
        except OpenvoltNotFound:
            # Retrying cannot bring it back; the other items are still worth storing.
            raise ItemSkipped(
                f"Item {item.position} skipped: Openvolt has no meter {meter_id}."
            ) from None
        fetched.customer = customer_fetch_if_missing(fetched.obj.get("customer"), client)
    start, end = _interval(item)
    fetched.intervals = client.interval_data(meter_id, start, end)
    # Before the store's transaction: a new month's partition then holds no lock in it.
    reading_partitions_ensure(starts=[interval.start for interval in fetched.intervals])
    return fetched


def readings_store(item: DeliveryItem, fetched: Fetched) -> Outcome:
    meter = Meter.objects.filter(external_id=item.subject).first()
    if meter is None:
        meter = mirror_meter(fetched.obj, fetched.customer)
    stored = readings_upsert(
        meter=meter, readings=[(i.start, i.consumption_kwh) for i in fetched.intervals]
    )
    outcome = Outcome(
        summary=f"{stored} half-hourly readings stored for meter {meter.meter_number}.",
        readings_stored=stored,
    )
    outcome.link(meter)
    return outcome


def readings_summarize(items: list[DeliveryItem]) -> str:
    stored = sum(item.readings_stored for item in items)
    meters = len({item.subject for item in items})
    return f"{stored:,} half-hourly readings stored for {meters:,} meter(s)."


def _interval(item: DeliveryItem) -> tuple[datetime, datetime]:
    return parse_timestamp(item.parameters["start"]), parse_timestamp(item.parameters["end"])


# --- openvolt.meter -------------------------------------------------------------------------


def meter_fetch(item: DeliveryItem) -> Fetched:
    return _object_fetch(
        lambda client: client.meter(item.subject),
        item.parameters["payload"],
        f"meter {item.subject}",
    )


def meter_store(item: DeliveryItem, fetched: Fetched) -> Outcome:
    meter = mirror_meter(fetched.obj, fetched.customer)
    state = "valid" if meter.valid else f"not valid yet ({meter.status or 'no status'})"
    outcome = Outcome(
        summary=f"New meter {meter} for {meter.customer or 'an unknown customer'}: {state}.",
        warnings=fetched.warnings,
    )
    outcome.link(meter)
    if meter.customer:
        outcome.link(meter.customer)
    return outcome


# --- openvolt.consent and openvolt.meter_creation -------------------------------------------


def consent_fetch(item: DeliveryItem) -> Fetched:
    client = OpenvoltClient()
    obj = client.hosted_consent(item.subject)
    return Fetched(obj=obj, customer=customer_fetch_if_missing(obj.get("customer"), client))


def consent_store(item: DeliveryItem, fetched: Fetched) -> Outcome:
    consent = mirror_consent(fetched.obj, fetched.customer)
    outcome = Outcome(summary=str(consent.customer or consent.external_id))
    outcome.link(consent)
    if consent.customer:
        outcome.link(consent.customer)
    if not consent.valid:
        outcome.warnings.append(f"Openvolt shows consent {consent.external_id} as not valid now.")
        return outcome
    if not settings.OPENVOLT_AUTO_CREATE_METERS:
        return outcome
    mirrored = set(
        Meter.objects.filter(meter_number__in=consent.meter_numbers).values_list(
            "meter_number", flat=True
        )
    )
    for number in consent.meter_numbers:
        if number in mirrored:
            continue
        if consent.customer is None:
            outcome.warnings.append(f"Meter {number} not created: the consent has no customer.")
            continue
        outcome.items.append(
            WorkItem(
                kind="openvolt.meter_creation",
                subject=number,
                parameters={
                    "customer_id": consent.customer.external_id,
                    "hosted_consent_id": consent.external_id,
                    "data_source": data_source_for(flow_type=consent.flow_type),
                },
            )
        )
    return outcome


def consent_summarize(items: list[DeliveryItem]) -> str:
    approvals = [item.summary for item in items if item.summary]
    return f"Consent approved by {', '.join(approvals)}." if approvals else ""


def meter_creation_fetch(item: DeliveryItem) -> Fetched:
    number = item.subject
    if Meter.objects.filter(meter_number=number).exists():
        raise ItemSkipped(f"Meter {number} is mirrored already: not created again.")
    parameters = item.parameters
    try:
        # Never repeated blindly: the client does not repeat a POST whose outcome it cannot
        # know, and Openvolt answers 409 for a meter it has (one made by an earlier attempt).
        created = OpenvoltClient().create_meter(
            meter_number=number,
            customer_id=parameters["customer_id"],
            hosted_consent_id=parameters["hosted_consent_id"],
            data_source=parameters["data_source"],
        )
    except OpenvoltConflict:
        raise ItemSkipped(
            f"Meter {number} already exists on Openvolt: its meter.created event mirrors it."
        ) from None
    return Fetched(obj=created)


def meter_creation_store(item: DeliveryItem, fetched: Fetched) -> Outcome:
    meter = mirror_meter(fetched.obj)
    outcome = Outcome(summary=meter.meter_number)
    outcome.link(meter)
    return outcome


def meter_creation_summarize(items: list[DeliveryItem]) -> str:
    created = [item.summary for item in items if item.status == DeliveryItem.Status.DONE]
    return f"Created meter(s) {', '.join(created)} on Openvolt." if created else ""


# --- openvolt.revocation --------------------------------------------------------------------


def revocation_fetch(item: DeliveryItem) -> Fetched:
    consent_id = item.subject
    return _object_fetch(
        lambda client: client.hosted_consent(consent_id),
        item.parameters["payload"],
        f"consent {consent_id}",
    )


def revocation_store(item: DeliveryItem, fetched: Fetched) -> Outcome:
    consent = mirror_consent(fetched.obj, fetched.customer)
    outcome = Outcome(warnings=fetched.warnings)
    outcome.link(consent)
    if consent.valid:
        outcome.summary = (
            f"Consent {consent.external_id} was revoked, but Openvolt shows it valid again: "
            "no follow-up needed."
        )
        return outcome
    follow_up, created = follow_up_open_for_revocation(consent=consent)
    outcome.link(follow_up, label=f"Follow-up: {follow_up.get_status_display()}")
    customer = consent.customer
    who = f"{customer} <{customer.email}>" if customer else "an unknown customer"
    meters = ", ".join(consent.meter_numbers) or "no meters"
    outcome.summary = f"{who} revoked consent {consent.external_id} for meters {meters}. " + (
        "A follow-up is open for customer success." if created else _reused(follow_up)
    )
    if customer:
        outcome.link(customer)
    return outcome


def _reused(follow_up: FollowUp) -> str:
    return f"The existing follow-up ({follow_up.get_status_display().lower()}) covers it."


item_kind_register(
    "openvolt.readings",
    ItemKind(
        fetch=readings_fetch, store=readings_store, lock="meter", summarize=readings_summarize
    ),
)
item_kind_register("openvolt.meter", ItemKind(fetch=meter_fetch, store=meter_store, lock="meter"))
item_kind_register(
    "openvolt.consent",
    ItemKind(fetch=consent_fetch, store=consent_store, lock="consent", summarize=consent_summarize),
)
item_kind_register(
    "openvolt.meter_creation",
    ItemKind(
        fetch=meter_creation_fetch,
        store=meter_creation_store,
        lock="meter_number",
        summarize=meter_creation_summarize,
    ),
)
item_kind_register(
    "openvolt.revocation",
    ItemKind(fetch=revocation_fetch, store=revocation_store, lock="consent"),
)
