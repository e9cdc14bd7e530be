"""The delivery state machine (events.processing) run directly, without a worker.

Deliveries are written to the table by DeliveryFactory, so the only procrastinate jobs in the
database are the ones processing queues.
"""

from datetime import timedelta

import pytest
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from common.fits import ValueTooLong
from events.dispatch import Outcome, PayloadError
from events.models import Delivery, DeliveryAttempt, EndpointSecret, WebhookEndpoint
from events.processing import deliveries_reprocess, delivery_process
from events.retries import retry_delay
from events.tasks import delivery_run_queue
from tests.factories import DeliveryFactory
from tests.support.jobs import jobs_for

pytestmark = pytest.mark.django_db

Status = Delivery.Status
AttemptResult = DeliveryAttempt.Result

# Event types no production handler will ever claim.
HANDLED = "test.handled"
UNHANDLED = "test.unhandled"

REPROCESSABLE = [Status.PROCESSED, Status.FAILED, Status.DEAD, Status.IGNORED]
NOT_REPROCESSABLE = [Status.PENDING, Status.PROCESSING, Status.REJECTED]


class FakeHandler:
    """Records the deliveries it is given; raises `error` while `failures` (a count of the
    failures still to come) is positive, returns `warnings` after that. `write` runs before
    anything else, to test the rollback."""

    def __init__(self, *, warnings=None, failures=0, error=None, write=None):
        self.warnings = warnings
        self.failures = failures
        self.error = error or RuntimeError("boom")
        self.write = write
        self.calls = []

    def __call__(self, delivery):
        self.calls.append(delivery.pk)
        if self.write:
            self.write(delivery)
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return None if self.warnings is None else Outcome(warnings=self.warnings)


@pytest.fixture
def handle(register_handler):
    """Register a FakeHandler for openvolt HANDLED deliveries and return it."""

    def register(**options):
        return register_handler("openvolt", HANDLED, FakeHandler(**options))

    return register


@pytest.fixture
def retry_delays(settings):
    settings.DELIVERY_RETRY_DELAYS = [60, 300, 1800]
    return settings.DELIVERY_RETRY_DELAYS


def run(delivery):
    delivery_process(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def assert_retry_scheduled(delivery, delay, *, since, until):
    """next_attempt_at is `delay` seconds (±10%) after the failure, and the newest job for the
    delivery is due then."""
    assert delivery.status == Status.FAILED
    assert since + timedelta(seconds=delay * 0.9) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= until + timedelta(seconds=delay * 1.1)
    job = jobs_for(delivery).last()
    assert job is not None
    assert (job.status, job.queue_name, job.lock) == (
        "todo",
        "deliveries",
        f"delivery:{delivery.pk}",
    )
    assert job.scheduled_at == delivery.next_attempt_at


# --- No handler ---------------------------------------------------------------------------


def test_delivery_without_handler_is_ignored():
    delivery = run(DeliveryFactory(event_type=UNHANDLED))

    assert delivery.status == Status.IGNORED
    assert delivery.attempt_count == 0
    assert delivery.next_attempt_at is None
    assert not delivery.attempts.exists()
    assert not jobs_for(delivery).exists()


def test_ignored_delivery_is_not_run_again(register_handler):
    delivery = run(DeliveryFactory(event_type=UNHANDLED))
    # Even once a handler exists, only a reprocess brings an ignored delivery back.
    handler = register_handler("openvolt", UNHANDLED, FakeHandler())

    delivery = run(delivery)

    assert delivery.status == Status.IGNORED
    assert handler.calls == []
    assert not delivery.attempts.exists()


def test_handler_is_looked_up_by_source_and_event_type(register_handler):
    handler = register_handler("nectar", HANDLED, FakeHandler())

    delivery = run(DeliveryFactory(event_type=HANDLED))  # an Openvolt delivery

    assert delivery.status == Status.IGNORED
    assert handler.calls == []


def test_unknown_delivery_id_is_a_no_op():
    delivery_process(delivery_id=987654321)

    assert not ProcrastinateJob.objects.exists()


# --- Success ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "kept"),
    [
        (None, []),
        ([], []),
        (["meter 42 is unknown: skipped"], ["meter 42 is unknown: skipped"]),
        (["first", "second"], ["first", "second"]),
    ],
)
def test_successful_handler_marks_delivery_processed(handle, returned, kept):
    handler = handle(warnings=returned)
    delivery = DeliveryFactory(event_type=HANDLED)
    before = timezone.now()

    delivery = run(delivery)

    assert handler.calls == [delivery.pk]
    assert delivery.status == Status.PROCESSED
    assert before <= delivery.processed_at <= timezone.now()
    assert delivery.attempt_count == 1
    assert delivery.consecutive_failures == 0
    assert delivery.warnings == kept
    assert (delivery.error, delivery.error_traceback) == ("", "")
    assert delivery.next_attempt_at is None
    attempt = delivery.attempts.get()
    assert attempt.result == AttemptResult.PROCESSED
    assert attempt.started_at <= attempt.finished_at <= timezone.now()
    assert not jobs_for(delivery).exists()


def test_success_keeps_what_intake_counted_meanwhile(handle):
    """A retry of the delivery may arrive while the handler runs: intake counts a receipt on
    the row. Marking the delivery processed must not write back the stale count."""

    def duplicate_arrives(delivery):
        Delivery.objects.filter(pk=delivery.pk).update(
            receipt_count=F("receipt_count") + 1, last_received_at=Now()
        )

    handle(write=duplicate_arrives)
    delivery = DeliveryFactory(event_type=HANDLED)

    delivery = run(delivery)

    assert delivery.status == Status.PROCESSED
    assert delivery.receipt_count == 2


# --- Failure ------------------------------------------------------------------------------


def test_failing_handler_marks_delivery_failed_and_schedules_a_retry(handle, retry_delays):
    handle(failures=1, error=ValueError("meter 42 has no customer"))
    delivery = DeliveryFactory(event_type=HANDLED)
    before = timezone.now()

    delivery = run(delivery)

    assert delivery.status == Status.FAILED
    assert delivery.error == "ValueError: meter 42 has no customer"
    assert "Traceback (most recent call last)" in delivery.error_traceback
    assert "raise self.error" in delivery.error_traceback
    assert delivery.error_traceback.rstrip().endswith("ValueError: meter 42 has no customer")
    assert delivery.attempt_count == 1
    assert delivery.consecutive_failures == 1
    assert delivery.processed_at is None
    assert_retry_scheduled(delivery, retry_delays[0], since=before, until=timezone.now())
    assert jobs_for(delivery).count() == 1
    attempt = delivery.attempts.get()
    assert attempt.result == AttemptResult.FAILED
    assert attempt.error == "ValueError: meter 42 has no customer"
    assert attempt.finished_at is not None


def create_secret(delivery):
    EndpointSecret.objects.create(endpoint=delivery.endpoint, secret="whsec_written-by-handler")


def create_endpoint(delivery):
    WebhookEndpoint.objects.create(source="nectar", description="written by handler")


def create_duplicate_endpoint(delivery):
    """Fails in the database itself, which leaves the transaction unusable."""
    WebhookEndpoint.objects.create(pk=delivery.endpoint_id, source="openvolt")


@pytest.mark.parametrize(
    "write",
    [create_secret, create_endpoint, create_duplicate_endpoint],
    ids=["secret-then-raise", "endpoint-then-raise", "integrity-error"],
)
def test_failing_handler_writes_are_rolled_back_but_failure_is_kept(handle, write):
    handle(failures=1, write=write)
    delivery = DeliveryFactory(event_type=HANDLED)
    endpoints = set(WebhookEndpoint.objects.values_list("pk", "description"))

    delivery = run(delivery)

    assert "whsec_written-by-handler" not in {row.secret for row in EndpointSecret.objects.all()}
    assert set(WebhookEndpoint.objects.values_list("pk", "description")) == endpoints
    assert delivery.status == Status.FAILED
    assert delivery.error
    assert delivery.consecutive_failures == 1
    assert delivery.attempts.get().result == AttemptResult.FAILED
    assert jobs_for(delivery).count() == 1


@pytest.mark.parametrize("delays", [[], [1], [1, 2], [5, 60, 600]])
def test_delivery_is_dead_after_its_retries_are_used_up(handle, settings, delays):
    settings.DELIVERY_RETRY_DELAYS = delays
    handler = handle(failures=100)
    delivery = DeliveryFactory(event_type=HANDLED)

    for number, delay in enumerate(delays, start=1):
        before = timezone.now()
        delivery = run(delivery)
        assert delivery.consecutive_failures == number
        assert_retry_scheduled(delivery, delay, since=before, until=timezone.now())
        assert jobs_for(delivery).count() == number

    delivery = run(delivery)

    assert delivery.status == Status.DEAD
    assert delivery.consecutive_failures == len(delays) + 1
    assert delivery.next_attempt_at is None
    assert delivery.error == "RuntimeError: boom"
    assert jobs_for(delivery).count() == len(delays)  # no job after the last failure
    assert list(delivery.attempts.values_list("result", flat=True)) == [AttemptResult.FAILED] * (
        len(delays) + 1
    )

    # A dead delivery waits for a person: running it again does nothing.
    delivery = run(delivery)
    assert delivery.status == Status.DEAD
    assert len(handler.calls) == len(delays) + 1


def write_too_long(delivery):
    """Fails in the database itself: a value longer than its column, that no check caught."""
    WebhookEndpoint.objects.create(source="openvolt", description="d" * 201)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (
            {"failures": 1, "error": PayloadError("event.id: missing.")},
            "PayloadError: event.id: missing.",
        ),
        (
            {"failures": 1, "error": ValueTooLong("event.id", 80, 64)},
            "ValueTooLong: event.id is 80 characters long; at most 64 fit.",
        ),
        (
            {"write": write_too_long},
            "DataError: value too long for type character varying(200)",
        ),
    ],
    ids=["unreadable", "too-long", "refused-by-the-database"],
)
def test_an_error_no_retry_can_mend_makes_the_delivery_dead_at_once(
    handle, retry_delays, options, error
):
    handler = handle(**options)

    delivery = run(DeliveryFactory(event_type=HANDLED))

    assert delivery.status == Status.DEAD
    assert delivery.error.startswith(error)
    assert "Traceback (most recent call last)" in delivery.error_traceback
    assert (delivery.attempt_count, delivery.consecutive_failures) == (1, 1)
    assert delivery.next_attempt_at is None
    assert not jobs_for(delivery).exists()
    assert delivery.attempts.get().result == AttemptResult.FAILED
    assert delivery.attempts.get().error == delivery.error

    # A dead delivery waits for a person: running it again does nothing.
    delivery = run(delivery)
    assert handler.calls == [delivery.pk]


def test_success_after_failure_resets_the_retry_schedule(handle, retry_delays):
    handler = handle(failures=2, warnings=["partly skipped"])
    delivery = DeliveryFactory(event_type=HANDLED)
    run(delivery)
    run(delivery)

    delivery = run(delivery)

    assert delivery.status == Status.PROCESSED
    assert delivery.consecutive_failures == 0
    assert (delivery.error, delivery.error_traceback) == ("", "")
    assert delivery.warnings == ["partly skipped"]
    assert delivery.attempt_count == 3
    assert list(delivery.attempts.values_list("result", flat=True)) == [
        AttemptResult.FAILED,
        AttemptResult.FAILED,
        AttemptResult.PROCESSED,
    ]

    # The next failure starts the schedule over, from the first delay.
    handler.failures = 1
    deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))
    before = timezone.now()
    delivery = run(delivery)
    assert delivery.consecutive_failures == 1
    assert_retry_scheduled(delivery, retry_delays[0], since=before, until=timezone.now())


def test_retry_delay_has_ten_percent_jitter():
    delays = {retry_delay(100) for _ in range(50)}

    assert all(timedelta(seconds=90) <= delay <= timedelta(seconds=110) for delay in delays)
    assert len(delays) > 1


# --- Which statuses run -------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.PENDING, Status.FAILED, Status.PROCESSING])
def test_runnable_delivery_is_run(handle, status):
    """`processing` is what a worker that died mid-run leaves behind: it runs again."""
    handler = handle()
    delivery = DeliveryFactory(
        event_type=HANDLED, status=status, attempt_count=1, consecutive_failures=1
    )

    delivery = run(delivery)

    assert handler.calls == [delivery.pk]
    assert delivery.status == Status.PROCESSED
    assert delivery.attempt_count == 2
    assert delivery.attempts.get().result == AttemptResult.PROCESSED


@pytest.mark.parametrize("status", [Status.PROCESSED, Status.IGNORED, Status.DEAD, Status.REJECTED])
def test_finished_delivery_is_not_run(handle, status):
    handler = handle()
    delivery = DeliveryFactory(event_type=HANDLED, status=status, attempt_count=1, error="kept")

    delivery = run(delivery)

    assert handler.calls == []
    assert delivery.status == status
    assert delivery.attempt_count == 1
    assert delivery.error == "kept"
    assert not delivery.attempts.exists()
    assert not jobs_for(delivery).exists()


# --- Reprocessing -------------------------------------------------------------------------


@pytest.mark.parametrize("status", REPROCESSABLE)
def test_reprocess_queues_finished_delivery(status):
    delivery = DeliveryFactory(
        event_type=HANDLED,
        status=status,
        consecutive_failures=3,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )

    result = deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))

    assert result == (1, 0)
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert delivery.consecutive_failures == 0
    assert delivery.next_attempt_at is None
    job = jobs_for(delivery).get()
    assert (job.status, job.queue_name, job.lock) == (
        "todo",
        "deliveries",
        f"delivery:{delivery.pk}",
    )
    assert job.scheduled_at is None


@pytest.mark.parametrize("status", NOT_REPROCESSABLE)
def test_reprocess_skips_delivery_on_its_way_or_rejected(status):
    """On its way: pending or processing with its job waiting. One whose job was lost is
    queued again (tests/events/test_sweeper.py)."""
    due = timezone.now() + timedelta(hours=1)
    delivery = DeliveryFactory(
        event_type=HANDLED, status=status, consecutive_failures=3, next_attempt_at=due
    )
    on_its_way = status != Status.REJECTED
    if on_its_way:
        delivery_run_queue(delivery_id=delivery.pk)

    result = deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))

    assert result == (0, 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.consecutive_failures, delivery.next_attempt_at) == (
        status,
        3,
        due,
    )
    assert jobs_for(delivery).count() == (1 if on_its_way else 0)


def test_reprocess_counts_queued_and_skipped():
    deliveries = {
        status: DeliveryFactory(event_type=HANDLED, status=status) for status in Status.values
    }
    for status in (Status.PENDING, Status.PROCESSING):
        delivery_run_queue(delivery_id=deliveries[status].pk)  # on its way

    result = deliveries_reprocess(deliveries=Delivery.objects.all())

    assert result == (len(REPROCESSABLE), len(NOT_REPROCESSABLE))
    for status, delivery in deliveries.items():
        assert jobs_for(delivery).count() == (0 if status == Status.REJECTED else 1)
    assert ProcrastinateJob.objects.count() == len(Status.values) - 1


def test_reprocessed_delivery_runs_through_its_handler_again(handle):
    handler = handle(warnings=["first run"])
    delivery = run(DeliveryFactory(event_type=HANDLED))
    handler.warnings = ["second run"]

    deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))
    delivery = run(delivery)

    assert handler.calls == [delivery.pk, delivery.pk]
    assert delivery.status == Status.PROCESSED
    assert delivery.warnings == ["second run"]
    assert delivery.attempt_count == 2


def test_reprocessed_failed_delivery_does_not_wait_for_its_scheduled_retry(handle, retry_delays):
    """Jobs sharing a lock run in the order they were queued, so the retry scheduled an hour
    ahead would hold the reprocess job back until then."""
    handle(failures=1)
    delivery = run(DeliveryFactory(event_type=HANDLED))
    assert jobs_for(delivery).get().scheduled_at > timezone.now()

    deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))

    waiting = jobs_for(delivery).filter(status="todo")
    assert list(waiting.values_list("scheduled_at", flat=True)) == [None]
