"""Openvolt end to end: fixtures posted through the HTTP intake, processed against a fake API.

The fake API's catalogue matches the fixtures under tests/fixtures/openvolt/: customer
65c361e09ecb86c35d5ef1c5 owns the meters of meter_data.received and meter.created, and
consent 6630f047feb1f65bad24870a (approved, then revoked).
"""

import copy
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection, connections

from events.models import Delivery
from events.processing import delivery_process
from meters.models import IntervalReading
from tests.conftest import post_json
from tests.openvolt.fake_openvolt import FakeOpenvolt, parse_iso

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
    delivery_process(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


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


def wait_for(condition: Callable[[], object], *, timeout: float, what, every=0.05):
    """Poll until `condition()` is truthy and return it; fail after `timeout` seconds, saying
    `what` was awaited (a string, or a callable giving it then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(
                f"Timed out after {timeout} s waiting for {what() if callable(what) else what}."
            )
        time.sleep(every)


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


@pytest.fixture
def openvolt_api(settings):
    """The fake API, stocked, with the settings pointing Switchboard at it."""
    api = FakeOpenvolt().start()
    settings.OPENVOLT_API_URL = api.url
    settings.OPENVOLT_API_KEY = api.api_key
    settings.OPENVOLT_API_BACKOFF_SECONDS = 0.01
    yield stock(api)
    api.stop()


@pytest.fixture
def live_database(transactional_db, monkeypatch):
    """For tests whose jobs run on connections of their own (threads, workers, subprocesses):
    committed data, and an empty job queue (a flush leaves procrastinate's tables alone, so a
    worker would otherwise meet the jobs of earlier tests). Those connections are closed after
    each job unless persistent: keep them from being persistent, so that the test database
    can be dropped at the end."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_workers"
        )
