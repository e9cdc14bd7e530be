"""send_test_event against a live server: every event type arrives, and Openvolt's are
processed against the sandbox."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from consents.models import FollowUp
from events.dispatch import event_types_of
from events.models import Delivery, Source
from meters.models import IntervalReading, Meter
from sandbox import catalogue
from tests.support.openvolt import process

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

OPENVOLT_TYPES = event_types_of(source=Source.OPENVOLT)
NECTAR_TYPES = event_types_of(source=Source.NECTAR)


@pytest.fixture(autouse=True)
def _forget_jobs(forget_jobs):
    """Every delivery queues a procrastinate job."""


def send(event_type, endpoint, url, *extra):
    out = StringIO()
    call_command(
        "send_test_event",
        event_type,
        "--endpoint",
        str(endpoint.pk),
        "--url",
        url,
        *extra,
        stdout=out,
    )
    return out.getvalue().splitlines()


@pytest.mark.parametrize("event_type", OPENVOLT_TYPES)
def test_openvolt_event_arrives(event_type, openvolt_endpoint, live_server):
    lines = send(event_type, openvolt_endpoint, live_server.url)

    delivery = Delivery.objects.get()
    assert delivery.event_type == event_type
    assert delivery.source == "openvolt"
    assert lines[0].startswith(f"POST {live_server.url}{openvolt_endpoint.path}")
    assert lines[1] == f'202 {{"delivery": "{delivery.pk}", "duplicate": false}}'


@pytest.mark.parametrize("event_type", NECTAR_TYPES)
def test_nectar_event_arrives_signed(event_type, nectar_endpoint, live_server):
    lines = send(event_type, nectar_endpoint, live_server.url)

    delivery = Delivery.objects.get()
    assert delivery.event_type == event_type
    assert delivery.external_id.startswith("msg_")
    assert delivery.receipts.get().verdict == "accepted"
    assert lines[1].startswith("202 ")


def test_a_given_delivery_id_makes_a_retry(openvolt_endpoint, live_server):
    send("customer.created", openvolt_endpoint, live_server.url, "--delivery-id", "retry-1")
    lines = send("customer.created", openvolt_endpoint, live_server.url, "--delivery-id", "retry-1")

    delivery = Delivery.objects.get()
    assert delivery.external_id == "retry-1"
    assert delivery.receipt_count == 2
    assert lines[1] == f'200 {{"delivery": "{delivery.pk}", "duplicate": true}}'


def test_a_bound_endpoint_gets_its_subscription_id(live_server):
    from events.services import endpoint_create

    endpoint, _ = endpoint_create(source="openvolt", openvolt_subscription_id="sub-42")

    send("meter.created", endpoint, live_server.url)

    assert Delivery.objects.get().payload["subscription_id"] == "sub-42"


@pytest.fixture
def sandbox_api(settings, sandbox_url):
    """Switchboard's handlers call the sandbox, as under `make run`."""
    settings.OPENVOLT_API_URL = sandbox_url
    settings.OPENVOLT_API_KEY = "sandbox"
    settings.OPENVOLT_AUTO_CREATE_METERS = True


@pytest.mark.parametrize("event_type", OPENVOLT_TYPES)
def test_openvolt_event_is_processed_against_the_sandbox(
    event_type, openvolt_endpoint, live_server, sandbox_api
):
    send(event_type, openvolt_endpoint, live_server.url)
    delivery = Delivery.objects.get()

    process(delivery)

    assert (delivery.status, delivery.error) == (Delivery.Status.PROCESSED, "")


def test_meter_data_received_stores_two_days_of_two_meters(
    openvolt_endpoint, live_server, sandbox_api
):
    send("meter_data.received", openvolt_endpoint, live_server.url)

    process(Delivery.objects.get())

    assert IntervalReading.objects.count() == 2 * 2 * 48
    assert set(Meter.objects.values_list("external_id", flat=True)) == {
        catalogue.BAKERY_OVENS.id,
        catalogue.COLD_STORE.id,
    }


def test_an_approved_consent_creates_its_meters_on_the_sandbox(
    openvolt_endpoint, live_server, sandbox_api
):
    send("hosted_consent.approved", openvolt_endpoint, live_server.url)

    process(Delivery.objects.get())

    created = Meter.objects.filter(meter_number__in=catalogue.NEW_SITE_CONSENT.meter_numbers)
    assert created.count() == 2
    assert all(
        meter.valid and meter.customer.external_id == catalogue.PENNINE.id for meter in created
    )


def test_a_revoked_consent_opens_a_follow_up(openvolt_endpoint, live_server, sandbox_api):
    send("hosted_consent.revoked", openvolt_endpoint, live_server.url)

    process(Delivery.objects.get())

    follow_up = FollowUp.objects.get()
    assert follow_up.customer_name == catalogue.VICARAGE.name


# Refusals, before anything is sent


def test_an_event_of_the_other_source_is_refused(openvolt_endpoint, nectar_endpoint):
    with pytest.raises(CommandError, match="is sent by Nectar"):
        send("document.created.v2", openvolt_endpoint, "http://127.0.0.1:9")
    with pytest.raises(CommandError, match="is sent by Openvolt"):
        send("meter.created", nectar_endpoint, "http://127.0.0.1:9")
    assert not Delivery.objects.exists()


def test_an_unknown_event_type_is_refused(openvolt_endpoint):
    with pytest.raises(CommandError, match=r"Unknown event type 'meter\.deleted'"):
        send("meter.deleted", openvolt_endpoint, "http://127.0.0.1:9")


@pytest.mark.parametrize("endpoint_id", ["not-a-uuid", "6f1c1a52-4f0e-4a43-9d8e-2a6c0c1b9e10"])
def test_an_unknown_endpoint_is_refused(endpoint_id, db):
    with pytest.raises(CommandError, match="endpoint"):
        call_command("send_test_event", "meter.created", "--endpoint", endpoint_id)


def test_an_unreachable_server_is_reported(openvolt_endpoint):
    with pytest.raises(CommandError, match="Could not reach"):
        send("meter.created", openvolt_endpoint, "http://127.0.0.1:9")


def test_a_refusal_is_printed_and_fails_the_command(openvolt_endpoint, live_server):
    openvolt_endpoint.enabled = False
    openvolt_endpoint.save()
    out = StringIO()

    with pytest.raises(CommandError, match="refused the delivery \\(404\\)"):
        call_command(
            "send_test_event",
            "meter.created",
            "--endpoint",
            str(openvolt_endpoint.pk),
            "--url",
            live_server.url,
            stdout=out,
        )
    assert "404" in out.getvalue().splitlines()[1]
