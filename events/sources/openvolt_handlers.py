"""What each Openvolt event does (payloads as in Openvolt's "Event Types").

Events whose work calls Openvolt's API (readings, meters and consents, whose current truth
Openvolt holds) fan out into items (openvolt_items.py), one per meter and 31 days, per consent,
per meter: Openvolt's own advice is to treat each object of a payload separately. The others
write the mirror here, in the transaction that marks the delivery processed.
"""

from datetime import timedelta

from django.conf import settings

from common.moments import parse_timestamp
from events.dispatch import Outcome, PayloadError, WorkItem, handles
from events.models import Delivery, Source
from events.redaction import last_four
from events.sources import openvolt_items  # noqa: F401  (registers the item kinds)
from events.sources.openvolt_api import MAX_RANGE, is_openvolt_id
from events.sources.openvolt_mirror import (
    account_id_of,
    fitting,
    mirror_customer,
    object_id,
    payload_items,
    payload_object,
    text_of,
)
from meters.models import ApiKeyRotation, PlatformUser
from meters.services import api_key_rotation_record, platform_user_upsert


@handles(Source.OPENVOLT, "customer.created")
def customer_created(delivery: Delivery) -> Outcome:
    # Two deliveries of one customer take turns on its row, which the upsert locks.
    customer = mirror_customer(payload_object(delivery))
    outcome = Outcome(summary=f"New customer {customer} ({customer.email or 'no e-mail'}).")
    outcome.link(customer)
    return outcome


@handles(Source.OPENVOLT, "user.created")
def user_created(delivery: Delivery) -> Outcome:
    # Openvolt publishes no schema for users: keep the object and the fields that are there.
    obj = payload_object(delivery)
    texts = {
        "external_id": object_id(obj),
        "account_id": account_id_of(obj),
        "name": text_of(obj, "name"),
        "email": text_of(obj, "email"),
    }
    user = platform_user_upsert(
        **fitting(PlatformUser, "user", texts),
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
    item = WorkItem(kind="openvolt.meter", subject=meter_id, parameters={"payload": obj})
    if not is_openvolt_id(meter_id):
        item = _refused(item, 1, f"meter id {meter_id!r}")
    return Outcome(summary=f"Meter {meter_id} queued.", items=[item])


@handles(Source.OPENVOLT, "meter_data.received")
def meter_data_received(delivery: Delivery) -> Outcome:
    """One item per meter and 31 days of its interval (one call to Openvolt each)."""
    work: list[WorkItem] = []
    for index, entry in enumerate(payload_items(delivery), start=1):
        work += _readings_items(index, entry)
    meters = len({item.subject for item in work if not item.skipped})
    return Outcome(
        summary=f"{len(work):,} item(s) queued for {meters:,} meter(s).",
        items=work,
    )


def _readings_items(index: int, entry: dict) -> list[WorkItem]:
    meter_id = entry.get("meter_id")
    start = parse_timestamp(entry.get("start_interval"))
    end = parse_timestamp(entry.get("end_interval"))
    subject = meter_id if isinstance(meter_id, str) else ""
    if not subject or start is None or end is None:
        reason = f"Item {index} skipped: it needs meter_id and both intervals."
        return [WorkItem(kind="openvolt.readings", subject=subject, skipped=reason)]
    item = WorkItem(kind="openvolt.readings", subject=subject)
    if not is_openvolt_id(meter_id):
        return [_refused(item, index, f"meter id {meter_id!r}")]
    if end <= start:
        return [
            WorkItem(
                kind="openvolt.readings",
                subject=subject,
                skipped=f"Item {index} skipped: meter {meter_id} ends ({end:%Y-%m-%d %H:%M}) "
                f"before it starts ({start:%Y-%m-%d %H:%M}).",
            )
        ]
    warnings = []
    longest = timedelta(days=settings.OPENVOLT_MAX_ITEM_DAYS)
    if end - start > longest:
        warnings.append(
            f"Item {index}: meter {meter_id} asks for {(end - start).days:,} days; only the "
            f"latest {longest.days:,} are fetched (OPENVOLT_MAX_ITEM_DAYS)."
        )
        start = end - longest
    items = []
    while start < end:
        chunk_end = min(start + MAX_RANGE, end)
        items.append(
            WorkItem(
                kind="openvolt.readings",
                subject=meter_id,
                parameters={"start": start.isoformat(), "end": chunk_end.isoformat()},
                warnings=tuple(warnings) if not items else (),
            )
        )
        start = chunk_end
    return items


@handles(Source.OPENVOLT, "hosted_consent.approved")
def hosted_consent_approved(delivery: Delivery) -> Outcome:
    """One item per consent; each creates the consent's missing meters as items of their own."""
    work = []
    for index, entry in enumerate(payload_items(delivery), start=1):
        consent_id = entry.get("hosted_consent_id") or entry.get("id")
        subject = consent_id if isinstance(consent_id, str) else ""
        item = WorkItem(kind="openvolt.consent", subject=subject)
        if not subject:
            item = WorkItem(
                kind="openvolt.consent",
                subject="",
                skipped=f"Item {index} skipped: it has no hosted_consent_id.",
            )
        elif not is_openvolt_id(subject):
            item = _refused(item, index, f"consent id {subject!r}")
        work.append(item)
    return Outcome(summary=f"{len(work)} consent(s) queued.", items=work)


@handles(Source.OPENVOLT, "hosted_consent.revoked")
def hosted_consent_revoked(delivery: Delivery) -> Outcome:
    obj = payload_object(delivery)
    consent_id = object_id(obj)
    item = WorkItem(kind="openvolt.revocation", subject=consent_id, parameters={"payload": obj})
    if not is_openvolt_id(consent_id):
        item = _refused(item, 1, f"consent id {consent_id!r}")
    return Outcome(summary=f"Revocation of consent {consent_id} queued.", items=[item])


def _refused(item: WorkItem, index: int, what: str) -> WorkItem:
    """The item, refused before any call: the id is not one Openvolt would give."""
    return WorkItem(
        kind=item.kind,
        subject=item.subject,
        parameters=item.parameters,
        skipped=f"Item {index} skipped: {what} is not an Openvolt id (24 letters or digits).",
    )


@handles(Source.OPENVOLT, "api_keys.rotated")
def api_keys_rotated(delivery: Delivery) -> Outcome:
    obj = payload_object(delivery)
    rotated_at = delivery.occurred_at or parse_timestamp(obj.get("created_at"))
    if rotated_at is None:
        raise PayloadError("No time for the rotation: the envelope has no event_timestamp.")
    masked = obj.get("live_api_key")
    texts = {
        "account_id": object_id(obj),
        "account_name": text_of(obj, "name"),
        "account_email": text_of(obj, "email"),
    }
    keys = {"account_id": "id", "account_name": "name", "account_email": "email"}
    rotation, _ = api_key_rotation_record(
        **fitting(ApiKeyRotation, "account", texts, keys),
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
