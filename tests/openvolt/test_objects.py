"""customer.created, meter.created, user.created, api_keys.rotated; and every fixture's intake."""

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import Delivery, DeliveryItem
from events.processing import deliveries_reprocess
from meters.models import ApiKeyRotation, Customer, Meter, PlatformUser
from tests.support.fake_openvolt import parse_iso
from tests.support.jobs import jobs_for
from tests.support.openvolt import (
    CREATED_METER,
    CUSTOMER_ID,
    EVENT_TYPES,
    load_event,
    process,
    receive,
)

pytestmark = pytest.mark.django_db

LIVE_KEY = "AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD"


def test_there_is_a_fixture_per_openvolt_event_type():
    assert (
        sorted(
            [
                "api_keys.rotated",
                "customer.created",
                "hosted_consent.approved",
                "hosted_consent.revoked",
                "meter.created",
                "meter_data.received",
                "user.created",
            ]
        )
        == EVENT_TYPES
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_fixture_is_accepted_once_by_the_intake(api_client, openvolt_endpoint, event_type):
    envelope = load_event(event_type)

    delivery = receive(api_client, openvolt_endpoint, envelope)
    again = receive(api_client, openvolt_endpoint, envelope, expect=200)

    assert again.pk == delivery.pk
    assert (delivery.event_type, delivery.external_id) == (event_type, envelope["delivery_id"])
    assert delivery.occurred_at == parse_iso(envelope["event_timestamp"])
    assert delivery.status == Delivery.Status.PENDING


def test_customer_created_mirrors_the_customer(api_client, openvolt_endpoint, openvolt_api):
    envelope = load_event("customer.created")

    delivery = process(receive(api_client, openvolt_endpoint, envelope))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    customer = Customer.objects.get(external_id="6627795d54dc5b0961a08ae5")
    assert customer.account_id == "65c361949ecb86c35d5ef1c6"
    assert (customer.name, customer.email, customer.address) == (
        "Customer Name",
        "pepper@starkindustries.com",
        "Fool's Lane, 1",
    )
    assert customer.logo_url == "https://www.starkindustries.com/logo.png"
    assert customer.created_on_platform == parse_iso("2024-04-23T09:03:25.539Z")
    assert customer.raw == envelope["payload"]
    assert delivery.summary == "New customer Customer Name (pepper@starkindustries.com)."
    assert delivery.links == [
        ["Customer Customer Name", f"/admin/meters/customer/{customer.pk}/change/"]
    ]
    assert openvolt_api.requests == []


@pytest.mark.parametrize(
    ("key", "value", "limit"),
    [
        ("id", "c" * 80, 64),
        ("account", "a" * 65, 64),
        ("name", "N" * 256, 255),
        ("logo_url", "https://www.starkindustries.com/" + "l" * 480, 500),
    ],
    ids=["id", "account", "name", "logo_url"],
)
def test_a_customer_value_too_long_to_store_makes_the_delivery_dead_at_once(
    api_client, openvolt_endpoint, openvolt_api, settings, key, value, limit
):
    settings.DELIVERY_RETRY_DELAYS = [60, 300, 1800]
    envelope = load_event("customer.created")
    envelope["payload"][key] = value

    delivery = process(receive(api_client, openvolt_endpoint, envelope))

    assert delivery.status == Delivery.Status.DEAD
    assert delivery.error == (
        f"ValueTooLong: customer.{key} is {len(value)} characters long; at most {limit} fit."
    )
    assert (delivery.attempt_count, delivery.next_attempt_at) == (1, None)
    assert not jobs_for(delivery).filter(scheduled_at__isnull=False).exists()
    assert not Customer.objects.exists()


def test_meter_created_keeps_what_openvolt_says_of_the_meter(
    api_client, openvolt_endpoint, openvolt_api
):
    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter.created")))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    meter = Meter.objects.select_related("customer").get(external_id=CREATED_METER)
    assert meter.meter_number == "123456789"
    assert meter.validity_state == {
        "missing_consent": True,
        "expired_consent": False,
        "is_disabled_by_user": False,
        "has_invalid_meter_number": False,
    }
    assert (meter.status, meter.data_source, meter.update_frequency) == (
        "inactive",
        "dcc",
        "daily",
    )
    assert (meter.valid, meter.enabled) == (False, True)
    assert meter.account_id == "65c361949ecb86c35d5ef1c4"
    assert meter.created_on_platform == parse_iso("2024-04-23T15:07:08.554Z")
    assert meter.customer.external_id == CUSTOMER_ID
    assert meter.customer.name == "Customer Name"
    assert delivery.summary == "New meter 123456789 for Customer Name: not valid yet (inactive)."
    assert [r.path for r in openvolt_api.requests] == [f"/meters/{CREATED_METER}"]


def test_meter_created_unknown_to_the_api_mirrors_the_payload(
    api_client, openvolt_endpoint, openvolt_api
):
    del openvolt_api.meters[CREATED_METER]

    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter.created")))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.warnings == [
        f"Openvolt no longer has meter {CREATED_METER}: mirrored the payload."
    ]
    meter = Meter.objects.get(external_id=CREATED_METER)
    assert (meter.status, meter.data_source, meter.update_frequency) == ("inactive", "dcc", "daily")
    assert meter.validity_state["missing_consent"] is True
    # The payload names its customer by id only: fetched to mirror it.
    assert [r.path for r in openvolt_api.requests] == [
        f"/meters/{CREATED_METER}",
        f"/customers/{CUSTOMER_ID}",
    ]
    assert meter.customer.email == "pepper@starkindustries.com"


@pytest.mark.parametrize("checked", [True, False], ids=["checked", "refused-by-the-database"])
def test_a_meter_value_too_long_to_store_makes_its_item_dead_at_once(
    api_client, openvolt_endpoint, openvolt_api, settings, monkeypatch, checked
):
    settings.DELIVERY_RETRY_DELAYS = [60, 300, 1800]
    openvolt_api.meters[CREATED_METER]["meter_number"] = "9" * 80
    if checked:
        error = "ValueTooLong: meter.meter_number is 80 characters long; at most 64 fit."
    else:
        # A value the checks miss is refused by the database: as finally.
        monkeypatch.setattr("events.sources.openvolt_mirror.values_fit", lambda *a, **k: None)
        monkeypatch.setattr("common.mirror.values_fit", lambda *a, **k: None)
        error = "DataError: value too long for type character varying(64)"

    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter.created")))

    item = delivery.items.get()
    assert (item.status, item.attempt_count, item.next_attempt_at) == (
        DeliveryItem.Status.DEAD,
        1,
        None,
    )
    assert item.error.startswith(error)
    assert (delivery.status, delivery.next_attempt_at) == (Delivery.Status.DEAD, None)
    assert delivery.error.startswith(error)
    assert not ProcrastinateJob.objects.filter(
        task_name="events.process_item", args__item_id=item.pk, scheduled_at__isnull=False
    ).exists()
    assert not Meter.objects.exists()
    assert not Customer.objects.exists()  # mirrored in the same transaction, rolled back
    assert len(openvolt_api.requests_to(f"/meters/{CREATED_METER}")) == 1


def test_user_created_keeps_the_raw_object(api_client, openvolt_endpoint, openvolt_api):
    envelope = load_event("user.created")

    delivery = process(receive(api_client, openvolt_endpoint, envelope))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    user = PlatformUser.objects.get()
    assert user.raw == envelope["payload"]
    assert (user.external_id, user.email, user.name, user.account_id) == (
        "662f6e19b2c4d8a1e3f50a7b",
        "happy.hogan@starkindustries.com",
        "Happy Hogan",
        "65c361949ecb86c35d5ef1c0",
    )
    assert user.created_on_platform == parse_iso("2024-04-29T10:02:16.981Z")
    assert delivery.summary == "New Openvolt user happy.hogan@starkindustries.com."
    assert openvolt_api.requests == []


def tables_containing(text: str) -> list[str]:
    """Every table of the database with a row whose text form contains `text`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        tables = [name for (name,) in cursor.fetchall()]
        found = []
        for table in tables:
            cursor.execute(
                f"SELECT 1 FROM {table} AS t WHERE strpos(t::text, %s) > 0 LIMIT 1", [text]
            )
            if cursor.fetchone():
                found.append(table)
    return found


def test_api_keys_rotated_keeps_the_last_four_characters_only(
    api_client, openvolt_endpoint, openvolt_api
):
    envelope = load_event("api_keys.rotated")
    delivery = receive(api_client, openvolt_endpoint, envelope)
    receive(api_client, openvolt_endpoint, envelope, expect=200)
    delivery = process(delivery)
    deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))
    delivery = process(delivery)

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    rotation = ApiKeyRotation.objects.get()
    assert rotation.key_last_four == "DDDD"
    assert (rotation.account_id, rotation.account_name, rotation.account_email) == (
        "65c361949ecb86c35d5ef1c0",
        "Account Name",
        "tony@starkindustries.com",
    )
    assert rotation.readonly is False
    assert rotation.rotated_at == parse_iso("2024-05-02T08:15:42.901Z")
    assert "ends in DDDD" in delivery.summary
    # Nowhere in the database, in any table: neither the key nor any part of it before the
    # last four characters. (The search does find what may be kept: the masked copy.)
    assert tables_containing(LIVE_KEY) == []
    assert tables_containing("CCCCCCC-") == []
    assert tables_containing("AAAAAAA") == []
    assert "public.events_delivery" in tables_containing("****DDDD")
    assert openvolt_api.requests == []


@pytest.mark.parametrize("event_type", ["customer.created", "user.created", "api_keys.rotated"])
def test_events_that_need_no_call_work_without_an_api_key(
    api_client, openvolt_endpoint, openvolt_api, settings, event_type
):
    settings.OPENVOLT_API_KEY = ""

    delivery = process(receive(api_client, openvolt_endpoint, load_event(event_type)))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
