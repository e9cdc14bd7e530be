"""hosted_consent.approved and hosted_consent.revoked: the consent as Openvolt holds it now,
meters created for an approval, one follow-up per revocation, events in any order."""

import pytest

from consents.models import FollowUp, HostedConsent
from events.models import Delivery
from events.processing import deliveries_reprocess
from meters.models import Meter
from tests.support.fake_openvolt import parse_iso
from tests.support.openvolt import (
    CONSENT_ID,
    CUSTOMER_ID,
    REVOKED_AT,
    load_event,
    process,
    receive,
    revoke_on_platform,
)

pytestmark = pytest.mark.django_db

METER_NUMBERS = ["1234567890", "0987654321"]


def approve_on_platform(api, *, updated_at):
    api.consents[CONSENT_ID].update(valid=True, revoked_at=None, updated_at=updated_at)


def revocation(*, delivery_id="revoked-1", revoked_at=REVOKED_AT, updated_at=None) -> dict:
    envelope = load_event("hosted_consent.revoked", delivery_id=delivery_id)
    envelope["payload"].update(revoked_at=revoked_at, updated_at=updated_at or revoked_at)
    return envelope


def meter_posts(api) -> list[dict]:
    return [request.body for request in api.requests_to("/meters", method="POST")]


# Approved


def test_approved_consent_is_fetched_and_mirrored(api_client, openvolt_endpoint, openvolt_api):
    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert openvolt_api.requests[0].path == f"/hosted-consents/{CONSENT_ID}"
    consent = HostedConsent.objects.select_related("customer").get(external_id=CONSENT_ID)
    assert consent.valid is True
    assert consent.revoked_at is None
    assert consent.meter_numbers == METER_NUMBERS
    assert consent.consented_at == parse_iso("2024-04-30T13:25:11.796Z")
    assert (consent.flow_type, consent.consent_method) == (
        "gb.commercial.blanket",
        "letter-of-authority",
    )
    assert consent.customer.external_id == CUSTOMER_ID
    assert consent.customer.email == "pepper@starkindustries.com"
    # What lets its holder act on the consent is not mirrored.
    assert "token" not in consent.raw
    assert "hosted_consent_link" not in consent.raw


def test_a_consent_value_too_long_to_store_makes_its_item_dead_at_once(
    api_client, openvolt_endpoint, openvolt_api, settings
):
    settings.DELIVERY_RETRY_DELAYS = [60, 300, 1800]
    openvolt_api.consents[CONSENT_ID]["meter_numbers"] = [METER_NUMBERS[0], "9" * 65]

    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    error = "ValueTooLong: consent.meter_numbers[1] is 65 characters long; at most 64 fit."
    item = delivery.items.get()
    assert (item.status, item.attempt_count, item.next_attempt_at) == ("dead", 1, None)
    assert (item.error, delivery.error) == (error, error)
    assert (delivery.status, delivery.next_attempt_at) == (Delivery.Status.DEAD, None)
    assert not HostedConsent.objects.exists()
    assert meter_posts(openvolt_api) == []


def test_approval_creates_a_meter_per_meter_number(api_client, openvolt_endpoint, openvolt_api):
    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    # The consent's flow type is gb.commercial.*: Electralink holds its meters' data.
    assert meter_posts(openvolt_api) == [
        {
            "meter_number": number,
            "customer_id": CUSTOMER_ID,
            "hosted_consent_id": CONSENT_ID,
            "data_source": "electralink",
        }
        for number in METER_NUMBERS
    ]
    meters = Meter.objects.filter(meter_number__in=METER_NUMBERS).select_related("customer")
    assert sorted(m.meter_number for m in meters) == sorted(METER_NUMBERS)
    assert {m.customer.external_id for m in meters} == {CUSTOMER_ID}
    assert {m.external_id for m in meters} == {
        m["_id"] for m in openvolt_api.meters.values() if m["meter_number"] in METER_NUMBERS
    }
    assert "Created meter(s) 1234567890, 0987654321 on Openvolt." in delivery.summary

    # Run again: the meters are mirrored now, none is created twice.
    deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))
    assert process(delivery).status == Delivery.Status.PROCESSED
    assert len(meter_posts(openvolt_api)) == 2


def test_approval_creates_only_the_meters_not_mirrored(api_client, openvolt_endpoint, openvolt_api):
    Meter.objects.create(external_id="664000000000000000000001", meter_number="1234567890")

    process(receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved")))

    assert meter_posts(openvolt_api) == [
        {
            "meter_number": "0987654321",
            "customer_id": CUSTOMER_ID,
            "hosted_consent_id": CONSENT_ID,
            "data_source": "electralink",
        }
    ]


def test_approval_creates_no_meter_when_auto_creation_is_off(
    api_client, openvolt_endpoint, openvolt_api, settings
):
    settings.OPENVOLT_AUTO_CREATE_METERS = False

    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert meter_posts(openvolt_api) == []
    assert not Meter.objects.exists()
    assert HostedConsent.objects.get().valid is True


# Revoked


def test_revocation_marks_the_consent_and_opens_one_follow_up(
    api_client, openvolt_endpoint, openvolt_api
):
    revoke_on_platform(openvolt_api)

    delivery = process(receive(api_client, openvolt_endpoint, load_event("hosted_consent.revoked")))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert openvolt_api.requests[0].path == f"/hosted-consents/{CONSENT_ID}"
    consent = HostedConsent.objects.get(external_id=CONSENT_ID)
    assert consent.valid is False
    assert consent.revoked_at == parse_iso(REVOKED_AT)
    follow_up = FollowUp.objects.get()
    assert follow_up.consent == consent
    assert follow_up.status == FollowUp.Status.OPEN
    assert follow_up.revoked_at == parse_iso(REVOKED_AT)
    assert (follow_up.customer_name, follow_up.customer_email, follow_up.customer_address) == (
        "Customer Name",
        "pepper@starkindustries.com",
        "Fool's Lane 1",
    )
    assert follow_up.meter_numbers == METER_NUMBERS
    assert delivery.summary == (
        f"Customer Name <pepper@starkindustries.com> revoked consent {CONSENT_ID} for meters "
        "1234567890, 0987654321. A follow-up is open for customer success."
    )


def test_one_follow_up_however_often_the_revocation_arrives(
    api_client, openvolt_endpoint, openvolt_api
):
    revoke_on_platform(openvolt_api)
    envelope = load_event("hosted_consent.revoked")
    delivery = process(receive(api_client, openvolt_endpoint, envelope))

    # Openvolt retries the same delivery; and someone reprocesses it, twice.
    receive(api_client, openvolt_endpoint, envelope, expect=200)
    for _ in range(2):
        deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))
        delivery = process(delivery)
        assert delivery.status == Delivery.Status.PROCESSED, delivery.error

    assert FollowUp.objects.count() == 1
    assert "The existing follow-up (open) covers it." in delivery.summary


@pytest.mark.parametrize(
    ("status", "follow_ups"),
    [
        (FollowUp.Status.OPEN, 1),
        (FollowUp.Status.CONTACTED, 1),
        (FollowUp.Status.RESOLVED, 2),
        (FollowUp.Status.WONT_FIX, 2),
    ],
)
def test_later_revocation_reuses_the_follow_up_still_being_worked(
    api_client, openvolt_endpoint, openvolt_api, status, follow_ups
):
    revoke_on_platform(openvolt_api)
    process(receive(api_client, openvolt_endpoint, revocation(delivery_id="first")))
    FollowUp.objects.update(status=status)
    # The customer consents again, then revokes again.
    later = "2024-06-01T09:00:00.000Z"
    revoke_on_platform(openvolt_api, revoked_at=later, updated_at=later)

    delivery = process(
        receive(api_client, openvolt_endpoint, revocation(delivery_id="second", revoked_at=later))
    )

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert FollowUp.objects.count() == follow_ups
    latest = FollowUp.objects.latest("opened_at")
    assert latest.revoked_at == parse_iso(later)
    assert latest.status == (status if follow_ups == 1 else FollowUp.Status.OPEN)
    assert HostedConsent.objects.get().revoked_at == parse_iso(later)


def test_revocation_of_a_consent_openvolt_lost_mirrors_the_payload(
    api_client, openvolt_endpoint, openvolt_api
):
    del openvolt_api.consents[CONSENT_ID]

    delivery = process(receive(api_client, openvolt_endpoint, load_event("hosted_consent.revoked")))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.warnings == [
        f"Openvolt no longer has consent {CONSENT_ID}: mirrored the payload."
    ]
    assert HostedConsent.objects.get().valid is False
    assert FollowUp.objects.count() == 1


# Out of order


def test_old_revocation_does_not_overwrite_a_newer_approval(
    api_client, openvolt_endpoint, openvolt_api
):
    # Revoked at 13:26, approved again at 14:00; the revocation is processed last.
    approve_on_platform(openvolt_api, updated_at="2024-04-30T14:00:00.000Z")
    process(receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved")))

    delivery = process(receive(api_client, openvolt_endpoint, revocation()))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    consent = HostedConsent.objects.get()
    assert (consent.valid, consent.revoked_at) == (True, None)
    assert consent.platform_updated_at == parse_iso("2024-04-30T14:00:00.000Z")
    assert not FollowUp.objects.exists()
    assert "Openvolt shows it valid again: no follow-up needed" in delivery.summary


def test_old_revocation_payload_does_not_overwrite_a_newer_mirror(
    api_client, openvolt_endpoint, openvolt_api
):
    """Even when Openvolt cannot say (the consent is gone), the payload's older state loses
    against the newer state already mirrored."""
    approve_on_platform(openvolt_api, updated_at="2024-04-30T14:00:00.000Z")
    process(receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved")))
    del openvolt_api.consents[CONSENT_ID]

    delivery = process(receive(api_client, openvolt_endpoint, revocation()))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    consent = HostedConsent.objects.get()
    assert (consent.valid, consent.revoked_at) == (True, None)
    assert consent.platform_updated_at == parse_iso("2024-04-30T14:00:00.000Z")
    assert not FollowUp.objects.exists()


def test_late_approval_of_a_revoked_consent_leaves_it_revoked(
    api_client, openvolt_endpoint, openvolt_api
):
    revoke_on_platform(openvolt_api)
    process(receive(api_client, openvolt_endpoint, load_event("hosted_consent.revoked")))

    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    consent = HostedConsent.objects.get()
    assert (consent.valid, consent.revoked_at) == (False, parse_iso(REVOKED_AT))
    assert delivery.warnings == [f"Openvolt shows consent {CONSENT_ID} as not valid now."]
    assert meter_posts(openvolt_api) == []
    follow_up = FollowUp.objects.get()
    assert follow_up.status == FollowUp.Status.OPEN
