"""The fixed catalogue and the ids of created meters, without a server."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from sandbox import catalogue, meters

NOW = datetime(2025, 6, 10, 9, 30, 12, 345000, tzinfo=UTC)


def all_ids():
    return [
        catalogue.ACCOUNT.id,
        catalogue.USER.id,
        *(customer.id for customer in catalogue.CUSTOMERS),
        *(meter.id for meter in catalogue.METERS),
        *(consent.id for consent in catalogue.HOSTED_CONSENTS),
    ]


def test_ids_are_24_hex_and_unique():
    ids = all_ids()
    assert all(re.fullmatch(r"[0-9a-f]{24}", object_id) for object_id in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "obj",
    [
        catalogue.ACCOUNT,
        catalogue.USER,
        *catalogue.CUSTOMERS,
        *catalogue.METERS,
        *catalogue.HOSTED_CONSENTS,
    ],
    ids=lambda obj: obj.id,
)
def test_ids_start_with_their_creation_time_as_objectids_do(obj):
    assert int(obj.id[:8], 16) == int(obj.created_at.timestamp())


def test_meter_numbers_are_mpans_with_a_valid_check_digit():
    numbers = [meter.meter_number for meter in catalogue.METERS]
    numbers += [n for consent in catalogue.HOSTED_CONSENTS for n in consent.meter_numbers]
    assert all(meters.is_mpan(number) for number in numbers)
    assert all(meters.mpan_check_digit_ok(number) for number in numbers)
    assert not meters.mpan_check_digit_ok("1600009211450")


def test_the_approved_consent_names_meters_that_do_not_exist_yet():
    existing = {meter.meter_number for meter in catalogue.METERS}
    assert not existing & set(catalogue.NEW_SITE_CONSENT.meter_numbers)
    assert catalogue.NEW_SITE_CONSENT.valid(NOW)


def test_one_consent_is_about_to_expire_and_one_is_revoked():
    expiring = catalogue.EXPIRING_CONSENT
    assert expiring.valid(NOW)
    assert expiring.expiry(NOW) - NOW < timedelta(days=15)
    assert not catalogue.REVOKED_CONSENT.valid(NOW)


def test_a_created_meter_is_found_again_from_its_id_alone():
    customer, consent = catalogue.PENNINE, catalogue.NEW_SITE_CONSENT

    created = meters.create(
        meter_number=consent.meter_numbers[0], customer=customer, consent=consent, now=NOW
    )
    later = NOW + timedelta(hours=3)

    assert re.fullmatch(r"[0-9a-f]{24}", created.id)
    assert created.created_at == NOW.replace(microsecond=0)
    assert meters.find(created.id, now=later) == created
    assert created.valid


@pytest.mark.parametrize("consent", [None, *catalogue.HOSTED_CONSENTS])
@pytest.mark.parametrize("customer", catalogue.CUSTOMERS)
def test_every_customer_and_consent_round_trips(customer, consent):
    created = meters.create(
        meter_number="1600009211458", customer=customer, consent=consent, now=NOW
    )

    found = meters.find(created.id, now=NOW)

    assert found.customer_id == customer.id
    assert found.meter_number == "1600009211458"


def test_a_meter_without_consent_is_invalid_and_a_bad_check_digit_is_flagged():
    created = meters.create(
        meter_number="1600009211450", customer=catalogue.HARTLEY, consent=None, now=NOW
    )

    assert created.validity.missing_consent
    assert created.validity.has_invalid_meter_number
    assert created.status == "inactive"


@pytest.mark.parametrize(
    "meter_id",
    [
        "0123456789abcdef01234567",  # no marker
        "6848f6a85bc1600009211458",  # a fourth customer
        "6848f6a85b4160000921145a",  # not a meter number
        "6848f6a85b41600009211458ff",
        "",
    ],
)
def test_other_ids_are_unknown(meter_id):
    assert meters.find(meter_id, now=NOW) is None
