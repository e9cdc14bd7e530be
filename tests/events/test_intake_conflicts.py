"""A delivery id sent again with another body: recorded as a `conflict`, answered as a
duplicate (so that the sender stops), the first body kept; shown on the delivery's page and
found by the changelist's filter. Bodies are compared by the SHA-256 of their bytes."""

import hashlib
import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events.admin_filters import conflict_q
from events.models import Delivery, DeliveryReceipt
from tests.factories import DeliveryFactory
from tests.support.jobs import PROCESS_TASK, jobs_for
from tests.support.webhooks import (
    body_of,
    delivery_of,
    nectar_event,
    openvolt_envelope,
    post_json,
    post_signed,
)

CHANGELIST = reverse("admin:events_delivery_changelist")

# The first body of delivery "d-1" (Openvolt) or message "msg_1" (Nectar), and another one.
BODIES = {
    "openvolt": (
        body_of(openvolt_envelope(delivery_id="d-1")),
        body_of(openvolt_envelope(delivery_id="d-1", payload={"id": "someone-else"})),
    ),
    "nectar": (
        body_of(nectar_event()),
        body_of(nectar_event(status="deleted")),
    ),
}


def sha256(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def send(client, endpoint, body: bytes, *, message_id="msg_1"):
    """POST a body as the endpoint's platform would; Nectar's signed under `message_id`."""
    if endpoint.source == "nectar":
        return post_signed(client, endpoint, body, message_id=message_id)
    return post_json(client, endpoint, body)


def verdicts(delivery: Delivery) -> list[tuple[str, int]]:
    return [(r.verdict, r.response_status) for r in delivery.receipts.order_by("id")]


@pytest.fixture(params=["openvolt", "nectar"])
def endpoint(request):
    return request.getfixturevalue(f"{request.param}_endpoint")


# The intake


def test_the_same_body_again_is_a_duplicate(api_client, endpoint):
    first, _ = BODIES[endpoint.source]
    send(api_client, endpoint, first)

    response = send(api_client, endpoint, first)

    assert response.status_code == 200, response.content
    delivery = delivery_of(response)
    assert response.json() == {"delivery": str(delivery.pk), "duplicate": True}
    assert verdicts(delivery) == [("accepted", 202), ("duplicate", 200)]
    assert bytes(delivery.body_sha256) == sha256(first)
    assert delivery.last_conflict_at is None


def test_another_body_under_the_same_id_is_a_conflict_answered_as_a_duplicate(api_client, endpoint):
    first, other = BODIES[endpoint.source]
    send(api_client, endpoint, first)

    response = send(api_client, endpoint, other)

    # The answer a duplicate gets, so that the sender stops sending it.
    assert response.status_code == 200, response.content
    delivery = delivery_of(response)
    assert response.json() == {"delivery": str(delivery.pk), "duplicate": True}
    assert verdicts(delivery) == [("accepted", 202), ("conflict", 200)]
    # The first body is the one kept, and the only one processed.
    assert delivery.payload == json.loads(first)
    assert bytes(delivery.body_sha256) == sha256(first)
    assert delivery.receipt_count == 2
    assert delivery.last_conflict_at == delivery.last_received_at
    assert jobs_for(delivery.pk).filter(task_name=PROCESS_TASK).count() == 1


def test_the_bytes_are_compared_not_what_they_mean(api_client, openvolt_endpoint):
    first, _ = BODIES["openvolt"]
    post_json(api_client, openvolt_endpoint, first)

    response = post_json(api_client, openvolt_endpoint, first + b"\n")

    assert response.status_code == 200
    assert verdicts(delivery_of(response))[-1] == ("conflict", 200)


def test_each_later_body_is_compared_with_the_first(api_client, endpoint):
    first, other = BODIES[endpoint.source]
    for body in [first, other, first, other, other]:
        response = send(api_client, endpoint, body)

    delivery = delivery_of(response)
    assert [verdict for verdict, _ in verdicts(delivery)] == [
        "accepted",
        "conflict",
        "duplicate",
        "conflict",
        "conflict",
    ]
    assert bytes(delivery.body_sha256) == sha256(first)


def test_a_delivery_stored_before_bodies_were_hashed_is_never_in_conflict(
    api_client, openvolt_endpoint
):
    old = DeliveryFactory(endpoint=openvolt_endpoint, external_id="d-1")
    assert old.body_sha256 is None
    _, other = BODIES["openvolt"]

    response = post_json(api_client, openvolt_endpoint, other)

    assert response.status_code == 200
    assert response.json() == {"delivery": str(old.pk), "duplicate": True}
    old.refresh_from_db()
    assert verdicts(old) == [("duplicate", 200)]
    assert old.last_conflict_at is None
    # Not filled in from a later body: nothing says it is the first one's.
    assert old.body_sha256 is None


def test_an_unreadable_body_sent_again_is_keyed_by_its_hash_and_stays_rejected(
    api_client, openvolt_endpoint
):
    body = b"{not json"

    answers = [post_json(api_client, openvolt_endpoint, body) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [400, 400]
    delivery = Delivery.objects.get()
    assert delivery.external_id == "invalid-body:" + sha256(body).hex()
    assert bytes(delivery.body_sha256) == sha256(body)
    assert verdicts(delivery) == [("rejected", 400), ("rejected", 400)]
    assert delivery.last_conflict_at is None


def test_a_rejected_delivery_stays_refused_whatever_body_comes_under_its_id(
    api_client, nectar_endpoint
):
    rejected = post_signed(api_client, nectar_endpoint, b"{not json", message_id="msg_1")
    assert rejected.status_code == 400

    response = post_signed(api_client, nectar_endpoint, body_of(nectar_event()), message_id="msg_1")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.REJECTED
    assert verdicts(delivery) == [("rejected", 400), ("rejected", 400)]
    assert delivery.last_conflict_at is None


def test_an_unreadable_body_under_a_stored_message_id_is_a_conflict(api_client, nectar_endpoint):
    first, _ = BODIES["nectar"]
    post_signed(api_client, nectar_endpoint, first, message_id="msg_1")

    response = post_signed(api_client, nectar_endpoint, b"{not json", message_id="msg_1")

    assert response.status_code == 200, response.content
    delivery = delivery_of(response)
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.payload == json.loads(first)
    assert verdicts(delivery) == [("accepted", 202), ("conflict", 200)]


def test_a_conflict_is_logged_without_the_endpoint_id(api_client, openvolt_endpoint, caplog):
    first, other = BODIES["openvolt"]
    post_json(api_client, openvolt_endpoint, first)

    with caplog.at_level(logging.WARNING, logger="events.intake"):
        delivery = delivery_of(post_json(api_client, openvolt_endpoint, other))

    (record,) = [r for r in caplog.records if r.name == "events.intake"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"Delivery {delivery.pk} arrived again with a different body: recorded as a conflict, "
        "the stored body kept."
    )
    assert str(openvolt_endpoint.pk) not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_every_arrival_is_one_statement(api_client, openvolt_endpoint):
    """New, duplicate or conflict: one statement, committed on its own (no BEGIN, no COMMIT).
    The comparison rides on the statement that finds the duplicate; the endpoint, looked up
    for the first arrival, is kept for the next ones."""
    first, other = BODIES["openvolt"]
    post_json(api_client, openvolt_endpoint, body_of(openvolt_envelope(delivery_id="warm-up")))
    statements = {}
    for name, body in [("new", first), ("duplicate", first), ("conflict", other)]:
        with CaptureQueriesContext(connection) as queries:
            post_json(api_client, openvolt_endpoint, body)
        statements[name] = [query["sql"] for query in queries]

    for arrival in statements.values():
        assert len(arrival) == 1, arrival
        assert "INSERT INTO events_delivery AS" in arrival[0]
    verdicts = list(DeliveryReceipt.objects.order_by("id").values_list("verdict", flat=True))
    assert verdicts == ["accepted", "accepted", "duplicate", "conflict"]


# The admin: the delivery's page and the changelist


def change_page(client, delivery) -> str:
    response = client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_delivery_page_says_a_later_receipt_carried_another_body(
    admin_client, api_client, openvolt_endpoint
):
    first, other = BODIES["openvolt"]
    for body in [first, other, first, other]:
        delivery = delivery_of(post_json(api_client, openvolt_endpoint, body))
    last_conflict = delivery.receipts.filter(verdict="conflict").latest("received_at")

    page = change_page(admin_client, delivery)

    assert '<li class="warning" id="body-conflict">' in page
    when = timezone.localtime(last_conflict.received_at)
    assert (
        "A later receipt carried a different body (2 times, the last at "
        f"{when.day} {when:%b %Y, %H:%M:%S})." in page
    )
    assert page.count("<p>Conflict: a different body</p>") == 2  # the receipts' verdicts
    assert f"<code>{sha256(first).hex()}</code>" in page
    assert "Last body conflict" in page


def test_a_delivery_without_conflict_has_no_notice_and_costs_no_query_for_it(
    admin_client, api_client, openvolt_endpoint
):
    first, _ = BODIES["openvolt"]
    post_json(api_client, openvolt_endpoint, first)
    delivery = delivery_of(post_json(api_client, openvolt_endpoint, first))

    with CaptureQueriesContext(connection) as queries:
        page = change_page(admin_client, delivery)

    assert "body-conflict" not in page
    assert f"<code>{sha256(first).hex()}</code>" in page
    assert not [q["sql"] for q in queries if "'conflict'" in q["sql"]]


def test_a_delivery_from_before_bodies_were_hashed_says_so(admin_client, db):
    page = change_page(admin_client, DeliveryFactory())

    assert "received before bodies were hashed" in page
    assert "body-conflict" not in page


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("24h", {"now"}),
        ("7d", {"now", "3-days"}),
        ("30d", {"now", "3-days", "20-days"}),
        ("any", {"now", "3-days", "20-days", "90-days"}),
        ("nonsense", {"now", "3-days", "20-days", "90-days", "none"}),
    ],
)
def test_the_changelist_filters_deliveries_by_when_a_later_body_differed(
    admin_client, db, period, expected
):
    now = timezone.now()
    for external_id, age in [
        ("now", timedelta(0)),
        ("3-days", timedelta(days=3)),
        ("20-days", timedelta(days=20)),
        ("90-days", timedelta(days=90)),
        ("none", None),
    ]:
        DeliveryFactory(
            external_id=external_id,
            received_at=now - timedelta(days=100),
            last_conflict_at=None if age is None else now - age,
        )

    response = admin_client.get(CHANGELIST, {"conflict": period})

    assert response.status_code == 200
    assert {d.external_id for d in response.context["cl"].result_list} == expected


def test_the_filter_reads_the_partial_index(db):
    """On a table of many deliveries and few conflicts, the planner's choice a real table
    gets: the few rows of the partial index, not a walk of every delivery."""
    endpoint = DeliveryFactory().endpoint
    Delivery.objects.bulk_create(DeliveryFactory.build_batch(3000, endpoint=endpoint))
    DeliveryFactory(endpoint=endpoint, last_conflict_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Delivery._meta.db_table}")

    plan = Delivery.objects.filter(conflict_q("7d")).order_by("-received_at", "-id")[:50].explain()

    assert "delivery_conflict" in plan, plan
