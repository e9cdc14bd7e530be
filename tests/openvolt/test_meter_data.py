"""meter_data.received: half-hourly readings fetched from GET /interval-data and stored."""

from datetime import timedelta

import pytest

from events.models import Delivery
from events.processing import deliveries_reprocess
from meters.models import Customer, IntervalReading, Meter
from tests.support.fake_openvolt import parse_iso
from tests.support.openvolt import (
    CUSTOMER_ID,
    METER_A,
    METER_B,
    half_hours,
    load_event,
    process,
    receive,
    stored,
)

pytestmark = pytest.mark.django_db


def meter_data(*items, delivery_id="meter-data-1") -> dict:
    payload = [
        {"meter_id": meter_id, "start_interval": start, "end_interval": end}
        for meter_id, start, end in items
    ]
    return load_event("meter_data.received", delivery_id=delivery_id, payload=payload)


def test_readings_stored_for_each_good_item(api_client, openvolt_endpoint, openvolt_api):
    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter_data.received")))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    expected = {
        METER_A: half_hours("2024-04-27T00:30:00Z", "2024-04-28T00:00:00Z"),
        METER_B: half_hours("2024-04-26T00:30:00Z", "2024-04-27T00:00:00Z"),
    }
    for meter_id, starts in expected.items():
        assert stored(meter_id) == {
            start: openvolt_api.consumption(meter_id, start) for start in starts
        }
    assert len(expected[METER_A]) == len(expected[METER_B]) == 47
    assert delivery.summary == "94 half-hourly readings stored for 2 meter(s)."
    # The API answered the interval AT end_interval too; it is not ours to store.
    assert not IntervalReading.objects.filter(start=parse_iso("2024-04-28T00:00:00Z")).exists()
    assert Meter.objects.get(external_id=METER_A).latest_reading_start == parse_iso(
        "2024-04-27T23:30:00Z"
    )


def test_item_ending_before_it_starts_is_skipped_with_a_warning(
    api_client, openvolt_endpoint, openvolt_api
):
    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter_data.received")))

    assert delivery.warnings == [
        f"Item 2 skipped: meter {METER_B} ends (2024-04-25 00:10) before it starts "
        "(2024-04-25 00:30)."
    ]
    assert not IntervalReading.objects.filter(start__date="2024-04-25").exists()
    asked = [r.query["start_date"] for r in openvolt_api.requests_to("/interval-data")]
    assert "2024-04-25T00:30:00.000Z" not in asked


def test_unknown_meter_is_fetched_first_with_its_customer(
    api_client, openvolt_endpoint, openvolt_api
):
    process(receive(api_client, openvolt_endpoint, load_event("meter_data.received")))

    log = [(r.method, r.path, r.query.get("meter_id")) for r in openvolt_api.requests]
    assert log == [
        ("GET", f"/meters/{METER_A}", None),
        ("GET", "/interval-data", METER_A),
        ("GET", f"/meters/{METER_B}", None),
        ("GET", "/interval-data", METER_B),
    ]
    assert {r.api_key for r in openvolt_api.requests} == {openvolt_api.api_key}
    meter = Meter.objects.select_related("customer").get(external_id=METER_A)
    assert meter.meter_number == "2000012345678"
    # The meter object carries its customer in full: no GET /customers/<id> needed.
    assert meter.customer.external_id == CUSTOMER_ID
    assert (meter.customer.name, meter.customer.email) == (
        "Customer Name",
        "pepper@starkindustries.com",
    )
    assert Customer.objects.count() == 1


def test_interval_request_asks_for_the_item_range(api_client, openvolt_endpoint, openvolt_api):
    process(receive(api_client, openvolt_endpoint, load_event("meter_data.received")))

    first = openvolt_api.requests_to("/interval-data")[0]
    assert first.query == {
        "meter_id": METER_A,
        "start_date": "2024-04-27T00:30:00.000Z",
        "end_date": "2024-04-28T00:00:00.000Z",
        "granularity": "hh",
    }


def test_item_times_with_an_offset_are_asked_in_utc(api_client, openvolt_endpoint, openvolt_api):
    envelope = meter_data((METER_A, "2024-04-27T01:30:00+01:00", "2024-04-27T03:00:00+01:00"))

    delivery = process(receive(api_client, openvolt_endpoint, envelope))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    (request,) = openvolt_api.requests_to("/interval-data")
    assert (request.query["start_date"], request.query["end_date"]) == (
        "2024-04-27T00:30:00.000Z",
        "2024-04-27T02:00:00.000Z",
    )
    assert list(stored(METER_A)) == half_hours("2024-04-27T00:30:00Z", "2024-04-27T02:00:00Z")


def test_revised_values_replace_the_stored_ones(api_client, openvolt_endpoint, openvolt_api):
    item = (METER_A, "2024-04-27T00:00:00Z", "2024-04-27T06:00:00Z")
    process(receive(api_client, openvolt_endpoint, meter_data(item, delivery_id="first")))
    before = stored(METER_A)
    openvolt_api.revisions[METER_A] = 1  # Openvolt revised its figures

    revised = process(receive(api_client, openvolt_endpoint, meter_data(item, delivery_id="again")))

    assert revised.status == Delivery.Status.PROCESSED, revised.error
    after = stored(METER_A)
    assert list(after) == list(before) == half_hours(item[1], item[2])
    assert all(after[start] == before[start] + 1 for start in after)
    assert IntervalReading.objects.count() == 12
    # The meter was mirrored by the first delivery: not fetched again.
    assert len(openvolt_api.requests_to(f"/meters/{METER_A}")) == 1


def test_same_delivery_again_or_reprocessed_never_duplicates(
    api_client, openvolt_endpoint, openvolt_api
):
    envelope = load_event("meter_data.received")
    delivery = process(receive(api_client, openvolt_endpoint, envelope))
    count = IntervalReading.objects.count()

    again = receive(api_client, openvolt_endpoint, envelope, expect=200)
    assert again.pk == delivery.pk
    openvolt_api.revisions[METER_B] = 2
    deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))
    delivery = process(delivery)

    assert delivery.status == Delivery.Status.PROCESSED
    assert IntervalReading.objects.count() == count == 94
    assert set(stored(METER_B).values()) == {
        openvolt_api.consumption(METER_B, start) for start in stored(METER_B)
    }
    assert min(stored(METER_B).values()) > 2


def test_thirteen_month_backfill_is_fetched_in_month_chunks(
    api_client, openvolt_endpoint, openvolt_api
):
    start, end = "2023-03-28T00:00:00Z", "2024-04-28T00:00:00Z"
    delivery = process(receive(api_client, openvolt_endpoint, meter_data((METER_A, start, end))))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    expected = half_hours(start, end)
    assert len(expected) == 19_056
    readings = stored(METER_A)
    assert list(readings) == expected
    assert readings[expected[-1]] == openvolt_api.consumption(METER_A, expected[-1])

    ranges = [
        (parse_iso(r.query["start_date"]), parse_iso(r.query["end_date"]))
        for r in openvolt_api.requests_to("/interval-data")
    ]
    assert len(ranges) == 13
    assert all(
        timedelta(0) < chunk_end - chunk_start <= timedelta(days=31)
        for chunk_start, chunk_end in ranges
    )
    # Contiguous, covering exactly the item's range.
    assert ranges[0][0] == parse_iso(start) and ranges[-1][1] == parse_iso(end)
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))


def test_meter_the_api_does_not_know_is_skipped_and_the_others_stored(
    api_client, openvolt_endpoint, openvolt_api
):
    unknown = "0123456789abcdef01234567"
    envelope = meter_data(
        (unknown, "2024-04-27T00:00Z", "2024-04-27T01:00Z"),
        (METER_A, "2024-04-27T00:00Z", "2024-04-27T01:00Z"),
    )

    delivery = process(receive(api_client, openvolt_endpoint, envelope))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.warnings == [f"Item 1 skipped: Openvolt has no meter {unknown}."]
    assert not Meter.objects.filter(external_id=unknown).exists()
    assert len(stored(METER_A)) == 2
