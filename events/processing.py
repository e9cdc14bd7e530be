"""The delivery state machine run by the worker (CONTRACT.md section 5).

pending -> processing -> processed | ignored
                      -> failed (error kept, next attempt scheduled) -> ... -> dead
                      -> dead at once, for an error no retry can mend (PERMANENT_ERRORS)

A handler whose payload names items (meters, consents) fans the delivery out instead: its
items run on their own and its status follows theirs from then on (events/items.py).
"""

import logging
import traceback
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from common.metrics import processing_timer
from events.dispatch import PERMANENT_ERRORS, Outcome
from events.items import delivery_items_discard, delivery_items_rerun, items_fan_out
from events.metric_labels import event_type_label
from events.models import Delivery, DeliveryAttempt, DeliveryItem
from events.notifications import delivery_notifications_queue
from events.retries import retry_at
from events.runs import delivery_run_claim, delivery_run_finish
from events.sweeper import BY_REPROCESS, delivery_lost_work_requeue
from events.tasks import delivery_queued_runs_cancel, delivery_run_queue

logger = logging.getLogger(__name__)

# Pending and processing deliveries are on their way, unless the job that was to run them is
# gone (as after a database outage): reprocessing one queues it again (events/sweeper.py).
ON_ITS_WAY = (Delivery.Status.PENDING, Delivery.Status.PROCESSING)
REPROCESSABLE = (
    *ON_ITS_WAY,
    Delivery.Status.PROCESSED,
    Delivery.Status.FAILED,
    Delivery.Status.DEAD,
    Delivery.Status.IGNORED,
)
# Deliveries reprocessed per transaction by deliveries_reprocess_matching.
REPROCESS_BATCH = 500


def delivery_process(*, delivery_id: int) -> None:
    """Run a delivery through its handler once.

    A delivery found `processing` is one whose worker died mid-run: it is run again. The run
    is claimed, and its attempt recorded, in a statement of its own (events/runs.py). The
    handler's writes and the `processed` mark commit together, so a failure leaves no partial
    mirror behind; the failure itself is recorded in a transaction of its own.
    """
    run = delivery_run_claim(delivery_id=delivery_id)
    if run is None:
        return
    delivery, attempt = run.delivery, run.attempt
    try:
        with (
            processing_timer(
                source=delivery.source, event_type=event_type_label(delivery.event_type)
            ),
            transaction.atomic(),
        ):
            outcome = run.handler(delivery) or Outcome()
            delivery.summary = outcome.summary
            delivery.links = outcome.links
            delivery.subjects = list(dict.fromkeys([*delivery.subjects, *outcome.subjects]))
            delivery.warnings = outcome.warnings
            warnings = "\n".join(outcome.warnings)
            if not outcome.items:
                # One statement: the delivery, its attempt, and whether anyone subscribes.
                subscribed = delivery_run_finish(
                    delivery=delivery, attempt=attempt, warnings=warnings
                )
                delivery_notifications_queue(delivery=delivery, subscribed=subscribed)
                return
            delivery.error = delivery.error_traceback = ""
            delivery.consecutive_failures = 0
            # Named fields only: intake may have counted a receipt on the row meanwhile.
            delivery.save(
                update_fields=[
                    "status",
                    "processed_at",
                    "summary",
                    "links",
                    "subjects",
                    "warnings",
                    "error",
                    "error_traceback",
                    "consecutive_failures",
                ]
            )
            # From here on the items decide the delivery's status (events/items.py).
            items_fan_out(delivery=delivery, work_items=outcome.items)
            _finish(attempt, DeliveryAttempt.Result.PROCESSED, warnings)
    except Exception as error:
        logger.warning("Delivery %s failed: %s", delivery_id, type(error).__name__)
        _record_failure(delivery, attempt, error)


def _record_failure(delivery: Delivery, attempt: DeliveryAttempt, error: Exception) -> None:
    with transaction.atomic():
        delivery.refresh_from_db(fields=["consecutive_failures"])
        delivery.consecutive_failures += 1
        delivery.error = f"{type(error).__name__}: {error}"
        delivery.error_traceback = traceback.format_exc()
        # A value the handler cannot read or store stays so: no retry can help.
        permanent = isinstance(error, PERMANENT_ERRORS)
        delivery.next_attempt_at = (
            None if permanent else retry_at(failures=delivery.consecutive_failures)
        )
        if delivery.next_attempt_at is None:
            delivery.status = Delivery.Status.DEAD
        else:
            delivery.status = Delivery.Status.FAILED
            delivery_run_queue(delivery_id=delivery.pk, at=delivery.next_attempt_at)
        delivery.save(
            update_fields=[
                "status",
                "error",
                "error_traceback",
                "consecutive_failures",
                "next_attempt_at",
            ]
        )
        _finish(attempt, DeliveryAttempt.Result.FAILED, delivery.error)


def _finish(attempt: DeliveryAttempt, result: str, error: str = "") -> None:
    attempt.result = result
    attempt.error = error
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["result", "error", "finished_at"])


@dataclass(frozen=True)
class Reprocessed:
    """What reprocessing did with the deliveries it was given."""

    queued: int = 0
    # Pending or processing, with a job waiting or running for them (or for their items).
    on_their_way: int = 0
    # Stored but invalid: never processable.
    rejected: int = 0

    @property
    def skipped(self) -> int:
        return self.on_their_way + self.rejected


def deliveries_reprocess(*, deliveries, everything: bool = False) -> tuple[int, int]:
    """Queue deliveries to run again; returns (queued, skipped), as
    deliveries_reprocess_counted, which also says why each was skipped."""
    counts = deliveries_reprocess_counted(deliveries=deliveries, everything=everything)
    return counts.queued, counts.skipped


def deliveries_reprocess_counted(*, deliveries, everything: bool = False) -> Reprocessed:
    """Queue deliveries to run again through the same path.

    A delivery worked item by item runs again only its items that did not succeed, unless
    every item succeeded or `everything` is asked for: then it starts over from its payload.
    A pending or processing one is on its way, and skipped, unless no job is left to run it
    (or some of its items): then that is queued again, as the sweeper would, `everything` or
    not. Rejected deliveries cannot be processed, and are skipped.
    """
    outcomes: Counter[str] = Counter()
    with transaction.atomic():
        for delivery_id in deliveries.values_list("pk", flat=True):
            outcomes[_delivery_reprocess(delivery_id=delivery_id, everything=everything)] += 1
    return Reprocessed(**outcomes)


def _delivery_reprocess(*, delivery_id: int, everything: bool) -> str:
    """Reprocess one delivery; returns a field of Reprocessed: what became of it."""
    # The items before their delivery, in the order an item's own job takes them.
    unsucceeded = DeliveryItem.objects.select_for_update().filter(
        delivery_id=delivery_id, status__in=(DeliveryItem.Status.FAILED, DeliveryItem.Status.DEAD)
    )
    has_unsucceeded = bool(list(unsucceeded.values_list("pk", flat=True)))
    delivery = (
        Delivery.objects.select_for_update()
        .only("pk", "status", "item_counts", "subjects", "processed_at")
        .get(pk=delivery_id)
    )
    if delivery.status in ON_ITS_WAY:
        lost = delivery_lost_work_requeue(delivery=delivery, by=BY_REPROCESS)
        return "queued" if lost else "on_their_way"
    if delivery.status not in REPROCESSABLE:
        return "rejected"
    if delivery.item_counts and has_unsucceeded and not everything:
        delivery_items_rerun(delivery=delivery)
        return "queued"
    if delivery.item_counts:
        delivery_items_discard(delivery=delivery)
    delivery.status = Delivery.Status.PENDING
    delivery.consecutive_failures = 0
    delivery.next_attempt_at = None
    delivery.save(
        update_fields=["status", "consecutive_failures", "next_attempt_at", "item_counts"]
    )
    delivery_queued_runs_cancel(delivery_id=delivery.pk)
    delivery_run_queue(delivery_id=delivery.pk)
    return "queued"


def deliveries_reprocess_matching(
    *, deliveries, batch_size: int = REPROCESS_BATCH
) -> tuple[int, int]:
    """Reprocess every delivery a queryset matches, oldest first; returns (queued, skipped).

    The ids are read once, up front: a delivery that fails again while later batches run is
    not queued twice. Each batch is a transaction of its own, so that no transaction holds
    thousands of row locks that the worker and the intake would wait on.
    """
    ids = list(deliveries.order_by("received_at", "id").values_list("pk", flat=True))
    queued = skipped = 0
    for offset in range(0, len(ids), batch_size):
        batch = Delivery.objects.filter(pk__in=ids[offset : offset + batch_size])
        batch_queued, batch_skipped = deliveries_reprocess(deliveries=batch)
        queued += batch_queued
        skipped += batch_skipped
    return queued, skipped
