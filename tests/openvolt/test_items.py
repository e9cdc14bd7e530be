"""meter_data.received and hosted_consent.approved worked item by item (events/items.py): one
meter and 31 days, one consent, one meter to create, each a job of its own."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.db import connection, transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import Delivery, DeliveryItem
from events.processing import deliveries_reprocess, delivery_process
from events.sources.openvolt_api import NotAnOpenvoltId, OpenvoltClient
from events.sources.openvolt_budget import CallInsideTransaction
from meters.models import IntervalReading
from tests.factories import DeliveryFactory
from tests.support.openvolt import (
    CONSENT_ID,
    CUSTOMER_ID,
    METER_A,
    METER_B,
    items_run,
    load_event,
    process,
    receive,
)

pytestmark = pytest.mark.django_db

METER_C = "0123456789abcdef01234567"
START = datetime(2024, 1, 1, tzinfo=UTC)


def readings_event(*entries: tuple[str, datetime, datetime], delivery_id="portfolio-1"):
    return load_event(
        "meter_data.received",
        delivery_id=delivery_id,
        payload=[
            {
                "meter_id": meter,
                "start_interval": start.isoformat(),
                "end_interval": end.isoformat(),
            }
            for meter, start, end in entries
        ],
    )


@pytest.fixture
def three_meters(openvolt_api):
    openvolt_api.add_meter(METER_C, customer_id=CUSTOMER_ID, meter_number="2000011112222")
    return openvolt_api


def test_a_portfolio_fans_out_into_one_item_per_meter_and_31_days(
    api_client, openvolt_endpoint, three_meters
):
    end = START + timedelta(days=70)  # 31 + 31 + 8 days: three items a meter
    envelope = readings_event(*((meter, START, end) for meter in (METER_A, METER_B, METER_C)))
    delivery = receive(api_client, openvolt_endpoint, envelope)

    delivery_process(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSING
    assert delivery.item_counts == {"pending": 9}
    items = list(delivery.items.order_by("position"))
    assert [(i.subject, i.parameters["start"][:10]) for i in items[:3]] == [
        (METER_A, "2024-01-01"),
        (METER_A, "2024-02-01"),
        (METER_A, "2024-03-03"),
    ]
    jobs = ProcrastinateJob.objects.filter(task_name="events.process_item", status="todo")
    assert sorted(job.args["item_id"] for job in jobs) == sorted(i.pk for i in items)
    assert {job.lock for job in jobs} == {f"item:{i.pk}" for i in items}
    assert not IntervalReading.objects.exists()

    items_run(delivery)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.item_counts == {"done": 9}
    assert IntervalReading.objects.count() == 3 * 70 * 48
    assert delivery.summary == "10,080 half-hourly readings stored for 3 meter(s)."
    assert sum(i.readings_stored for i in delivery.items.all()) == 3 * 70 * 48
    assert len(three_meters.requests_to("/interval-data")) == 9


def test_readings_appear_as_items_finish(api_client, openvolt_endpoint, three_meters):
    end = START + timedelta(days=40)
    delivery = receive(api_client, openvolt_endpoint, readings_event((METER_A, START, end)))
    delivery_process(delivery_id=delivery.pk)
    first, _second = delivery.items.order_by("position")

    from events.items import item_process

    item_process(item_id=first.pk)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSING
    assert IntervalReading.objects.count() == 31 * 48
    changelist = admin.site.get_model_admin(Delivery)
    assert changelist.progress(delivery) == "1 / 2 items"


def test_reprocess_runs_again_only_the_items_that_failed(
    api_client, openvolt_endpoint, three_meters
):
    envelope = readings_event(*((m, START, START + timedelta(days=2)) for m in (METER_A, METER_C)))
    three_meters.fail("/interval-data", status=500, times=4)  # every try of the first item
    delivery = process(receive(api_client, openvolt_endpoint, envelope))
    assert delivery.status == Delivery.Status.FAILED
    assert dict(delivery.items.values_list("subject", "status")) == {
        METER_A: "failed",
        METER_C: "done",
    }
    asked_before = len(three_meters.requests_to("/interval-data"))

    assert deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk)) == (1, 0)
    items_run(delivery)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    again = three_meters.requests_to("/interval-data")[asked_before:]
    assert [request.query["meter_id"] for request in again] == [METER_A]
    assert IntervalReading.objects.count() == 2 * 2 * 48


def test_reprocess_everything_runs_every_item_again(api_client, openvolt_endpoint, three_meters):
    envelope = readings_event(*((m, START, START + timedelta(days=2)) for m in (METER_A, METER_C)))
    delivery = process(receive(api_client, openvolt_endpoint, envelope))
    assert delivery.status == Delivery.Status.PROCESSED
    asked_before = len(three_meters.requests_to("/interval-data"))

    queued = deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))

    assert queued == (1, 0)  # nothing failed: a processed delivery starts over
    delivery = process(delivery)
    assert delivery.status == Delivery.Status.PROCESSED
    assert len(three_meters.requests_to("/interval-data")) == asked_before + 2
    assert delivery.items.count() == 2
    assert IntervalReading.objects.count() == 2 * 2 * 48


def test_ids_that_are_not_openvolts_are_refused_before_any_call(
    api_client, openvolt_endpoint, three_meters
):
    end = START + timedelta(days=1)
    envelope = readings_event(
        ("../customers/65c361e09ecb86c35d5ef1c5", START, end),
        ("5rgh7884a9c14daf2a8u7f4e?x=1", START, end),
        (METER_A, START, end),
    )

    delivery = process(receive(api_client, openvolt_endpoint, envelope))

    assert delivery.status == Delivery.Status.PROCESSED
    assert delivery.warnings == [
        "Item 1 skipped: meter id '../customers/65c361e09ecb86c35d5ef1c5' is not an Openvolt "
        "id (24 letters or digits).",
        "Item 2 skipped: meter id '5rgh7884a9c14daf2a8u7f4e?x=1' is not an Openvolt id "
        "(24 letters or digits).",
    ]
    assert [r.query["meter_id"] for r in three_meters.requests_to("/interval-data")] == [METER_A]
    assert not [r for r in three_meters.requests if "customers" in r.path]


@pytest.mark.parametrize(
    "bad_id", ["../customers/x", "a" * 23, "a" * 25, "abc def0123456789012345"]
)
def test_the_client_refuses_an_id_that_is_not_openvolts(openvolt_api, bad_id):
    with pytest.raises(NotAnOpenvoltId):
        OpenvoltClient().meter(bad_id)
    assert openvolt_api.requests == []


def test_no_call_to_openvolt_inside_a_transaction(openvolt_api):
    with pytest.raises(CallInsideTransaction), transaction.atomic():
        OpenvoltClient().meter(METER_A)
    assert openvolt_api.requests == []


def test_an_item_spanning_years_is_clipped_to_its_latest_days(
    api_client, openvolt_endpoint, three_meters, settings
):
    settings.OPENVOLT_MAX_ITEM_DAYS = 40
    end = START + timedelta(days=1000)

    delivery = process(
        receive(api_client, openvolt_endpoint, readings_event((METER_A, START, end)))
    )

    assert delivery.status == Delivery.Status.PROCESSED
    assert delivery.warnings == [
        f"Item 1: meter {METER_A} asks for 1,000 days; only the latest 40 are fetched "
        "(OPENVOLT_MAX_ITEM_DAYS)."
    ]
    assert len(three_meters.requests_to("/interval-data")) == 2  # 31 + 9 days
    first = IntervalReading.objects.order_by("start").first()
    assert first.start == end - timedelta(days=40)


@pytest.mark.parametrize(
    ("flow_type", "data_source"),
    [
        ("gb.residential.smart", "dcc"),
        ("gb.commercial.hh", "electralink"),
        ("nl.commercial.kenter", "joulz"),  # OPENVOLT_DEFAULT_DATA_SOURCE, set below
    ],
)
def test_a_created_meter_gets_its_data_source_from_the_consents_flow_type(
    api_client, openvolt_endpoint, openvolt_api, settings, flow_type, data_source
):
    settings.OPENVOLT_DEFAULT_DATA_SOURCE = "joulz"
    openvolt_api.consents[CONSENT_ID]["flow_type"] = flow_type

    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    posted = openvolt_api.requests_to("/meters", "POST")
    assert posted and {request.body["data_source"] for request in posted} == {data_source}
    kinds = list(delivery.items.order_by("position").values_list("kind", "status"))
    assert kinds[0] == ("openvolt.consent", "done")
    assert set(kinds[1:]) == {("openvolt.meter_creation", "done")}


def test_a_payload_of_100000_items_fans_out_without_holding_a_lock_per_item(openvolt_endpoint):
    # Its time and memory are measured by `make bench` (bench/portfolio.py).
    items = [
        {
            "meter_id": f"{number:024x}",
            "start_interval": "2024-01-01T00:00:00Z",
            "end_interval": "2024-01-02T00:00:00Z",
        }
        for number in range(100_000)
    ]
    delivery = DeliveryFactory(
        endpoint=openvolt_endpoint,
        event_type="meter_data.received",
        payload={"event_id": "meter_data.received", "payload": items},
    )
    delivery_process(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSING, delivery.error
    assert delivery.item_counts == {"pending": 100_000}
    assert DeliveryItem.objects.filter(delivery=delivery).count() == 100_000
    assert ProcrastinateJob.objects.filter(task_name="events.process_item").count() == 100_000
    with connection.cursor() as cursor:  # no lock outlives the fan-out
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert cursor.fetchone()[0] == 0
