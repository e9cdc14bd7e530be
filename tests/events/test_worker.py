"""End to end: a delivery posted through the HTTP intake, run by a real procrastinate worker.

The worker reads the queue over its own connections, so the data must be committed: these
tests use a transactional database.
"""

import pytest
from django.db import connections
from django.utils import timezone

from events.dispatch import Outcome
from events.models import Delivery, DeliveryAttempt
from events.processing import deliveries_reprocess
from tests.support.jobs import jobs_for
from tests.support.webhooks import openvolt_envelope, post_json
from tests.support.workers import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

HANDLED = "test.handled"
UNHANDLED = "test.unhandled"


@pytest.fixture(autouse=True)
def close_task_connections(monkeypatch):
    """The worker runs tasks in threads with Django connections of their own, which it closes
    after each task unless they are persistent (CONN_MAX_AGE); left open, they would keep
    the test database from being dropped."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)


def receive(api_client, endpoint, event_type):
    response = post_json(api_client, endpoint, openvolt_envelope(event_type=event_type))
    assert response.status_code == 202
    return Delivery.objects.get(pk=response.json()["delivery"])


def job_statuses(delivery):
    return list(jobs_for(delivery).values_list("status", flat=True))


def test_worker_ignores_delivery_without_handler(api_client, openvolt_endpoint):
    delivery = receive(api_client, openvolt_endpoint, UNHANDLED)
    assert job_statuses(delivery) == ["todo"]

    run_worker("deliveries")

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.IGNORED
    assert not delivery.attempts.exists()
    assert job_statuses(delivery) == ["succeeded"]


def test_worker_runs_delivery_through_its_handler(api_client, openvolt_endpoint, register_handler):
    seen = []

    def customer_handler(delivery):
        seen.append(delivery.payload["payload"]["name"])
        return Outcome(summary="Customer seen", warnings=["no meters yet"])

    register_handler("openvolt", HANDLED, customer_handler)
    delivery = receive(api_client, openvolt_endpoint, HANDLED)

    run_worker("deliveries")

    delivery.refresh_from_db()
    assert seen == ["Customer Name"]
    assert delivery.status == Delivery.Status.PROCESSED
    assert delivery.warnings == ["no meters yet"]
    assert delivery.summary == "Customer seen"
    assert delivery.attempts.get().result == DeliveryAttempt.Result.PROCESSED
    assert job_statuses(delivery) == ["succeeded"]


def test_failed_delivery_waits_for_its_retry_until_reprocessed(
    api_client, openvolt_endpoint, register_handler, settings
):
    settings.DELIVERY_RETRY_DELAYS = [3600]
    calls = []

    def flaky_handler(delivery):
        calls.append(delivery.pk)
        if len(calls) == 1:
            raise ConnectionError("Openvolt is down")

    register_handler("openvolt", HANDLED, flaky_handler)
    delivery = receive(api_client, openvolt_endpoint, HANDLED)

    run_worker("deliveries")  # returns although a retry is queued: it is due in an hour

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error == "ConnectionError: Openvolt is down"
    assert delivery.next_attempt_at > timezone.now()
    assert job_statuses(delivery) == ["succeeded", "todo"]

    deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))
    run_worker("deliveries")

    delivery.refresh_from_db()
    assert len(calls) == 2
    assert delivery.status == Delivery.Status.PROCESSED
    assert delivery.consecutive_failures == 0
    # The retry that was waiting is cancelled: the reprocess ran in its place.
    assert job_statuses(delivery) == ["succeeded", "cancelled", "succeeded"]
