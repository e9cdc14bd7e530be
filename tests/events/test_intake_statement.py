"""The intake's one statement (events/receipts.py) and the endpoints it keeps a few seconds
(events/endpoint_cache.py): the job it queues is procrastinate's own, a failure stores
nothing, and an endpoint changed is taken as changed."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from procrastinate.jobs import DEFAULT_PRIORITY

from events import endpoint_cache
from events.models import Delivery, DeliveryReceipt
from tests.support.jobs import PROCESS_TASK, jobs_for
from tests.support.webhooks import openvolt_envelope, post_json

pytestmark = pytest.mark.django_db


def test_a_new_delivery_queues_the_job_procrastinate_would(api_client, openvolt_endpoint):
    response = post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created"))

    delivery = Delivery.objects.get()
    assert response.status_code == 202
    [job] = jobs_for(delivery)
    assert (job.queue_name, job.task_name, job.priority) == (
        "deliveries",
        PROCESS_TASK,
        DEFAULT_PRIORITY,
    )
    assert (job.lock, job.queueing_lock, job.scheduled_at) == (
        f"delivery:{delivery.pk}",
        None,
        None,
    )
    assert (job.args, job.status, job.attempts) == ({"delivery_id": delivery.pk}, "todo", 0)


def test_a_duplicate_or_a_rejected_body_queues_no_job(api_client, openvolt_endpoint):
    envelope = openvolt_envelope("customer.created", "d-1")
    post_json(api_client, openvolt_endpoint, envelope)
    post_json(api_client, openvolt_endpoint, envelope)
    rejected = post_json(api_client, openvolt_endpoint, {"delivery_id": "d-2"})

    assert rejected.status_code == 400
    assert [len(jobs_for(delivery)) for delivery in Delivery.objects.order_by("id")] == [1, 0]


def test_a_statement_that_fails_stores_nothing_of_the_arrival(
    api_client, openvolt_endpoint, monkeypatch
):
    """Its parts stand or fall together: a receipt that cannot be written leaves no delivery
    and no job behind. (Here the receipt's remote address is not one; the rejected-delivery
    fallback, which drops a bad address, then stores the arrival once.)"""
    monkeypatch.setattr("events.views.client_address", lambda request: "not an address")

    response = post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created"))

    delivery = Delivery.objects.get()
    assert response.status_code == 400
    assert delivery.status == Delivery.Status.REJECTED
    assert "could not take this delivery in" in delivery.error
    assert jobs_for(delivery).count() == 0
    assert list(DeliveryReceipt.objects.values_list("verdict", "remote_addr")) == [
        ("rejected", None)
    ]


# The endpoints kept


def endpoint_lookups(queries) -> list[str]:
    return [query["sql"] for query in queries if 'FROM "events_webhookendpoint"' in query["sql"]]


def test_an_endpoint_is_looked_up_once_for_a_stream_of_deliveries(api_client, openvolt_endpoint):
    with CaptureQueriesContext(connection) as queries:
        for number in range(3):
            post_json(
                api_client, openvolt_endpoint, openvolt_envelope("customer.created", f"d-{number}")
            )

    assert len(endpoint_lookups(queries)) == 1


def test_an_endpoint_disabled_here_refuses_the_next_delivery(api_client, openvolt_endpoint):
    post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "d-1"))
    openvolt_endpoint.enabled = False
    openvolt_endpoint.save()

    response = post_json(
        api_client, openvolt_endpoint, openvolt_envelope("customer.created", "d-2")
    )

    assert response.status_code == 404


def test_an_endpoint_disabled_elsewhere_refuses_deliveries_within_seconds(
    api_client, openvolt_endpoint, monkeypatch
):
    """Another process's change sends no signal here: it is seen once the endpoint is due to
    be looked up again."""
    now = [1000.0]
    monkeypatch.setattr(endpoint_cache.time, "monotonic", lambda: now[0])
    post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "d-1"))
    type(openvolt_endpoint).objects.filter(pk=openvolt_endpoint.pk).update(enabled=False)

    now[0] += endpoint_cache.ENDPOINT_CACHE_SECONDS - 1
    still = post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "d-2"))
    now[0] += 1
    refused = post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "d-3"))

    assert (still.status_code, refused.status_code) == (202, 404)


def test_unknown_addresses_are_not_kept(api_client, openvolt_endpoint):
    openvolt_endpoint.delete()

    for _ in range(3):
        assert post_json(api_client, openvolt_endpoint, openvolt_envelope()).status_code == 404

    assert endpoint_cache._endpoints == {}
