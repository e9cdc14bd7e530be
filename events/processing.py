"""The delivery state machine run by the worker (CONTRACT.md section 5).

pending -> processing -> processed | ignored
                      -> failed (error kept, next attempt scheduled) -> ... -> dead

A handler whose payload names items (meters, consents) fans the delivery out instead: its
items run on their own and its status follows theirs from then on (events/items.py).
"""

import logging
import traceback

from django.db import transaction
from django.utils import timezone

from common.metrics import processing_timer
from events.dispatch import Outcome, handler_for
from events.items import delivery_items_discard, delivery_items_rerun, items_fan_out
from events.metric_labels import event_type_label
from events.models import Delivery, DeliveryAttempt, DeliveryItem
from events.notifications import delivery_notifications_queue
from events.retries import retry_at
from events.tasks import delivery_queued_runs_cancel, delivery_run_queue

logger = logging.getLogger(__name__)

RUNNABLE = (Delivery.Status.PENDING, Delivery.Status.PROCESSING, Delivery.Status.FAILED)
REPROCESSABLE = (
    Delivery.Status.PROCESSED,
    Delivery.Status.FAILED,
    Delivery.Status.DEAD,
    Delivery.Status.IGNORED,
)
# Deliveries reprocessed per transaction by deliveries_reprocess_matching.
REPROCESS_BATCH = 500


def delivery_process(*, delivery_id: int) -> None:
    """Run a delivery through its handler once.

    A delivery found `processing` is one whose worker died mid-run: it is run again. The
    handler's writes and the `processed` mark commit together, so a failure leaves no partial
    mirror behind; the failure itself is recorded in a transaction of its own.
    """
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        # A delivery that fanned out is its items' now: they run, and rerun, on their own.
        if delivery is None or delivery.status not in RUNNABLE or delivery.item_counts:
            return
        handler = handler_for(source=delivery.source, event_type=delivery.event_type)
        if handler is None:
            delivery.status = Delivery.Status.IGNORED
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "next_attempt_at"])
            return
        if delivery.status == Delivery.Status.PROCESSING:
            # The previous run's worker died mid-run; its attempt never finished.
            delivery.attempts.filter(result=DeliveryAttempt.Result.RUNNING).update(
                result=DeliveryAttempt.Result.FAILED,
                error="The worker stopped during this attempt (killed or restarted).",
                finished_at=timezone.now(),
            )
        delivery.status = Delivery.Status.PROCESSING
        delivery.attempt_count += 1
        delivery.next_attempt_at = None
        delivery.save(update_fields=["status", "attempt_count", "next_attempt_at"])
        attempt = DeliveryAttempt.objects.create(delivery=delivery)

    try:
        with (
            processing_timer(
                source=delivery.source, event_type=event_type_label(delivery.event_type)
            ),
            transaction.atomic(),
        ):
            outcome = handler(delivery) or Outcome()
            delivery.summary = outcome.summary
            delivery.links = outcome.links
            delivery.subjects = list(dict.fromkeys([*delivery.subjects, *outcome.subjects]))
            delivery.warnings = outcome.warnings
            delivery.error = delivery.error_traceback = ""
            delivery.consecutive_failures = 0
            if not outcome.items:
                delivery.status = Delivery.Status.PROCESSED
                delivery.processed_at = timezone.now()
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
            if outcome.items:
                # From here on the items decide the delivery's status (events/items.py).
                items_fan_out(delivery=delivery, work_items=outcome.items)
            else:
                delivery_notifications_queue(delivery=delivery)
            _finish(attempt, DeliveryAttempt.Result.PROCESSED, "\n".join(outcome.warnings))
    except Exception as error:
        logger.warning("Delivery %s failed: %s", delivery_id, type(error).__name__)
        _record_failure(delivery, attempt, error)


def _record_failure(delivery: Delivery, attempt: DeliveryAttempt, error: Exception) -> None:
    with transaction.atomic():
        delivery.refresh_from_db(fields=["consecutive_failures"])
        delivery.consecutive_failures += 1
        delivery.error = f"{type(error).__name__}: {error}"
        delivery.error_traceback = traceback.format_exc()
        delivery.next_attempt_at = retry_at(failures=delivery.consecutive_failures)
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


def deliveries_reprocess(*, deliveries, everything: bool = False) -> tuple[int, int]:
    """Queue deliveries to run again through the same path; returns (queued, skipped).

    A delivery worked item by item runs again only its items that did not succeed, unless
    every item succeeded or `everything` is asked for: then it starts over from its payload.
    Rejected deliveries cannot be processed, and pending or processing ones are already on
    their way, so they are skipped.
    """
    queued = skipped = 0
    with transaction.atomic():
        for delivery_id in deliveries.values_list("pk", flat=True):
            if _delivery_reprocess(delivery_id=delivery_id, everything=everything):
                queued += 1
            else:
                skipped += 1
    return queued, skipped


def _delivery_reprocess(*, delivery_id: int, everything: bool) -> bool:
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
    if delivery.status not in REPROCESSABLE:
        return False
    if delivery.item_counts and has_unsucceeded and not everything:
        delivery_items_rerun(delivery=delivery)
        return True
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
    return True


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
