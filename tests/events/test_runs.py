"""A delivery's run opened and closed in one statement each (events/runs.py): what the model
reads and saves did before, and no less."""

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from events.dispatch import Outcome
from events.models import Delivery, DeliveryAttempt, EmailSubscription
from events.processing import delivery_process
from events.runs import ABANDONED, delivery_run_claim, delivery_run_finish
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db

Status = Delivery.Status
Result = DeliveryAttempt.Result
HANDLED = "test.handled"


class WorkerKilled(BaseException):
    """What a worker killed during the handler leaves: not a failure the run records."""


@pytest.fixture
def handler(register_handler):
    calls = []

    def handle(delivery):
        calls.append(delivery.pk)
        if delivery.payload.get("kill"):
            raise WorkerKilled
        return Outcome(summary="Seen.", warnings=["one skipped"], subjects=["new-subject"])

    register_handler("openvolt", HANDLED, handle)
    return calls


def test_claim_marks_the_delivery_processing_with_a_running_attempt(handler):
    delivery = DeliveryFactory(event_type=HANDLED, next_attempt_at=timezone.now())
    before = timezone.now()

    run = delivery_run_claim(delivery_id=delivery.pk)

    assert run.delivery.pk == delivery.pk
    assert run.delivery.payload == delivery.payload
    assert (run.delivery.status, run.delivery.attempt_count) == (Status.PROCESSING, 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (Status.PROCESSING, 1)
    assert delivery.next_attempt_at is None
    attempt = delivery.attempts.get()
    assert (attempt.pk, attempt.result, attempt.finished_at) == (
        run.attempt.pk,
        Result.RUNNING,
        None,
    )
    assert before <= attempt.started_at <= timezone.now()


def test_killed_run_leaves_its_attempt_running_for_the_next_run_to_fail(handler):
    delivery = DeliveryFactory(event_type=HANDLED, payload={"kill": True})
    with pytest.raises(WorkerKilled):
        delivery_process(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Status.PROCESSING
    assert list(delivery.attempts.values_list("result", flat=True)) == [Result.RUNNING]

    Delivery.objects.filter(pk=delivery.pk).update(payload={})
    delivery_process(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (Status.PROCESSED, 2)
    killed, finished = delivery.attempts.all()
    assert (killed.result, killed.error) == (Result.FAILED, ABANDONED)
    assert killed.finished_at is not None
    assert (finished.result, finished.error) == (Result.PROCESSED, "one skipped")


@pytest.mark.parametrize(
    ("status", "item_counts"),
    [
        (Status.PROCESSED, {}),
        (Status.DEAD, {}),
        (Status.REJECTED, {}),
        (Status.PROCESSING, {"pending": 1}),
    ],
)
def test_nothing_to_claim_changes_nothing(handler, status, item_counts):
    delivery = DeliveryFactory(event_type=HANDLED, status=status, item_counts=item_counts)

    assert delivery_run_claim(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (status, 0)
    assert not delivery.attempts.exists()


def test_claim_ignores_a_delivery_without_handler():
    delivery = DeliveryFactory(event_type="test.unhandled", next_attempt_at=timezone.now())

    assert delivery_run_claim(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == (
        Status.IGNORED,
        0,
        None,
    )
    assert not delivery.attempts.exists()


def test_finish_writes_what_the_handler_set_and_keeps_the_rest(handler):
    delivery = DeliveryFactory(event_type=HANDLED, subjects=["old"], receipt_count=1)
    run = delivery_run_claim(delivery_id=delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(receipt_count=2)
    run.delivery.summary = "Done."
    run.delivery.links = [("Customer x", "/admin/x/")]
    run.delivery.subjects = ["old", "new"]
    run.delivery.warnings = ["w"]
    run.delivery.error, run.delivery.consecutive_failures = "earlier", 3

    delivery_run_finish(delivery=run.delivery, attempt=run.attempt, warnings="w")

    delivery.refresh_from_db()
    assert delivery.status == Status.PROCESSED
    assert delivery.processed_at == run.delivery.processed_at
    assert (delivery.summary, delivery.links, delivery.subjects, delivery.warnings) == (
        "Done.",
        [["Customer x", "/admin/x/"]],
        ["old", "new"],
        ["w"],
    )
    assert (delivery.error, delivery.error_traceback, delivery.consecutive_failures) == ("", "", 0)
    assert delivery.receipt_count == 2
    attempt = delivery.attempts.get()
    assert (attempt.result, attempt.error) == (Result.PROCESSED, "w")
    assert attempt.finished_at == delivery.processed_at


@pytest.mark.parametrize(
    ("subscriptions", "subscribed"),
    [
        ([], False),
        ([("a@example.org", HANDLED, True)], True),
        ([("a@example.org", EmailSubscription.ALL, True)], True),
        ([("a@example.org", HANDLED, False)], False),
        ([("a@example.org", "customer.created", True)], False),
    ],
)
def test_finish_says_whether_anyone_subscribes_as_the_subscriptions_do(
    handler, subscriptions, subscribed
):
    for email, event_type, active in subscriptions:
        EmailSubscription.objects.create(email=email, event_type=event_type, active=active)
    run = delivery_run_claim(delivery_id=DeliveryFactory(event_type=HANDLED).pk)

    answer = delivery_run_finish(delivery=run.delivery, attempt=run.attempt, warnings="")

    assert answer is subscribed
    assert answer == EmailSubscription.objects.for_event_type(HANDLED).exists()


def test_processing_queues_the_emails_only_when_someone_subscribes(handler):
    quiet = DeliveryFactory(event_type=HANDLED)
    delivery_process(delivery_id=quiet.pk)
    EmailSubscription.objects.create(email="a@example.org", event_type=HANDLED)
    told = DeliveryFactory(event_type=HANDLED)
    delivery_process(delivery_id=told.pk)

    notify = ProcrastinateJob.objects.filter(task_name="events.notify_subscribers")
    assert [job.args["delivery_id"] for job in notify] == [told.pk]


def test_the_claimed_delivery_holds_every_field_as_the_orm_reads_it(
    handler, django_assert_num_queries
):
    delivery = DeliveryFactory(
        event_type=HANDLED, subjects=["meter-1"], links=[["Meter", "/m/1/"]], warnings=["w"]
    )

    with django_assert_num_queries(1):
        run = delivery_run_claim(delivery_id=delivery.pk)

    stored = Delivery.objects.get(pk=delivery.pk)
    fields = [field.attname for field in Delivery._meta.concrete_fields]
    assert {f: getattr(run.delivery, f) for f in fields} == {f: getattr(stored, f) for f in fields}
    assert (run.delivery._state.adding, run.delivery._state.db) == (False, "default")
