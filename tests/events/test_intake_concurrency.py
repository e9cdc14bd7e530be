"""Simultaneous arrivals of one delivery, through a real threaded server and real connections."""

import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest

from events.models import Delivery, DeliveryReceipt
from tests.factories import NectarEndpointFactory, OpenvoltEndpointFactory
from tests.support.jobs import delete_all_jobs, jobs_for
from tests.support.webhooks import body_of, nectar_event, nectar_headers, openvolt_envelope

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

SENDERS = 16


@pytest.fixture(autouse=True)
def forget_jobs():
    yield
    delete_all_jobs()


def post_all_at_once(
    url: str, body: bytes, headers: dict[str, str], *, bodies: list[bytes] | None = None
) -> list[tuple[int, dict]]:
    """POST the same request from SENDERS threads released together (or one of `bodies`
    each); (status, JSON) of each."""
    barrier = threading.Barrier(SENDERS)
    answers = []

    def send(body):
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **headers},
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append((response.status, json.load(response)))
        except urllib.error.HTTPError as error:
            answers.append((error.code, json.load(error)))

    bodies = bodies or [body] * SENDERS
    assert len(bodies) == SENDERS
    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == SENDERS, "a sender got no answer"
    return answers


def assert_one_delivery_and_the_rest_duplicates(answers):
    statuses = Counter(status for status, _ in answers)
    assert statuses == {202: 1, 200: SENDERS - 1}, answers
    assert Counter(answer["duplicate"] for _, answer in answers) == {False: 1, True: SENDERS - 1}
    delivery = Delivery.objects.get()
    assert {answer["delivery"] for _, answer in answers} == {str(delivery.pk)}
    assert delivery.receipt_count == SENDERS
    verdicts = Counter(delivery.receipts.values_list("verdict", flat=True))
    assert verdicts == {"accepted": 1, "duplicate": SENDERS - 1}
    assert jobs_for(delivery.pk).count() == 1


def test_simultaneous_openvolt_deliveries_store_one(live_server):
    endpoint = OpenvoltEndpointFactory()
    body = body_of(openvolt_envelope(delivery_id="same-delivery"))

    answers = post_all_at_once(live_server.url + endpoint.path, body, {})

    assert_one_delivery_and_the_rest_duplicates(answers)


def test_simultaneous_nectar_deliveries_store_one(live_server):
    endpoint = NectarEndpointFactory()
    body = body_of(nectar_event())
    headers = nectar_headers(endpoint.test_secret, body, message_id="msg_same")

    answers = post_all_at_once(live_server.url + endpoint.path, body, headers)

    assert_one_delivery_and_the_rest_duplicates(answers)
    assert Delivery.objects.get().external_id == "msg_same"


def test_simultaneous_bad_bodies_store_one_rejected_delivery(live_server):
    endpoint = OpenvoltEndpointFactory()

    answers = post_all_at_once(live_server.url + endpoint.path, b"{not json", {})

    assert Counter(status for status, _ in answers) == {400: SENDERS}
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.REJECTED
    assert {answer["delivery"] for _, answer in answers} == {str(delivery.pk)}
    assert delivery.receipt_count == DeliveryReceipt.objects.count() == SENDERS
    assert not jobs_for(delivery.pk).exists()


def test_simultaneous_arrivals_of_two_bodies_keep_the_first_and_call_the_other_a_conflict(
    live_server,
):
    endpoint = OpenvoltEndpointFactory()
    one = body_of(openvolt_envelope(delivery_id="same-delivery"))
    other = body_of(openvolt_envelope(delivery_id="same-delivery", payload={"id": "another"}))

    answers = post_all_at_once(
        live_server.url + endpoint.path, b"", {}, bodies=[one, other] * (SENDERS // 2)
    )

    # Whichever PostgreSQL stored first is the delivery; the other body's arrivals conflict.
    assert Counter(status for status, _ in answers) == {202: 1, 200: SENDERS - 1}, answers
    delivery = Delivery.objects.get()
    stored = one if bytes(delivery.body_sha256) == hashlib.sha256(one).digest() else other
    assert delivery.payload == json.loads(stored)
    assert delivery.receipt_count == SENDERS
    verdicts = Counter(delivery.receipts.values_list("verdict", flat=True))
    assert verdicts == {"accepted": 1, "duplicate": SENDERS // 2 - 1, "conflict": SENDERS // 2}
    assert delivery.last_conflict_at is not None
    assert jobs_for(delivery.pk).count() == 1
