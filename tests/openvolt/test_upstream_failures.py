"""When Openvolt's API fails: retried inside the client, else the delivery fails and is retried
later, with nothing half-written in between."""

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from consents.models import HostedConsent
from events.models import Delivery, DeliveryAttempt, DeliveryItem
from events.selectors import openvolt_key_refusal
from events.tasks import process_item
from meters.models import IntervalReading, Meter
from tests.support.openvolt import (
    CONSENT_ID,
    CREATED_METER,
    METER_A,
    METER_B,
    items_run,
    load_event,
    process,
    receive,
)

pytestmark = pytest.mark.django_db

ATTEMPTS = 4  # OpenvoltClient's default number of tries per call

# (event type, the path made to fail, what the fixture mirrors once the API is back)
FAILING_PATHS = [
    pytest.param(
        "meter_data.received",
        "/interval-data",
        lambda: IntervalReading.objects.count() == 94,
        id="meter_data-interval_data",
    ),
    pytest.param(
        "meter_data.received",
        f"/meters/{METER_B}",
        lambda: Meter.objects.filter(external_id=METER_B).exists(),
        id="meter_data-second_meter",
    ),
    pytest.param(
        "meter.created",
        f"/meters/{CREATED_METER}",
        lambda: Meter.objects.filter(external_id=CREATED_METER).exists(),
        id="meter_created-meter",
    ),
    pytest.param(
        "hosted_consent.approved",
        f"/hosted-consents/{CONSENT_ID}",
        HostedConsent.objects.exists,
        id="approved-consent",
    ),
    pytest.param(
        "hosted_consent.approved",
        "/meters",
        lambda: Meter.objects.count() == 2,
        id="approved-create_meter",
    ),
    pytest.param(
        "hosted_consent.revoked",
        f"/hosted-consents/{CONSENT_ID}",
        HostedConsent.objects.exists,
        id="revoked-consent",
    ),
]


def retry_jobs(delivery) -> list[ProcrastinateJob]:
    """The scheduled retries of the delivery's failed items."""
    return list(
        ProcrastinateJob.objects.filter(
            task_name="events.process_item",
            args__item_id__in=list(delivery.items.values_list("pk", flat=True)),
            status="todo",
            scheduled_at__isnull=False,
        )
    )


@pytest.mark.parametrize(("event_type", "path", "mirrored"), FAILING_PATHS)
def test_server_error_fails_the_item_until_the_api_recovers(
    api_client, openvolt_endpoint, openvolt_api, event_type, path, mirrored
):
    method = "POST" if path == "/meters" else "GET"
    openvolt_api.fail(path, status=500, times=None)

    delivery = process(receive(api_client, openvolt_endpoint, load_event(event_type)))

    error = f"OpenvoltError: {method} {path}: Openvolt answered 500."
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error == error
    assert "Openvolt answered 500" in delivery.error_traceback
    # The delivery's own run fanned out; its failing items wait for their retries.
    assert delivery.attempts.get().result == DeliveryAttempt.Result.PROCESSED
    failed = list(delivery.items.filter(status=DeliveryItem.Status.FAILED))
    assert failed and all((i.error, i.attempt_count) == (error, 1) for i in failed)
    # A POST is never repeated after a 5xx: Openvolt may have created the meter all the same.
    per_item = ATTEMPTS if method == "GET" else 1
    assert len(openvolt_api.requests_to(path, method)) == per_item * len(failed)
    # Nothing half-done: what a failing item wrote before the failing call is rolled back.
    assert not mirrored()
    retries = retry_jobs(delivery)
    assert sorted(job.args["item_id"] for job in retries) == sorted(i.pk for i in failed)
    due = {item.pk: item.next_attempt_at for item in failed}
    assert all(job.scheduled_at == due[job.args["item_id"]] > timezone.now() for job in retries)
    assert delivery.next_attempt_at in due.values()

    openvolt_api.heal()
    for retry in retries:
        process_item(**retry.args)  # what the worker runs when the retry is due
    items_run(delivery)  # and the items those found (the meters a consent creates)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert (delivery.error, delivery.next_attempt_at) == ("", None)
    assert mirrored()
    assert list(delivery.attempts.values_list("result", flat=True)) == ["processed"]
    assert all(i.attempt_count == 2 for i in delivery.items.filter(pk__in=[i.pk for i in failed]))


def test_an_item_failing_while_the_others_succeed(api_client, openvolt_endpoint, openvolt_api):
    openvolt_api.fail(f"/meters/{METER_B}", status=500, times=None)

    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter_data.received")))

    # The first meter's readings are stored; the second meter's items wait for a retry.
    assert delivery.status == Delivery.Status.FAILED
    by_status = dict(delivery.items.values_list("subject", "status").distinct())
    assert by_status == {METER_A: "done", METER_B: "failed"}
    assert set(IntervalReading.objects.values_list("meter__external_id", flat=True)) == {METER_A}

    openvolt_api.heal()
    delivery = process(delivery)

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert IntervalReading.objects.count() == 94


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_a_few_retryable_answers_are_retried_inside_the_client(
    api_client, openvolt_endpoint, openvolt_api, status
):
    openvolt_api.fail("/interval-data", status=status, times=ATTEMPTS - 1)

    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter_data.received")))

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.attempts.count() == 1
    assert IntervalReading.objects.count() == 94
    assert len(openvolt_api.requests_to("/interval-data")) == ATTEMPTS - 1 + 2


def test_too_many_requests_waits_as_long_as_retry_after_says(
    api_client, openvolt_endpoint, openvolt_api
):
    openvolt_api.fail(f"/hosted-consents/{CONSENT_ID}", status=429, times=1, retry_after="1")

    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    refused, accepted = openvolt_api.requests_to(f"/hosted-consents/{CONSENT_ID}")
    # The backoff is 0.01 s in these tests: only Retry-After explains the wait.
    assert accepted.at - refused.at >= 0.95


def test_not_found_is_not_retried(api_client, openvolt_endpoint, openvolt_api):
    del openvolt_api.consents[CONSENT_ID]

    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error.startswith(f"OpenvoltNotFound: GET /hosted-consents/{CONSENT_ID}")
    assert len(openvolt_api.requests) == 1


def test_refused_key_says_to_check_it(api_client, openvolt_endpoint, openvolt_api, settings):
    settings.OPENVOLT_API_KEY = "an-old-key-since-rotated"

    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter.created")))

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error.startswith("OpenvoltKeyRefused: ")
    assert "Openvolt refused the API key (401); check OPENVOLT_API_KEY" in delivery.error
    assert [r.api_key for r in openvolt_api.requests] == ["an-old-key-since-rotated"]


def test_a_refused_key_is_remembered_until_a_call_is_accepted(
    api_client, openvolt_endpoint, openvolt_api, settings
):
    settings.OPENVOLT_API_KEY = "an-old-key-since-rotated"
    process(receive(api_client, openvolt_endpoint, load_event("meter.created")))
    refusal = openvolt_key_refusal()
    assert refusal is not None and refusal.key_refused_status == 401

    settings.OPENVOLT_API_KEY = openvolt_api.api_key
    process(receive(api_client, openvolt_endpoint, load_event("customer.created")))
    assert openvolt_key_refusal() is not None  # no call to Openvolt was made
    process(receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved")))
    assert openvolt_key_refusal() is None


@pytest.mark.parametrize(
    "event_type",
    ["meter_data.received", "meter.created", "hosted_consent.approved", "hosted_consent.revoked"],
)
def test_missing_api_key_fails_with_a_clear_error(
    api_client, openvolt_endpoint, openvolt_api, settings, event_type
):
    settings.OPENVOLT_API_KEY = ""

    delivery = process(receive(api_client, openvolt_endpoint, load_event(event_type)))

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error == (
        "OpenvoltNotConfigured: OPENVOLT_API_KEY is not set: "
        "Switchboard cannot call Openvolt's API."
    )
    assert openvolt_api.requests == []
    assert retry_jobs(delivery)


def test_a_meter_openvolt_already_has_is_not_created_twice(
    api_client, openvolt_endpoint, openvolt_api
):
    openvolt_api.fail("/meters", status=409, times=None)

    delivery = process(
        receive(api_client, openvolt_endpoint, load_event("hosted_consent.approved"))
    )

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert all("already exists on Openvolt" in warning for warning in delivery.warnings)
    assert delivery.warnings
    assert len(openvolt_api.requests_to("/meters", "POST")) == len(delivery.warnings)
