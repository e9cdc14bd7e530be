"""Openvolt end to end: fixtures posted through the HTTP intake, processed as the worker
processes them, against the fake API (fake_openvolt.py).

The fake API's catalogue matches the fixtures under tests/fixtures/openvolt/: customer
65c361e09ecb86c35d5ef1c5 owns the meters of meter_data.received and meter.created, and
consent 6630f047feb1f65bad24870a (approved, then revoked).
"""

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path

from events.items import item_process
from events.models import Delivery, DeliveryItem
from events.processing import delivery_process
from meters.models import IntervalReading
from tests.support.fake_openvolt import FakeOpenvolt, parse_iso
from tests.support.webhooks import post_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openvolt"
EVENT_TYPES = sorted(path.stem for path in FIXTURES.glob("*.json"))

CUSTOMER_ID = "65c361e09ecb86c35d5ef1c5"
CONSENT_ID = "6630f047feb1f65bad24870a"
METER_A = "5rgh7884a9c14daf2a8u7f4e"  # meter_data.received, item 1
METER_B = "ft6yh890a9c14dafc5tb78k0"  # meter_data.received, items 2 and 3
CREATED_METER = "6627ce9cfc558ccc10dc6977"  # meter.created
REVOKED_AT = "2024-04-30T13:26:06.272Z"  # hosted_consent.revoked


def load_event(event_type: str, **overrides) -> dict:
    """A fresh copy of the fixture envelope, with top-level fields replaced."""
    envelope = json.loads((FIXTURES / f"{event_type}.json").read_text())
    envelope.update(copy.deepcopy(overrides))
    return envelope


def receive(client, endpoint, envelope: dict, *, expect: int = 202) -> Delivery:
    response = post_json(client, endpoint, envelope)
    assert response.status_code == expect, response.content
    return Delivery.objects.get(pk=response.json()["delivery"])


def process(delivery: Delivery) -> Delivery:
    """Run the delivery as the worker would: its own job, then the jobs of its items."""
    delivery_process(delivery_id=delivery.pk)
    items_run(delivery)
    delivery.refresh_from_db()
    return delivery


def items_run(delivery: Delivery) -> None:
    """Run each waiting or failed item of the delivery once, as its job (or its retry's)
    would, then the items those found, until none is left to run."""
    ran: set[int] = set()
    while ids := list(
        DeliveryItem.objects.filter(
            delivery=delivery,
            status__in=(DeliveryItem.Status.PENDING, DeliveryItem.Status.FAILED),
        )
        .exclude(pk__in=ran)
        .order_by("position")
        .values_list("pk", flat=True)
    ):
        for item_id in ids:
            item_process(item_id=item_id)
            ran.add(item_id)


def half_hours(start: str, end: str) -> list[datetime]:
    """The starts of the half-hours from `start` up to, not including, `end`."""
    moment, stop, starts = parse_iso(start), parse_iso(end), []
    while moment < stop:
        starts.append(moment)
        moment += timedelta(minutes=30)
    return starts


def stored(meter_id: str) -> dict[datetime, object]:
    readings = IntervalReading.objects.filter(meter__external_id=meter_id).order_by("start")
    return {reading.start: reading.consumption_kwh for reading in readings}


def stock(api: FakeOpenvolt) -> FakeOpenvolt:
    """Fill the fake API with the objects the fixtures refer to."""
    api.add_customer(CUSTOMER_ID, logo_url="https://www.starkindustries.com/logo.png")
    api.add_meter(METER_A, customer_id=CUSTOMER_ID, meter_number="2000012345678")
    api.add_meter(METER_B, customer_id=CUSTOMER_ID, meter_number="2000087654321")
    created = load_event("meter.created")["payload"]
    api.add_meter(
        CREATED_METER,
        **{k: v for k, v in created.items() if k not in ("id", "customer")},
        customer_id=CUSTOMER_ID,
    )
    revoked = load_event("hosted_consent.revoked")["payload"]
    # As Openvolt holds it when the approval is sent: valid, not revoked yet.
    api.add_consent({**revoked, "valid": True, "revoked_at": None})
    return api


def revoke_on_platform(api: FakeOpenvolt, *, revoked_at=REVOKED_AT, updated_at=REVOKED_AT):
    """Openvolt now shows the consent revoked."""
    api.consents[CONSENT_ID].update(valid=False, revoked_at=revoked_at, updated_at=updated_at)
