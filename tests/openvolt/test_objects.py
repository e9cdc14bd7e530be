"""customer.created, meter.created, user.created, api_keys.rotated; and every fixture's intake."""

import pytest
from django.db import connection

from events.models import Delivery
from events.processing import deliveries_reprocess
from meters.models import ApiKeyRotation, Customer, Meter, PlatformUser
from tests.support.fake_openvolt import parse_iso
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
