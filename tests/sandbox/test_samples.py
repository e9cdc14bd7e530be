"""The sample events send_test_event sends, without a server."""

import json
import re
from decimal import Decimal

import pytest

from common.moments import parse_timestamp
from events.dispatch import event_types_of
from events.sources import nectar as nectar_source
from sandbox import catalogue, samples
from sandbox.samples import nectar

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DECIMAL = re.compile(r"^-?\d+\.\d+$")
NECTAR_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}$")


OPENVOLT_TYPES = event_types_of(source="openvolt")
NECTAR_TYPES = event_types_of(source="nectar")


@pytest.mark.parametrize("event_type", OPENVOLT_TYPES)
def test_openvolt_samples_are_envelopes_with_a_fresh_delivery_id(event_type):
    first = samples.build(event_type)
    second = samples.build(event_type)

    envelope = json.loads(first.body)
    assert set(envelope) == {
        "subscription_id",
        "event_id",
        "event_timestamp",
        "delivery_id",
        "payload",
    }
    assert envelope["event_id"] == event_type
    assert envelope["delivery_id"] == first.delivery_id != second.delivery_id
    assert parse_timestamp(envelope["event_timestamp"]) is not None


def test_an_openvolt_sample_keeps_a_given_delivery_and_subscription_id():
    sample = samples.build("customer.created", delivery_id="again-1", subscription_id="sub-9")

    envelope = json.loads(sample.body)
    assert envelope["delivery_id"] == "again-1"
    assert envelope["subscription_id"] == "sub-9"


def test_meter_data_received_names_two_days_of_sandbox_meters():
    payload = json.loads(samples.build("meter_data.received").body)["payload"]

    assert {item["meter_id"] for item in payload} <= {meter.id for meter in catalogue.METERS}
    for item in payload:
        start = parse_timestamp(item["start_interval"])
        end = parse_timestamp(item["end_interval"])
        assert (end - start).days == 2


def test_the_api_key_of_a_rotation_is_a_fake_one_each_time():
    keys = {
        json.loads(samples.build("api_keys.rotated").body)["payload"]["live_api_key"]
        for _ in range(3)
    }
    assert len(keys) == 3
    assert all(re.fullmatch(r"[A-Z0-9]{7}(-[A-Z0-9]{7}){3}", key) for key in keys)


@pytest.mark.parametrize("event_type", NECTAR_TYPES)
def test_nectar_samples_verify_with_the_secret(event_type):
    sample = samples.build(event_type, secret=SECRET)

    headers = {name.lower(): value for name, value in sample.headers.items()}
    assert nectar_source.verify([SECRET], headers, sample.body) == sample.delivery_id
    assert sample.delivery_id.startswith("msg_")
    assert json.loads(sample.body)["eventType"] == event_type


def test_a_nectar_sample_needs_a_secret():
    with pytest.raises(ValueError, match="secret"):
        samples.build("document.created.v2")


def walk(value, key=""):
    if isinstance(value, dict):
        for name, inner in value.items():
            yield from walk(inner, name)
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner, key)
    else:
        yield key, value


@pytest.mark.parametrize("event_type", NECTAR_TYPES)
def test_nectar_samples_have_real_values(event_type):
    event = json.loads(samples.build(event_type, secret=SECRET).body)

    for key, value in walk(event):
        assert value not in ("decimal", "string", "email"), key
        if key in ("created", "updated", "processedDate"):
            assert NECTAR_TIME.match(value), (key, value)


def test_a_bill_adds_up():
    bill = json.loads(samples.build("document.created.v2", secret=SECRET).body)

    lines = sum(Decimal(item["totalCharge"]) for item in bill["lineItems"])
    for item in bill["lineItems"]:
        assert DECIMAL.match(item["quantity"]) and DECIMAL.match(item["rate"])
        assert Decimal(item["quantity"]) * Decimal(item["rate"]) == pytest.approx(
            Decimal(item["totalCharge"]), abs=Decimal("0.005")
        )
    assert lines + Decimal(bill["taxCharges"]) == Decimal(bill["totalCharges"])
    electricity = sum(
        Decimal(bill[name])
        for name in (
            "electricitySupplyCharges",
            "electricityDeliveryCharges",
            "electricityDemandCharges",
        )
    )
    assert electricity == lines
    usage = bill["meterSiteUsageData"][0]
    assert Decimal(usage["currentReading"]) - Decimal(usage["previousReading"]) == Decimal(
        usage["usage"]
    )
    assert usage["documentId"] == bill["id"] == nectar.DOCUMENT_ID
