"""`POST /webhooks/<uuid>/`: every row of CONTRACT.md section 4, and what each one stores."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from events import intake
from events.models import Delivery, DeliveryReceipt
from tests.factories import OpenvoltEndpointFactory, WebhookEndpointFactory
from tests.support.database import database_unreachable, stored_counts
from tests.support.jobs import PROCESS_TASK, delete_all_jobs, jobs_for
from tests.support.webhooks import (
    as_django_headers,
    body_of,
    delivery_of,
    nectar_event,
    nectar_headers,
    openvolt_envelope,
    post_json,
    post_signed,
)

SUBSCRIPTION = openvolt_envelope()["subscription_id"]


def envelope_without(field: str) -> bytes:
    envelope = openvolt_envelope()
    del envelope[field]
    return body_of(envelope)


def envelope_with(**fields) -> bytes:
    return body_of(openvolt_envelope(**fields))


def envelope_with_raw_payload(raw: bytes) -> bytes:
    """An envelope whose payload is `raw`, written into the JSON text as it is."""
    return envelope_with(payload="PAYLOAD").replace(b'"PAYLOAD"', raw)


def post_from(client, endpoint, document, *, headers=None, remote_addr="203.0.113.9"):
    body = document if isinstance(document, bytes) else body_of(document)
    return client.post(
        endpoint.path,
        data=body,
        content_type="application/json",
        REMOTE_ADDR=remote_addr,
        **as_django_headers(headers or {}),
    )


def assert_accepted(response, *, duplicate: bool) -> Delivery:
    assert response.status_code == (200 if duplicate else 202), response.content
    delivery = delivery_of(response)
    assert response.json() == {"delivery": str(delivery.pk), "duplicate": duplicate}
    return delivery


def assert_refused(response, status: int, error: str) -> None:
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["error"] == error
    assert isinstance(answer["detail"], str)
    assert answer["detail"]


@pytest.fixture
def forget_jobs():
    yield
    delete_all_jobs()


@pytest.fixture
def bound_openvolt_endpoint(db):
    return OpenvoltEndpointFactory(openvolt_subscription_id=SUBSCRIPTION)


# 202 and 200: new deliveries and their duplicates


def test_new_openvolt_delivery_is_stored_pending_and_answered_202(api_client, openvolt_endpoint):
    envelope = openvolt_envelope(delivery_id="ff1a1q3e-7a08", event_type="customer.created")

    delivery = assert_accepted(post_json(api_client, openvolt_endpoint, envelope), duplicate=False)

    assert delivery.endpoint == openvolt_endpoint
    assert delivery.source == "openvolt"
    assert delivery.external_id == "ff1a1q3e-7a08"
    assert delivery.event_type == "customer.created"
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.occurred_at == datetime(2024, 4, 28, 11, 44, 1, 10_000, tzinfo=UTC)
    assert delivery.payload == envelope
    assert delivery.receipt_count == 1


def test_same_openvolt_delivery_id_again_answers_200_duplicate(api_client, openvolt_endpoint):
    first = assert_accepted(
        post_json(api_client, openvolt_endpoint, openvolt_envelope(delivery_id="d-1")),
        duplicate=False,
    )
    # Another body under the same delivery_id is still that delivery, answered as a retry
    # (and recorded as a conflict: tests/events/test_intake_conflicts.py).
    retry = openvolt_envelope(delivery_id="d-1", payload={"id": "changed"})

    again = assert_accepted(post_json(api_client, openvolt_endpoint, retry), duplicate=True)

    assert again.pk == first.pk
    assert Delivery.objects.count() == 1
    assert again.receipt_count == 2
    assert again.payload["payload"] == openvolt_envelope()["payload"]


def test_different_openvolt_delivery_ids_are_different_deliveries(api_client, openvolt_endpoint):
    one = post_json(api_client, openvolt_endpoint, openvolt_envelope(delivery_id="d-1"))
    two = post_json(api_client, openvolt_endpoint, openvolt_envelope(delivery_id="d-2"))

    assert (one.status_code, two.status_code) == (202, 202)
    assert one.json()["delivery"] != two.json()["delivery"]


def test_same_delivery_id_at_two_endpoints_is_two_deliveries(
    api_client, openvolt_endpoint, bound_openvolt_endpoint
):
    envelope = openvolt_envelope(delivery_id="d-1")

    at_one = post_json(api_client, openvolt_endpoint, envelope)
    at_other = post_json(api_client, bound_openvolt_endpoint, envelope)

    assert (at_one.status_code, at_other.status_code) == (202, 202)
    assert Delivery.objects.count() == 2


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "6627795d54dc5b0961a08ae5", "name": "Customer Name"},
        {},
        [{"meter_id": "660d5a1e", "start_interval": "2024-04-01", "end_interval": "2024-04-02"}],
        [],
        "a plain string",
        "",
    ],
    ids=["object", "empty-object", "array", "empty-array", "string", "empty-string"],
)
def test_openvolt_payload_may_be_object_array_or_string(api_client, openvolt_endpoint, payload):
    envelope = openvolt_envelope(payload=payload)

    delivery = assert_accepted(post_json(api_client, openvolt_endpoint, envelope), duplicate=False)

    assert delivery.payload["payload"] == payload


@pytest.mark.parametrize("prefix", ["svix", "webhook"])
def test_new_nectar_event_is_stored_under_its_message_id(api_client, nectar_endpoint, prefix):
    event = nectar_event("document.created.v2")

    response = post_signed(
        api_client, nectar_endpoint, body_of(event), message_id="msg_2a", prefix=prefix
    )

    delivery = assert_accepted(response, duplicate=False)
    assert delivery.source == "nectar"
    assert delivery.external_id == "msg_2a"
    assert delivery.event_type == "document.created.v2"
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.occurred_at == datetime(2024, 12, 13, 22, 35, 4, 693469, tzinfo=UTC)
    assert delivery.payload == event


@pytest.mark.parametrize(("first_prefix", "retry_prefix"), [("svix", "svix"), ("svix", "webhook")])
def test_same_nectar_message_id_again_answers_200_duplicate(
    api_client, nectar_endpoint, first_prefix, retry_prefix
):
    body = body_of(nectar_event())
    first = assert_accepted(
        post_signed(api_client, nectar_endpoint, body, message_id="msg_1", prefix=first_prefix),
        duplicate=False,
    )
    # Svix signs every retry afresh, with a new timestamp, under the same message id.
    retry = post_signed(
        api_client,
        nectar_endpoint,
        body,
        message_id="msg_1",
        prefix=retry_prefix,
        timestamp=timezone.now().timestamp() - 60,
    )

    again = assert_accepted(retry, duplicate=True)
    assert again.pk == first.pk
    assert again.receipt_count == 2


@pytest.mark.parametrize(
    ("endpoint_fixture", "body"),
    [
        ("openvolt_endpoint", body_of(openvolt_envelope("account.merged"))),
        ("nectar_endpoint", body_of(nectar_event("connection.merged.v3"))),
    ],
    ids=["openvolt", "nectar"],
)
def test_event_type_without_a_handler_is_still_stored_and_answered_202(
    request, api_client, endpoint_fixture, body
):
    endpoint = request.getfixturevalue(endpoint_fixture)
    headers = nectar_headers(endpoint.test_secret, body) if endpoint.source == "nectar" else {}

    delivery = assert_accepted(post_json(api_client, endpoint, body, headers), duplicate=False)

    assert delivery.status == Delivery.Status.PENDING


def test_nectar_timestamp_that_cannot_be_stored_is_left_out(api_client, nectar_endpoint):
    event = nectar_event(updated="9999-12-31T23:59:59.999999999-14:00")

    delivery = assert_accepted(
        post_signed(api_client, nectar_endpoint, body_of(event)), duplicate=False
    )

    assert delivery.occurred_at is None


def test_nectar_event_of_only_a_type_and_an_id_is_stored_without_a_time(
    api_client, nectar_endpoint
):
    body = b'{"eventType": "connection.created.v2", "id": "c1"}'

    response = post_signed(api_client, nectar_endpoint, body, message_id="msg_abc")

    delivery = assert_accepted(response, duplicate=False)
    assert delivery.external_id == "msg_abc"
    assert delivery.occurred_at is None


# 404, 403, 415, 413, 405: answered with an error, nothing stored


def test_unknown_endpoint_answers_404_and_stores_nothing(api_client, db):
    before = stored_counts()

    response = api_client.post(
        f"/webhooks/{uuid.uuid4()}/", data=envelope_with(), content_type="application/json"
    )

    assert_refused(response, 404, "unknown_endpoint")
    assert stored_counts() == before


def test_disabled_endpoint_answers_as_an_unknown_one_and_stores_nothing(
    api_client, openvolt_endpoint
):
    unknown = api_client.post(
        f"/webhooks/{uuid.uuid4()}/", data=envelope_with(), content_type="application/json"
    )
    openvolt_endpoint.enabled = False
    openvolt_endpoint.save()
    before = stored_counts()

    response = post_json(api_client, openvolt_endpoint, openvolt_envelope())

    assert_refused(response, 404, "unknown_endpoint")
    assert response.json() == unknown.json()
    assert stored_counts() == before


def test_envelope_of_another_subscription_answers_403_and_stores_nothing(
    api_client, bound_openvolt_endpoint
):
    before = stored_counts()
    envelope = openvolt_envelope(subscription_id="9999aaaa-0000-4000-8000-000000000000")

    response = post_json(api_client, bound_openvolt_endpoint, envelope)

    assert_refused(response, 403, "subscription_mismatch")
    assert stored_counts() == before
    # The subscription the endpoint is bound to is not told to whoever sent another.
    assert bound_openvolt_endpoint.openvolt_subscription_id not in response.content.decode()


def test_envelope_of_the_bound_subscription_is_accepted(api_client, bound_openvolt_endpoint):
    response = post_json(api_client, bound_openvolt_endpoint, openvolt_envelope())

    assert_accepted(response, duplicate=False)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        "application/xml",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
    ],
)
def test_wrong_content_type_answers_415_and_stores_nothing(
    api_client, openvolt_endpoint, content_type
):
    before = stored_counts()

    response = post_json(api_client, openvolt_endpoint, envelope_with(), content_type=content_type)

    assert_refused(response, 415, "unsupported_media_type")
    assert stored_counts() == before


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", 'application/json; charset="UTF-8"', "Application/JSON"],
)
def test_json_content_type_variants_are_accepted(api_client, openvolt_endpoint, content_type):
    response = post_json(api_client, openvolt_endpoint, envelope_with(), content_type=content_type)

    assert_accepted(response, duplicate=False)


def test_body_over_the_limit_answers_413_and_stores_nothing(
    api_client, openvolt_endpoint, settings
):
    body = envelope_with()
    settings.WEBHOOK_MAX_BODY_BYTES = len(body) - 1
    before = stored_counts()

    response = post_json(api_client, openvolt_endpoint, body)

    assert_refused(response, 413, "payload_too_large")
    assert stored_counts() == before


def test_body_exactly_at_the_limit_is_accepted(api_client, openvolt_endpoint, settings):
    body = envelope_with()
    settings.WEBHOOK_MAX_BODY_BYTES = len(body)

    assert_accepted(post_json(api_client, openvolt_endpoint, body), duplicate=False)


def test_body_over_the_default_limit_answers_413_not_djangos_400(api_client, openvolt_endpoint):
    padding = "x" * django_settings.WEBHOOK_MAX_BODY_BYTES
    response = post_json(api_client, openvolt_endpoint, openvolt_envelope(payload=padding))

    assert_refused(response, 413, "payload_too_large")


def test_body_over_the_limit_without_content_length_is_refused_413(openvolt_endpoint, settings):
    body = envelope_with()
    settings.WEBHOOK_MAX_BODY_BYTES = len(body) - 1

    with pytest.raises(intake.IntakeError) as refused:
        intake.webhook_receive(
            endpoint=openvolt_endpoint, body=body, headers={}, remote_addr="127.0.0.1"
        )

    assert (refused.value.status, refused.value.code) == (413, "payload_too_large")
    assert not Delivery.objects.exists()


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_methods_other_than_post_answer_405_and_store_nothing(
    api_client, openvolt_endpoint, method
):
    before = stored_counts()

    response = api_client.generic(
        method, openvolt_endpoint.path, data=envelope_with(), content_type="application/json"
    )

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert stored_counts() == before


# 400: authenticated but unreadable bodies are stored as rejected

OPENVOLT_INVALID_BODIES = [
    pytest.param(b"delivery_id=d-1&event_id=customer.created", "not JSON", id="not-json"),
    pytest.param(b"", "not JSON", id="empty-body"),
    pytest.param(b'{"event_id": "customer.created",}', "not JSON", id="trailing-comma"),
    pytest.param(envelope_with(payload={"name": "Caf\xe9"}).replace(b"\\u00e9", b"\xe9"), "UTF-8",
                 id="latin-1-body"),
    pytest.param(b"[]", "JSON object", id="body-empty-array"),
    pytest.param(body_of([openvolt_envelope()]), "JSON object", id="body-array-of-envelopes"),
    pytest.param(b'"customer.created"', "JSON object", id="body-a-string"),
    pytest.param(b"null", "JSON object", id="body-null"),
    pytest.param(envelope_without("subscription_id"), "'subscription_id' is missing",
                 id="subscription_id-missing"),
    pytest.param(envelope_without("event_id"), "'event_id' is missing", id="event_id-missing"),
    pytest.param(envelope_without("delivery_id"), "'delivery_id' is missing",
                 id="delivery_id-missing"),
    pytest.param(envelope_without("event_timestamp"), "'event_timestamp' is missing",
                 id="event_timestamp-missing"),
    pytest.param(envelope_without("payload"), "'payload' is missing", id="payload-missing"),
    pytest.param(envelope_with(payload=42), "'payload' must be", id="payload-a-number"),
    pytest.param(envelope_with(payload=True), "'payload' must be", id="payload-a-boolean"),
    pytest.param(envelope_with(payload=None), "'payload' must be", id="payload-null"),
    pytest.param(envelope_with(subscription_id=7), "'subscription_id' must be",
                 id="subscription_id-a-number"),
    pytest.param(envelope_with(event_id=["customer.created"]), "'event_id' must be",
                 id="event_id-an-array"),
    pytest.param(envelope_with(delivery_id=12345), "'delivery_id' must be",
                 id="delivery_id-a-number"),
    pytest.param(envelope_with(delivery_id=None), "'delivery_id' must be",
                 id="delivery_id-null"),
    pytest.param(envelope_with(delivery_id="  "), "'delivery_id' must be",
                 id="delivery_id-blank"),
    pytest.param(envelope_with(delivery_id="d" * 256), "'delivery_id' is longer",
                 id="delivery_id-too-long"),
    pytest.param(envelope_with(event_id="e" * 101), "'event_id' is longer",
                 id="event_id-too-long"),
    pytest.param(envelope_with(event_timestamp="yesterday"), "'event_timestamp' must be",
                 id="event_timestamp-not-a-timestamp"),
    pytest.param(envelope_with(event_timestamp="2024-13-45T11:44:01Z"),
                 "'event_timestamp' must be", id="event_timestamp-impossible-date"),
    pytest.param(envelope_with(event_timestamp=1714304641), "'event_timestamp' must be",
                 id="event_timestamp-a-number"),
    # Python reads this, but its UTC time is in the year 10000, which Python cannot read back.
    pytest.param(envelope_with(event_timestamp="9999-12-31T23:59:59-14:00"),
                 "'event_timestamp' must be", id="event_timestamp-beyond-year-9999-in-utc"),
    # Valid JSON that PostgreSQL's jsonb cannot hold.
    pytest.param(envelope_with(payload={"name": "nul \x00 inside"}), "\\u0000",
                 id="nul-character"),
    pytest.param(envelope_with(payload={"name": "half \ud800 a pair"}), "surrogate",
                 id="lone-surrogate"),
    # Python's json reads these; JSON and jsonb do not have them.
    pytest.param(envelope_with_raw_payload(b"NaN"), "NaN", id="NaN"),
    pytest.param(envelope_with_raw_payload(b"[Infinity, -Infinity]"), "Infinity",
                 id="Infinity"),
    pytest.param(envelope_with_raw_payload(b"1e999"), "number", id="float-overflowing-to-inf"),
    pytest.param(envelope_with_raw_payload(b"1" * 5000), "number", id="5000-digit-integer"),
    pytest.param(envelope_with_raw_payload(b"[" * 100_000 + b"]" * 100_000), "nested",
                 id="nested-100000-deep"),
    pytest.param(envelope_with_raw_payload(b"[" * 500 + b"]" * 500), "nested",
                 id="nested-500-deep"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "detail_mentions"), OPENVOLT_INVALID_BODIES)
def test_invalid_openvolt_body_answers_400_and_is_stored_rejected(
    api_client, openvolt_endpoint, body, detail_mentions
):
    jobs_before = stored_counts()["jobs"]

    response = post_json(api_client, openvolt_endpoint, body)

    assert_refused(response, 400, "invalid_payload")
    detail = response.json()["detail"]
    assert detail_mentions in detail
    delivery = Delivery.objects.get()
    assert response.json() == {
        "error": "invalid_payload",
        "detail": detail,
        "delivery": str(delivery.pk),
    }
    assert delivery.status == Delivery.Status.REJECTED
    assert delivery.error == detail
    assert delivery.receipt_count == 1
    receipt = delivery.receipts.get()
    assert (receipt.verdict, receipt.response_status) == (DeliveryReceipt.Verdict.REJECTED, 400)
    assert stored_counts()["jobs"] == jobs_before


NECTAR_INVALID_BODIES = [
    pytest.param(b"not json", "not JSON", id="not-json"),
    pytest.param(b"[]", "JSON object", id="body-an-array"),
    pytest.param(b'{"eventType": "connection.created.v2", "amount": NaN}', "NaN", id="NaN"),
    pytest.param(body_of({"id": "c1", "status": "active"}), "'eventType' is missing",
                 id="eventType-missing"),
    pytest.param(body_of(nectar_event(eventType=7)), "'eventType' must be",
                 id="eventType-a-number"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "detail_mentions"), NECTAR_INVALID_BODIES)
def test_invalid_signed_nectar_body_answers_400_and_is_stored_rejected_under_its_message_id(
    api_client, nectar_endpoint, body, detail_mentions
):
    response = post_signed(api_client, nectar_endpoint, body, message_id="msg_bad")

    assert_refused(response, 400, "invalid_payload")
    assert detail_mentions in response.json()["detail"]
    delivery = Delivery.objects.get()
    assert delivery.external_id == "msg_bad"
    assert delivery.status == Delivery.Status.REJECTED
    assert not jobs_for(delivery.pk).exists()


def test_rejected_json_body_is_kept_as_payload(api_client, openvolt_endpoint):
    envelope = openvolt_envelope()
    del envelope["delivery_id"]

    post_json(api_client, openvolt_endpoint, envelope)

    delivery = Delivery.objects.get()
    assert delivery.payload == envelope
    assert delivery.unparsed_body == ""
    assert delivery.event_type == "customer.created"


@pytest.mark.parametrize(
    ("body", "kept_as"),
    [
        (b"delivery_id=d-1&event_id=x", "delivery_id=d-1&event_id=x"),
        (b'{"name": "Caf\xe9"}', '{"name": "Caf\\xe9"}'),
        (b'{"name": "nul \x00 byte"', '{"name": "nul \\x00 byte"'),
        (b'{"amount": NaN}', '{"amount": NaN}'),
    ],
    ids=["form-encoded", "latin-1", "raw-nul-byte", "NaN"],
)
def test_rejected_body_that_is_not_json_is_kept_as_text(
    api_client, openvolt_endpoint, body, kept_as
):
    response = post_json(api_client, openvolt_endpoint, body)

    assert response.status_code == 400
    delivery = Delivery.objects.get()
    assert delivery.payload is None
    assert delivery.unparsed_body == kept_as


def test_same_bad_body_again_adds_a_receipt_not_a_delivery(api_client, openvolt_endpoint):
    body = b"this is not JSON"
    first = post_json(api_client, openvolt_endpoint, body)

    second = post_json(api_client, openvolt_endpoint, body)

    assert (first.status_code, second.status_code) == (400, 400)
    assert second.json()["error"] == "invalid_payload"
    delivery = Delivery.objects.get()
    assert second.json()["delivery"] == first.json()["delivery"] == str(delivery.pk)
    assert delivery.receipt_count == 2
    assert [r.verdict for r in delivery.receipts.all()] == ["rejected", "rejected"]
    assert not jobs_for(delivery.pk).exists()


def test_different_bad_bodies_are_different_rejected_deliveries(api_client, openvolt_endpoint):
    post_json(api_client, openvolt_endpoint, b"not JSON, one")
    post_json(api_client, openvolt_endpoint, b"not JSON, two")

    assert Delivery.objects.filter(status=Delivery.Status.REJECTED).count() == 2


def test_signed_nectar_retry_of_a_rejected_body_adds_a_receipt(api_client, nectar_endpoint):
    body = b'{"id": "c1"}'
    post_signed(api_client, nectar_endpoint, body, message_id="msg_bad")

    retry = post_signed(
        api_client,
        nectar_endpoint,
        body,
        message_id="msg_bad",
        timestamp=timezone.now().timestamp() - 30,
    )

    assert retry.status_code == 400
    delivery = Delivery.objects.get()
    assert delivery.receipt_count == 2
    assert delivery.receipts.count() == 2


def test_valid_delivery_is_not_taken_for_a_retry_of_a_rejected_one(api_client, openvolt_endpoint):
    broken = openvolt_envelope(delivery_id="d-1", event_timestamp="not a time")
    assert post_json(api_client, openvolt_endpoint, broken).status_code == 400

    fixed = post_json(api_client, openvolt_endpoint, openvolt_envelope(delivery_id="d-1"))

    delivery = assert_accepted(fixed, duplicate=False)
    assert delivery.status == Delivery.Status.PENDING
    assert jobs_for(delivery.pk).count() == 1


# Receipts: one per HTTP arrival, secrets redacted

CREDENTIAL_HEADERS = {
    "Authorization": "Bearer credential-value",
    "Proxy-Authorization": "Basic credential-value",
    "Cookie": "sessionid=credential-value",
    "X-Api-Key": "credential-value",
}


def test_receipt_records_time_address_redacted_headers_and_verdict(api_client, openvolt_endpoint):
    headers = {**CREDENTIAL_HEADERS, "User-Agent": "Openvolt/1.0", "X-Request-Id": "req-7"}

    response = post_from(
        api_client,
        openvolt_endpoint,
        openvolt_envelope(),
        headers=headers,
        remote_addr="2001:db8::7",
    )

    receipt = delivery_of(response).receipts.get()
    assert abs(receipt.received_at - timezone.now()) < timedelta(minutes=1)
    assert receipt.remote_addr == "2001:db8::7"
    assert receipt.verdict == DeliveryReceipt.Verdict.ACCEPTED
    assert receipt.response_status == 202
    for name in ("authorization", "proxy-authorization", "cookie", "x-api-key"):
        assert receipt.headers[name] == "[redacted]"
    assert receipt.headers["user-agent"] == "Openvolt/1.0"
    assert receipt.headers["x-request-id"] == "req-7"
    assert receipt.headers["content-type"] == "application/json"
    assert "credential-value" not in json.dumps(receipt.headers)


@pytest.mark.parametrize("prefix", ["svix", "webhook"])
def test_receipt_of_a_nectar_event_keeps_no_signature(api_client, nectar_endpoint, prefix):
    body = body_of(nectar_event())
    signed = nectar_headers(nectar_endpoint.test_secret, body, message_id="msg_9", prefix=prefix)

    response = post_from(api_client, nectar_endpoint, body, headers={**signed, "Cookie": "a=b"})

    headers = delivery_of(response).receipts.get().headers
    assert headers[f"{prefix}-signature"] == "[redacted]"
    assert headers["cookie"] == "[redacted]"
    assert headers[f"{prefix}-id"] == "msg_9"
    assert headers[f"{prefix}-timestamp"] == signed[f"{prefix}-timestamp"]
    signature = signed[f"{prefix}-signature"].partition(",")[2]
    assert signature not in json.dumps(headers)


def test_every_arrival_adds_a_receipt_and_counts_it(api_client, openvolt_endpoint):
    envelope = openvolt_envelope()
    post_from(api_client, openvolt_endpoint, envelope, remote_addr="203.0.113.1")
    post_from(api_client, openvolt_endpoint, envelope, remote_addr="203.0.113.2")
    post_from(api_client, openvolt_endpoint, envelope, remote_addr="203.0.113.3")

    delivery = Delivery.objects.get()
    receipts = list(delivery.receipts.all())
    assert delivery.receipt_count == len(receipts) == 3
    assert [(r.verdict, r.response_status, r.remote_addr) for r in receipts] == [
        ("accepted", 202, "203.0.113.1"),
        ("duplicate", 200, "203.0.113.2"),
        ("duplicate", 200, "203.0.113.3"),
    ]
    assert delivery.last_received_at >= delivery.received_at


def test_rejected_receipt_has_the_rejected_verdict(api_client, openvolt_endpoint):
    post_from(api_client, openvolt_endpoint, b"not JSON", headers={"X-Api-Key": "k-123"})

    receipt = DeliveryReceipt.objects.get()
    assert (receipt.verdict, receipt.response_status) == ("rejected", 400)
    assert receipt.headers["x-api-key"] == "[redacted]"
    assert receipt.remote_addr == "203.0.113.9"


# Processing jobs: queued with the delivery, once


def test_new_delivery_is_queued_for_processing_once(api_client, openvolt_endpoint):
    jobs_before = stored_counts()["jobs"]

    delivery = delivery_of(post_json(api_client, openvolt_endpoint, openvolt_envelope()))

    job = jobs_for(delivery.pk).get()
    assert job.task_name == PROCESS_TASK
    assert job.args == {"delivery_id": delivery.pk}
    assert job.queue_name == "deliveries"
    assert job.status == "todo"
    assert stored_counts()["jobs"] == jobs_before + 1


def test_duplicate_queues_no_second_job(api_client, nectar_endpoint):
    body = body_of(nectar_event())
    delivery = delivery_of(post_signed(api_client, nectar_endpoint, body, message_id="msg_1"))
    jobs_before = stored_counts()["jobs"]

    post_signed(api_client, nectar_endpoint, body, message_id="msg_1")

    assert stored_counts()["jobs"] == jobs_before
    assert jobs_for(delivery.pk).filter(task_name=PROCESS_TASK).count() == 1


# 503: the database is down


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("forget_jobs")
@pytest.mark.parametrize("source", ["openvolt", "nectar"])
def test_database_down_answers_503_with_retry_after(api_client, source):
    endpoint = WebhookEndpointFactory(source=source)
    body = body_of(nectar_event() if source == "nectar" else openvolt_envelope())
    headers = nectar_headers(endpoint.test_secret, body) if endpoint.test_secret else {}

    with database_unreachable():
        response = post_json(api_client, endpoint, body, headers)

    assert_refused(response, 503, "unavailable")
    assert int(response["Retry-After"]) > 0
    # Nothing was kept: the sender's retry, once the database is back, is a new delivery.
    assert_accepted(post_json(api_client, endpoint, body, headers), duplicate=False)
