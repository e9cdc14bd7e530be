"""The sweeper (events/sweeper.py): a delivery or item left waiting with no job to run it, as a
database outage leaves one whose job failed, is queued again once, with the reason recorded on
the delivery, and the next worker runs it; work on its way, or waiting for less than the grace
period, is left alone. *Reprocess* queues such a delivery again too.

Jobs are lost here as the worker loses them in an outage: procrastinate's own function ends
them `failed`, and the delivery or item stays as the broken run left it.
"""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from events import dispatch, sweeper
from events.dispatch import ItemKind, Outcome, WorkItem
from events.models import Delivery, DeliveryAttempt, DeliveryItem, DeliveryRequeue
from events.processing import deliveries_reprocess_counted
from events.sweeper import Swept, lost_work_requeue
from events.tasks import delivery_run_queue, item_runs_queue, recover_stalled_jobs
from tests.factories import DeliveryFactory, StaffUserFactory
from tests.support.jobs import jobs_for
from tests.support.workers import heartbeat, run_worker

pytestmark = pytest.mark.django_db

Status = Delivery.Status
ItemStatus = DeliveryItem.Status
HANDLED = "test.handled"
KIND = "test.meter"
LONG_AGO = timedelta(minutes=10)


def jobs_lose(*locks: str) -> None:
    """End the live jobs holding these locks `failed`, as the worker does with a job whose
    task met a broken database connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT procrastinate_finish_job_v1(id, 'failed', false) FROM procrastinate_jobs "
            "WHERE lock = ANY(%s) AND status IN ('todo', 'doing')",
            [list(locks)],
        )


def job_statuses(lock: str) -> list[str]:
    return list(ProcrastinateJob.objects.filter(lock=lock).order_by("id").values_list("status"))


def orphan(status=Status.PENDING, *, waited=LONG_AGO, **fields) -> Delivery:
    """A delivery received `waited` ago whose job was lost."""
    delivery = DeliveryFactory(
        event_type=HANDLED, status=status, received_at=timezone.now() - waited, **fields
    )
    delivery_run_queue(delivery_id=delivery.pk)
    jobs_lose(f"delivery:{delivery.pk}")
    return delivery


def item_of(delivery, status, *, position=1, waited=LONG_AGO) -> DeliveryItem:
    """An item of the delivery, in `status` since `waited` ago, with no job."""
    since = timezone.now() - waited
    return DeliveryItem.objects.create(
        delivery=delivery,
        position=position,
        kind=KIND,
        subject=f"meter-{position}",
        status=status,
        created_at=since,
        started_at=since if status == ItemStatus.RUNNING else None,
        next_attempt_at=since if status == ItemStatus.FAILED else None,
    )


@pytest.fixture
def handled(register_handler):
    """Openvolt HANDLED deliveries run through a handler that records them."""
    calls = []

    def handler(delivery):
        calls.append(delivery.pk)
        return Outcome(summary="Handled")

    register_handler("openvolt", HANDLED, handler)
    return calls


@pytest.fixture
def item_kind(monkeypatch):
    """A KIND of item that stores nothing, registered for this test only."""
    monkeypatch.setattr(dispatch, "_item_kinds", dict(dispatch._item_kinds))
    stored = []

    def store(item, fetched):
        stored.append(fetched)
        return Outcome(summary=f"Stored {fetched}")

    dispatch.item_kind_register(
        KIND, ItemKind(fetch=lambda item: item.subject, store=store, lock=KIND)
    )
    return stored


# --- Lost work, queued again -----------------------------------------------------------------


@pytest.mark.usefixtures("live_database")
def test_a_pending_delivery_whose_job_failed_is_queued_again_once_and_processed(handled):
    delivery = orphan(Status.PENDING)

    assert lost_work_requeue() == Swept(deliveries=1)
    assert lost_work_requeue() == Swept()  # on its way now: not twice

    (requeue,) = delivery.requeues.all()
    assert requeue.reason == (
        "Waiting for the worker, but no job was there to run it (its job had failed or "
        "vanished, as in a database outage): queued again by the sweeper."
    )
    assert requeue.items == 0
    assert timezone.now() - requeue.at < timedelta(minutes=1)
    assert job_statuses(f"delivery:{delivery.pk}") == [("failed",), ("todo",)]

    run_worker("deliveries")

    delivery.refresh_from_db()
    assert handled == [delivery.pk]
    assert delivery.status == Status.PROCESSED
    assert job_statuses(f"delivery:{delivery.pk}") == [("failed",), ("succeeded",)]


@pytest.mark.usefixtures("live_database")
def test_a_delivery_left_processing_is_queued_again_and_its_cut_attempt_closed(handled):
    delivery = orphan(Status.PROCESSING, attempt_count=1)
    DeliveryAttempt.objects.create(delivery=delivery, started_at=timezone.now() - LONG_AGO)

    assert lost_work_requeue() == Swept(deliveries=1)

    assert delivery.requeues.get().reason.startswith(
        "Left processing by a run that never finished, with no job to run it again"
    )
    run_worker("deliveries")
    delivery.refresh_from_db()
    assert delivery.status == Status.PROCESSED
    assert delivery.attempt_count == 2
    assert list(delivery.attempts.values_list("result", flat=True)) == [
        DeliveryAttempt.Result.FAILED,
        DeliveryAttempt.Result.PROCESSED,
    ]


def test_a_failed_delivery_whose_retry_job_was_lost_is_queued_again():
    due = timezone.now() - timedelta(minutes=30)
    lost = orphan(Status.FAILED, next_attempt_at=due, consecutive_failures=1)
    due_just_now = orphan(Status.FAILED, next_attempt_at=timezone.now() - timedelta(seconds=30))
    scheduled = DeliveryFactory(
        status=Status.FAILED,
        received_at=timezone.now() - LONG_AGO,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    delivery_run_queue(delivery_id=scheduled.pk, at=scheduled.next_attempt_at)

    assert lost_work_requeue() == Swept(deliveries=1)

    assert lost.requeues.get().reason.startswith(
        f"Its retry was due at {timezone.localtime(due):%Y-%m-%d %H:%M}, but no job was there"
    )
    assert jobs_for(lost).filter(status="todo").count() == 1
    assert not due_just_now.requeues.exists()
    assert not scheduled.requeues.exists()


@pytest.mark.parametrize("status", [ItemStatus.PENDING, ItemStatus.RUNNING, ItemStatus.FAILED])
def test_an_item_left_without_its_job_is_queued_again_on_the_items_queue(status):
    delivery = DeliveryFactory(
        status=Status.FAILED if status == ItemStatus.FAILED else Status.PROCESSING,
        received_at=timezone.now() - LONG_AGO,
        item_counts={status: 1, ItemStatus.DONE: 1},
    )
    lost = item_of(delivery, status, position=1)
    item_of(delivery, ItemStatus.DONE, position=2)

    assert lost_work_requeue() == Swept(items=1)

    job = ProcrastinateJob.objects.get(lock=f"item:{lost.pk}")
    assert (job.status, job.queue_name, job.args) == ("todo", "items", {"item_id": lost.pk})
    requeue = delivery.requeues.get()
    assert requeue.items == 1
    assert requeue.reason.startswith("Items waiting, running or due for a retry had no job")
    assert not jobs_for(delivery).exists()  # the delivery follows its items: no run of its own


@pytest.mark.usefixtures("live_database")
def test_lost_items_run_on_the_next_worker_and_finish_their_delivery(register_handler, item_kind):
    def fan_out(delivery):
        return Outcome(items=[WorkItem(KIND, "meter-a"), WorkItem(KIND, "meter-b")])

    register_handler("openvolt", HANDLED, fan_out)
    delivery = DeliveryFactory(event_type=HANDLED)
    delivery_run_queue(delivery_id=delivery.pk)
    run_worker("deliveries")
    items = list(delivery.items.values_list("pk", flat=True))
    jobs_lose(*(f"item:{item_id}" for item_id in items))

    assert lost_work_requeue() == Swept()  # within the grace period
    assert lost_work_requeue(now=timezone.now() + LONG_AGO) == Swept(items=2)
    run_worker("items")

    delivery.refresh_from_db()
    assert sorted(item_kind) == ["meter-a", "meter-b"]
    assert delivery.status == Status.PROCESSED
    assert delivery.requeues.get().items == 2


def test_items_of_one_delivery_over_several_batches_make_one_record(monkeypatch):
    monkeypatch.setattr(sweeper, "SWEEP_BATCH", 2)
    delivery = DeliveryFactory(
        status=Status.PROCESSING,
        received_at=timezone.now() - LONG_AGO,
        item_counts={ItemStatus.PENDING: 5},
    )
    for position in range(1, 6):
        item_of(delivery, ItemStatus.PENDING, position=position)
    others = [orphan(Status.PENDING) for _ in range(3)]

    assert lost_work_requeue() == Swept(deliveries=3, items=5)

    assert list(delivery.requeues.values_list("items", flat=True)) == [5]
    assert ProcrastinateJob.objects.filter(queue_name="items", status="todo").count() == 5
    assert [other.requeues.count() for other in others] == [1, 1, 1]


# --- Left alone ------------------------------------------------------------------------------


@pytest.mark.parametrize("job_status", ["todo", "doing"])
def test_work_on_its_way_is_left_alone(job_status):
    delivery = DeliveryFactory(status=Status.PENDING, received_at=timezone.now() - LONG_AGO)
    delivery_run_queue(delivery_id=delivery.pk)
    fanned = DeliveryFactory(
        status=Status.PROCESSING,
        received_at=timezone.now() - LONG_AGO,
        item_counts={ItemStatus.RUNNING: 1},
    )
    item = item_of(fanned, ItemStatus.RUNNING)
    item_runs_queue(item_ids=[item.pk])
    if job_status == "doing":
        ProcrastinateJob.objects.filter(
            lock__in=[f"delivery:{delivery.pk}", f"item:{item.pk}"]
        ).update(status="doing")

    assert lost_work_requeue() == Swept()

    assert not DeliveryRequeue.objects.exists()
    assert job_statuses(f"delivery:{delivery.pk}") == [(job_status,)]
    assert job_statuses(f"item:{item.pk}") == [(job_status,)]


def test_work_within_the_grace_period_is_left_alone_until_it_has_waited(settings):
    settings.DELIVERY_SWEEP_GRACE_SECONDS = 120
    delivery = orphan(Status.PENDING, waited=timedelta(seconds=60))
    fanned = DeliveryFactory(
        status=Status.PROCESSING,
        received_at=timezone.now() - LONG_AGO,
        item_counts={ItemStatus.PENDING: 1},
    )
    item_of(fanned, ItemStatus.PENDING, waited=timedelta(seconds=60))

    assert lost_work_requeue() == Swept()
    assert lost_work_requeue(now=timezone.now() + timedelta(seconds=61)) == Swept(
        deliveries=1, items=1
    )
    assert delivery.requeues.count() == 1


@pytest.mark.parametrize("status", [Status.PROCESSED, Status.IGNORED, Status.DEAD, Status.REJECTED])
def test_finished_deliveries_are_never_swept(status):
    orphan(status)

    assert lost_work_requeue() == Swept()


@pytest.mark.usefixtures("live_database")
def test_work_locked_by_someone_else_is_skipped_not_waited_for():
    delivery = orphan(Status.PENDING)
    other = connection.copy()  # another session: the worker, say, running the delivery
    try:
        with other.cursor() as cursor, connection.cursor() as ours:
            cursor.execute("BEGIN")
            cursor.execute("SELECT FROM events_delivery WHERE id = %s FOR UPDATE", [delivery.pk])
            # Were the sweeper to wait for the lock, it would fail here instead of hanging.
            ours.execute("SET lock_timeout = '5s'")
            assert lost_work_requeue() == Swept()
            cursor.execute("ROLLBACK")
            ours.execute("RESET lock_timeout")
    finally:
        other.close()

    assert lost_work_requeue() == Swept(deliveries=1)


@pytest.mark.usefixtures("live_database")
def test_a_job_running_on_a_worker_gone_silent_is_left_to_the_stalled_job_recovery(
    handled, settings
):
    """procrastinate takes a `doing` job whose worker stopped sending heartbeats (or whose
    worker's row is gone) for stalled, and recover_stalled_jobs queues it again: the sweeper
    counts it as on its way."""
    delivery = DeliveryFactory(event_type=HANDLED, received_at=timezone.now() - LONG_AGO)
    delivery_run_queue(delivery_id=delivery.pk)
    heartbeat(seconds_ago=settings.WORKER_STALLED_AFTER_SECONDS + 60)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', "
            "worker_id = (SELECT max(id) FROM procrastinate_workers) WHERE lock = %s",
            [f"delivery:{delivery.pk}"],
        )

    assert lost_work_requeue() == Swept()
    assert async_to_sync(recover_stalled_jobs.func)(timestamp=0) == 1
    run_worker("deliveries")

    delivery.refresh_from_db()
    assert delivery.status == Status.PROCESSED
    assert not delivery.requeues.exists()


def test_the_sweeper_runs_every_minute_on_the_maintenance_queue():
    task = app.tasks["events.sweep_lost_work"]
    assert (task.queue, task.queueing_lock) == ("maintenance", "sweep_lost_work")
    (periodic,) = [p for p in app.periodic_registry.periodic_tasks.values() if p.task is task]
    assert periodic.cron == "* * * * *"


def test_the_lost_deliveries_are_found_through_the_status_index():
    """On a table of millions, the candidates are a range of (status, received_at). The table
    looks like one that ran for a while, mostly finished deliveries, so that the planner's
    choice is the one a real table gets (on an empty one, any index costs the same)."""
    endpoint = DeliveryFactory().endpoint
    Delivery.objects.bulk_create(
        DeliveryFactory.build_batch(3000, endpoint=endpoint, status=Status.PROCESSED)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Delivery._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN " + sweeper._LOST_DELIVERIES,
            {
                "statuses": list(sweeper.DELIVERY_WAITING),
                "cutoff": timezone.now(),
                "limit": 10,
            },
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "delivery_status_received" in plan, plan


# --- Seen and done by staff ------------------------------------------------------------------


def test_the_record_is_shown_on_the_delivery_page_and_only_where_there_is_one(admin_client):
    delivery = orphan(Status.PENDING)
    untouched = DeliveryFactory()
    lost_work_requeue()

    page = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))
    other = admin_client.get(reverse("admin:events_delivery_change", args=[untouched.pk]))

    assert page.status_code == other.status_code == 200
    text = page.content.decode()
    assert "Lost jobs, queued again" in text
    assert "queued again by the sweeper." in text
    assert "The delivery" in text  # queued again itself, not some of its items
    assert "Lost jobs, queued again" not in other.content.decode()


def test_customer_success_sees_the_record(client):
    delivery = orphan(Status.PENDING)
    lost_work_requeue()
    client.force_login(StaffUserFactory(groups=["Customer success"]))

    page = client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))

    assert "queued again by the sweeper." in page.content.decode()


def test_reprocess_takes_a_pending_delivery_whose_job_was_lost_and_skips_one_on_its_way():
    lost = orphan(Status.PENDING, waited=timedelta(seconds=5))  # no grace period for a person
    on_its_way = DeliveryFactory(status=Status.PENDING)
    delivery_run_queue(delivery_id=on_its_way.pk)

    counts = deliveries_reprocess_counted(
        deliveries=Delivery.objects.filter(pk__in=[lost.pk, on_its_way.pk])
    )

    assert (counts.queued, counts.on_their_way, counts.rejected) == (1, 1, 0)
    assert job_statuses(f"delivery:{lost.pk}") == [("failed",), ("todo",)]
    assert job_statuses(f"delivery:{on_its_way.pk}") == [("todo",)]
    assert lost.requeues.get().reason.endswith("queued again by Reprocess.")
    assert not on_its_way.requeues.exists()


def test_reprocess_queues_the_lost_items_of_a_processing_delivery():
    delivery = DeliveryFactory(
        status=Status.PROCESSING, item_counts={ItemStatus.PENDING: 1, ItemStatus.RUNNING: 1}
    )
    lost = item_of(delivery, ItemStatus.PENDING, position=1, waited=timedelta(0))
    running = item_of(delivery, ItemStatus.RUNNING, position=2)
    item_runs_queue(item_ids=[running.pk])

    counts = deliveries_reprocess_counted(deliveries=Delivery.objects.filter(pk=delivery.pk))

    assert counts.queued == 1
    assert job_statuses(f"item:{lost.pk}") == [("todo",)]
    assert job_statuses(f"item:{running.pk}") == [("todo",)]
    assert delivery.requeues.get().items == 1


def test_the_reprocess_action_says_what_it_queued_and_why_it_skipped(admin_client):
    lost = orphan(Status.PENDING)
    on_its_way = DeliveryFactory(status=Status.PROCESSING)
    delivery_run_queue(delivery_id=on_its_way.pk)
    rejected = DeliveryFactory(status=Status.REJECTED)

    response = admin_client.post(
        reverse("admin:events_delivery_changelist"),
        {
            "action": "reprocess",
            "_selected_action": [lost.pk, on_its_way.pk, rejected.pk],
        },
        follow=True,
    )

    assert [str(message) for message in response.context["messages"]] == [
        "1 queued for processing.",
        "2 skipped: 1 on its way already (pending or processing, with a job waiting or "
        "running for it); 1 rejected (invalid: it cannot be processed).",
    ]
    assert jobs_for(lost).filter(status="todo").count() == 1
