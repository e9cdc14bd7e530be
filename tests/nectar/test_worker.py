"""A real procrastinate worker over a queue holding a bad Nectar delivery and a good one.

The worker reads the queue over its own connections, so the data must be committed: these
tests use a transactional database (see tests/events/test_worker.py).
"""

import pytest
from django.db import connections
from procrastinate.contrib.django.models import ProcrastinateJob

from consents.models import UtilityConnection
from events.models import Delivery
from meters.models import UtilityBill
from tests.support.nectar import load, send
from tests.support.workers import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def close_task_connections(monkeypatch):
    """The worker's task threads close their connections after each task unless they are
    persistent; left open, they would keep the test database from being dropped."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)


def job_statuses(delivery):
    jobs = ProcrastinateJob.objects.filter(
        task_name="events.process_delivery", args__delivery_id=delivery.pk
    )
    return list(jobs.order_by("id").values_list("status", flat=True))


@pytest.mark.parametrize(
    ("delays", "bad_status", "bad_jobs"),
    [
        ([], Delivery.Status.DEAD, ["succeeded"]),
        # A value no retry can read is not retried, however many retries there are.
        ([3600], Delivery.Status.DEAD, ["succeeded"]),
    ],
    ids=["no-retries", "retries-unused"],
)
def test_bad_delivery_does_not_hold_up_the_queue(
    api_client, nectar_endpoint, settings, delays, bad_status, bad_jobs
):
    settings.DELIVERY_RETRY_DELAYS = delays
    bad_event = load("document.created.v2")
    bad_event["totalCharges"] = "decimal"
    bad = send(api_client, nectar_endpoint, bad_event)  # queued first, run first
    good = send(api_client, nectar_endpoint, load("connection.created"))

    run_worker("deliveries")

    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == bad_status
    assert "event.totalCharges" in bad.error
    assert not UtilityBill.objects.exists()
    assert good.status == Delivery.Status.PROCESSED, good.error
    assert UtilityConnection.objects.get().external_id == load("connection.created")["id"]
    assert job_statuses(bad) == bad_jobs
    assert job_statuses(good) == ["succeeded"]
