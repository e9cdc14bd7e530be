"""A fault of Switchboard's own while reading or storing an authenticated delivery: never a 500.

The delivery is kept as rejected with the error as its reason and answered 400, as a body the
source cannot read is; the sender is asked to retry (503) when the database is what failed, or
when not even the rejected delivery could be stored.
"""

import logging

import pytest
from django.db import OperationalError

from events import intake
from events.models import Delivery, DeliveryReceipt
from events.sources.base import Envelope
from events.sources.nectar import NectarSource
from events.sources.openvolt import OpenvoltSource
from tests.support.database import stored_counts
from tests.support.jobs import jobs_for
from tests.support.webhooks import (
    body_of,
    nectar_event,
    nectar_headers,
    openvolt_envelope,
    post_json,
    post_signed,
)


def broken(message):
    def fail(*args, **kwargs):
        raise RuntimeError(message)

    return fail


def assert_stored_rejected(response, *, mentions: str) -> Delivery:
    assert response.status_code == 400, response.content
    delivery = Delivery.objects.get()
    answer = response.json()
    assert answer == {
        "error": "invalid_payload",
        "detail": answer["detail"],
        "delivery": str(delivery.pk),
    }
    assert mentions in answer["detail"]
    assert delivery.status == Delivery.Status.REJECTED
    assert delivery.error == answer["detail"]
    assert delivery.subjects == []
    assert delivery.payload is None
    receipt = delivery.receipts.get()
    assert (receipt.verdict, receipt.response_status) == (DeliveryReceipt.Verdict.REJECTED, 400)
    assert not jobs_for(delivery.pk).exists()
    return delivery


def test_a_failure_while_indexing_an_openvolt_delivery_stores_it_rejected(
    api_client, openvolt_endpoint, monkeypatch
):
    monkeypatch.setattr(intake, "subjects_of", broken("the subjects could not be read"))
    body = body_of(openvolt_envelope(delivery_id="d-1"))

    response = post_json(api_client, openvolt_endpoint, body)

    delivery = assert_stored_rejected(response, mentions="the subjects could not be read")
    assert "RuntimeError" in delivery.error
    assert delivery.unparsed_body == body.decode()
    # Not under its delivery_id: a later good delivery under that id is no retry of this one.
    assert delivery.external_id.startswith("invalid-body:")


def test_a_failure_in_the_nectar_reader_stores_it_rejected_under_its_message_id(
    api_client, nectar_endpoint, monkeypatch
):
    monkeypatch.setattr(NectarSource, "read_envelope", broken("the reader tripped"))

    response = post_signed(api_client, nectar_endpoint, body_of(nectar_event()), message_id="m-7")

    delivery = assert_stored_rejected(response, mentions="the reader tripped")
    assert delivery.external_id == "m-7"
    assert delivery.source == "nectar"


def test_its_retry_adds_a_receipt_and_is_answered_400_again(
    api_client, openvolt_endpoint, monkeypatch
):
    monkeypatch.setattr(OpenvoltSource, "read_envelope", broken("the reader tripped"))
    body = body_of(openvolt_envelope())

    first = post_json(api_client, openvolt_endpoint, body)
    again = post_json(api_client, openvolt_endpoint, body)

    assert (first.status_code, again.status_code) == (400, 400)
    assert first.json()["delivery"] == again.json()["delivery"]
    assert Delivery.objects.get().receipt_count == 2


def test_an_id_longer_than_its_column_is_stored_rejected_not_answered_500(
    api_client, openvolt_endpoint, monkeypatch
):
    """A reader that lets through what the table cannot hold: PostgreSQL refuses the row
    (DataError), and the delivery is stored again without it."""
    monkeypatch.setattr(
        OpenvoltSource,
        "read_envelope",
        lambda self, endpoint, headers, document: Envelope(
            external_id="d" * 300, event_type="customer.created", occurred_at=None
        ),
    )

    response = post_json(api_client, openvolt_endpoint, openvolt_envelope())

    delivery = assert_stored_rejected(response, mentions="DataError")
    assert "too long" in delivery.error
    assert delivery.external_id.startswith("invalid-body:")


def test_a_nul_in_the_signed_message_id_is_stored_rejected_under_a_storable_id(
    api_client, nectar_endpoint
):
    body = body_of(nectar_event())
    headers = nectar_headers(nectar_endpoint.test_secret, body, message_id="msg\x00one")

    response = post_json(api_client, nectar_endpoint, body, headers)

    delivery = assert_stored_rejected(response, mentions="NUL")
    assert delivery.external_id == "msg\\x00one"


def test_odd_header_values_are_stored_as_text(api_client, openvolt_endpoint):
    headers = {"X-Odd": "nul\x00inside"}

    response = post_json(api_client, openvolt_endpoint, openvolt_envelope(), headers)

    assert response.status_code == 202, response.content
    assert DeliveryReceipt.objects.get().headers["x-odd"] == "nul\\x00inside"


def test_the_error_is_logged_with_its_traceback_and_without_the_endpoint_id(
    api_client, openvolt_endpoint, monkeypatch, caplog
):
    def fail(document):
        raise RuntimeError(f"broken for {openvolt_endpoint.pk}")

    monkeypatch.setattr(intake, "subjects_of", fail)

    with caplog.at_level(logging.ERROR, logger="events.intake"):
        response = post_json(api_client, openvolt_endpoint, openvolt_envelope())

    assert response.status_code == 400
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Traceback" in logged and "RuntimeError: broken for <endpoint>" in logged
    assert str(openvolt_endpoint.pk) not in logged
    assert str(openvolt_endpoint.pk) not in response.content.decode()
    assert str(openvolt_endpoint.pk) not in Delivery.objects.get().error


def test_a_database_that_fails_while_storing_asks_the_sender_to_retry(
    api_client, nectar_endpoint, monkeypatch
):
    monkeypatch.setattr(intake, "subjects_of", broken_database)
    before = stored_counts()

    response = post_signed(api_client, nectar_endpoint, body_of(nectar_event()))

    assert response.status_code == 503, response.content
    assert response.json()["error"] == "unavailable"
    assert int(response["Retry-After"]) > 0
    assert stored_counts() == before


def broken_database(*args, **kwargs):
    raise OperationalError("the server closed the connection")


@pytest.mark.parametrize(
    "second_failure",
    [RuntimeError("receipts broke again"), OperationalError("the server went away")],
    ids=["the-same-fault", "the-database-lost"],
)
def test_when_not_even_the_rejected_delivery_can_be_stored_the_answer_is_503(
    api_client, openvolt_endpoint, monkeypatch, caplog, second_failure
):
    """Every store writes a receipt: when that fails, both stores fail, and nothing is kept."""
    failures = iter([RuntimeError("receipts broke"), second_failure])

    def fail(headers):
        raise next(failures)

    monkeypatch.setattr(intake, "redact_headers", fail)
    before = stored_counts()

    with caplog.at_level(logging.ERROR, logger="events.intake"):
        response = post_json(api_client, openvolt_endpoint, openvolt_envelope())

    assert response.status_code == 503, response.content
    assert response.json()["error"] == "unavailable"
    assert int(response["Retry-After"]) > 0
    assert stored_counts() == before
    assert "Not even the rejected openvolt delivery could be stored" in caplog.text
    assert str(second_failure) in caplog.text
