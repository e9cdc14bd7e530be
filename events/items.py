"""Items: the units of work a delivery fans out into, each run by a job of its own.

    pending -> running -> done | skipped
                       -> failed (error kept, a retry scheduled) -> running -> ... -> dead

An item fetches from the platform outside any transaction, then stores what it fetched in one
short transaction under its object's advisory lock (events/dispatch.py, ItemKind), so a
portfolio of meters is worked by every worker at once, a crash repeats only the items in
flight, and lock-table use does not grow with the payload.

The delivery's status follows its items, through counts kept on its row with every change of
one (`Delivery.item_counts`): `processing` while any remain, `failed` while one waits for a
retry, `dead` when one has used its retries, `processed` when every one is done or skipped.
When the last one finishes, the delivery gathers what they did and tells its subscribers.
"""

import logging
import traceback
from collections import Counter
from contextlib import contextmanager
from itertools import islice

import psycopg
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from common.locks import advisory_locks_take
from common.logs import delivery_logging
from common.metrics import processing_timer
from events.dispatch import PERMANENT_ERRORS, ItemSkipped, Outcome, WorkItem, item_kind_for
from events.metric_labels import event_type_label
from events.models import Delivery, DeliveryItem
from events.notifications import delivery_notifications_queue
from events.retries import retry_at
from events.tasks import item_queued_runs_cancel, item_runs_queue, process_item

logger = logging.getLogger(__name__)

Status = DeliveryItem.Status
RUNNABLE = (Status.PENDING, Status.RUNNING, Status.FAILED)
# Items written per statement when a delivery fans out.
INSERT_BATCH = 10_000
# What a delivery keeps of its items' words: enough to read, bounded however many there are.
WARNINGS_KEPT = 50
LINKS_KEPT = 50
SUBJECTS_KEPT = 200


# One statement stores a batch of items and queues a job for each that is to run, both built
# by PostgreSQL from arrays bound in binary: a payload of 100,000 items fans out in seconds,
# where model instances, and procrastinate's jobs dumped one by one, took minutes. The jobs go
# through procrastinate's own function, as its `defer` does.
_FAN_OUT_SQL = f"""
    WITH given AS (
        SELECT * FROM unnest(%(positions)b::int[], %(kinds)b::text[], %(subjects)b::text[],
            %(parameters)b::jsonb[], %(warnings)b::jsonb[], %(skipped)b::bool[])
            AS given(position, kind, subject, parameters, warnings, skipped)
    ), stored AS (
        INSERT INTO {DeliveryItem._meta.db_table} (
            delivery_id, position, kind, subject, parameters, warnings, status, finished_at,
            created_at, attempt_count, consecutive_failures, summary, error, error_traceback,
            readings_stored, links, subjects
        )
        SELECT %(delivery)b, position, kind, subject, parameters, warnings,
            CASE WHEN skipped THEN 'skipped' ELSE 'pending' END,
            CASE WHEN skipped THEN now() END,
            now(), 0, 0, '', '', '', 0, '[]', '[]'
        FROM given
        RETURNING id, status
    ), queued AS (
        SELECT procrastinate_defer_jobs_v1(array_agg(ROW(
            %(queue)b, %(task)b, 0, 'item:' || id, NULL, jsonb_build_object('item_id', id), NULL
        )::procrastinate_job_to_defer_v1)) AS ids
        FROM stored WHERE status = 'pending'
    )
    SELECT (SELECT count(*) FROM stored WHERE status = 'pending'),
        (SELECT count(*) FROM stored WHERE status = 'skipped'),
        (SELECT coalesce(cardinality(ids), 0) FROM queued)
"""


@contextmanager
def _index_lookups(cursor):
    """The foreign-key checks of the rows a fan-out writes look their parent up by index.

    procrastinate's job events reference its jobs, and PostgreSQL caches that check's plan per
    session: planned while the job table was empty (a new deployment, a purge), it is a
    sequential scan, and 100,000 jobs written in one transaction would each scan the jobs
    written before them (minutes instead of seconds). The session's plans are made again,
    with sequential scans off, for the fan-out's statements only.
    """
    cursor.execute("SET LOCAL enable_seqscan = off")
    cursor.execute("DISCARD PLANS")
    try:
        yield
    finally:
        cursor.execute("RESET enable_seqscan")


def items_fan_out(*, delivery: Delivery, work_items: list[WorkItem]) -> int:
    """Store the items and queue a job for each, in the caller's transaction, which holds the
    delivery's row lock; returns how many were queued. Items born skipped get no job."""
    counts = Counter(delivery.item_counts)
    position = sum(counts.values())
    queued = 0
    iterator = iter(work_items)
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor, _index_lookups(cursor):
        while batch := list(islice(iterator, INSERT_BATCH)):
            cursor.execute(
                _FAN_OUT_SQL,
                {
                    "delivery": delivery.pk,
                    "positions": list(range(position + 1, position + len(batch) + 1)),
                    "kinds": [work.kind for work in batch],
                    "subjects": [work.subject[:255] for work in batch],
                    "parameters": [Jsonb(work.parameters) for work in batch],
                    "warnings": [
                        Jsonb([*work.warnings, *([work.skipped] if work.skipped else [])])
                        for work in batch
                    ],
                    "skipped": [bool(work.skipped) for work in batch],
                    "queue": process_item.queue,
                    "task": process_item.name,
                },
                prepare=False,
            )
            pending, skipped, jobs = cursor.fetchone()
            assert jobs == pending, "every item to run has its job"
            counts[Status.PENDING] += pending
            counts[Status.SKIPPED] += skipped
            queued += pending
            position += len(batch)
    delivery.item_counts = _nonzero(counts)
    _delivery_follow_items(delivery)
    return queued


def item_process(*, item_id: int) -> None:
    """Run one item: fetch outside any transaction, store in a short one."""
    item = _item_start(item_id)
    if item is None:
        return
    kind = item_kind_for(item.kind)
    source, event_type = Delivery.objects.values_list("source", "event_type").get(
        pk=item.delivery_id
    )
    with (
        delivery_logging(delivery_id=item.delivery_id),
        processing_timer(source=source, event_type=event_type_label(event_type)),
    ):
        try:
            fetched = kind.fetch(item)
            with transaction.atomic():
                advisory_locks_take(keys=[f"{kind.lock}:{item.subject}"])
                outcome = kind.store(item, fetched)
                _item_finish(item, Status.DONE, outcome)
        except ItemSkipped as skipped:
            with transaction.atomic():
                _item_finish(item, Status.SKIPPED, Outcome(warnings=[str(skipped)]))
        except Exception as error:
            logger.warning("Item %s of delivery %s failed: %s", item.pk, item.delivery_id, error)
            _item_fail(item, error)


def delivery_items_rerun(*, delivery: Delivery) -> int:
    """Run again the items of the delivery that did not succeed, now; in the caller's
    transaction, which holds the delivery's row lock. Returns how many."""
    items = list(
        delivery.items.select_for_update()
        .filter(status__in=(Status.FAILED, Status.DEAD))
        .only("pk", "status")
    )
    if not items:
        return 0
    counts = Counter(delivery.item_counts)
    for item in items:
        counts[item.status] -= 1
    counts[Status.PENDING] += len(items)
    ids = [item.pk for item in items]
    DeliveryItem.objects.filter(pk__in=ids).update(
        status=Status.PENDING, consecutive_failures=0, next_attempt_at=None
    )
    item_queued_runs_cancel(item_ids=ids)
    item_runs_queue(item_ids=ids)
    delivery.item_counts = _nonzero(counts)
    _delivery_follow_items(delivery)
    return len(ids)


def delivery_items_discard(*, delivery: Delivery) -> None:
    """Forget the delivery's items and their waiting runs, before it runs again from the
    start; in the caller's transaction, which holds the delivery's row lock."""
    item_queued_runs_cancel(item_ids=list(delivery.items.values_list("pk", flat=True)))
    delivery.items.all().delete()
    delivery.item_counts = {}


# --- One item's transitions -----------------------------------------------------------------


def _item_start(item_id: int) -> DeliveryItem | None:
    with transaction.atomic():
        item = DeliveryItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None or item.status not in RUNNABLE:
            return None
        previous = item.status
        item.status = Status.RUNNING
        item.attempt_count += 1
        item.started_at = timezone.now()
        item.next_attempt_at = None
        item.save(update_fields=["status", "attempt_count", "started_at", "next_attempt_at"])
        _delivery_count_move(item, previous, Status.RUNNING)
    return item


def _item_finish(item: DeliveryItem, status: str, outcome: Outcome) -> None:
    """Record the item's result, in the caller's transaction, with any items it found."""
    item.status = status
    item.finished_at = timezone.now()
    item.summary = outcome.summary
    item.warnings = [*item.warnings, *outcome.warnings]
    item.links = outcome.links[:LINKS_KEPT]
    item.subjects = outcome.subjects[:SUBJECTS_KEPT]
    item.readings_stored = outcome.readings_stored
    item.error = item.error_traceback = ""
    item.consecutive_failures = 0
    item.save(
        update_fields=[
            "status",
            "finished_at",
            "summary",
            "warnings",
            "links",
            "subjects",
            "readings_stored",
            "error",
            "error_traceback",
            "consecutive_failures",
        ]
    )
    delivery = _delivery_count_move(item, Status.RUNNING, status, follow=not outcome.items)
    if outcome.items:
        items_fan_out(delivery=delivery, work_items=outcome.items)


def _item_fail(item: DeliveryItem, error: Exception) -> None:
    with transaction.atomic():
        item.refresh_from_db(fields=["consecutive_failures", "status"])
        if item.status != Status.RUNNING:
            return  # reprocessed or discarded meanwhile
        item.consecutive_failures += 1
        item.error = f"{type(error).__name__}: {error}"
        item.error_traceback = traceback.format_exc()
        item.finished_at = timezone.now()
        # A value the handler cannot read or store stays so: no retry can help.
        permanent = isinstance(error, PERMANENT_ERRORS)
        item.next_attempt_at = None if permanent else retry_at(failures=item.consecutive_failures)
        if item.next_attempt_at is None:
            item.status = Status.DEAD
        else:
            item.status = Status.FAILED
            item_runs_queue(item_ids=[item.pk], at=item.next_attempt_at)
        item.save(
            update_fields=[
                "status",
                "consecutive_failures",
                "error",
                "error_traceback",
                "finished_at",
                "next_attempt_at",
            ]
        )
        delivery = _delivery_count_move(item, Status.RUNNING, item.status, follow=False)
        # The delivery says why it waits, or why it died: its latest failing item's words.
        delivery.error = item.error
        delivery.error_traceback = item.error_traceback
        delivery.next_attempt_at = item.next_attempt_at
        _delivery_follow_items(delivery, also=("error", "error_traceback", "next_attempt_at"))


# --- The delivery following its items -------------------------------------------------------


def _delivery_count_move(
    item: DeliveryItem, previous: str, status: str, *, follow: bool = True
) -> Delivery:
    """Move the item from one count of its delivery to another, under the delivery's row
    lock, taken last (after the item's row and object locks) so that no two jobs wait on
    each other."""
    delivery = Delivery.objects.select_for_update().get(pk=item.delivery_id)
    counts = Counter(delivery.item_counts)
    counts[previous] -= 1
    counts[status] += 1
    delivery.item_counts = _nonzero(counts)
    if follow:
        _delivery_follow_items(delivery)
    else:
        delivery.save(update_fields=["item_counts"])
    return delivery


def _nonzero(counts: Counter) -> dict[str, int]:
    return {status: count for status, count in counts.items() if count}


def _delivery_follow_items(delivery: Delivery, *, also: tuple[str, ...] = ()) -> None:
    """Set the delivery's status from its item counts and save them (and the fields `also`
    names); when no item remains, gather what they did and tell the subscribers."""
    counts = delivery.item_counts
    remaining = sum(counts.get(status, 0) for status in RUNNABLE)
    fields = ["item_counts", "status", *also]
    if counts.get(Status.DEAD):
        delivery.status = Delivery.Status.DEAD
    elif counts.get(Status.FAILED):
        delivery.status = Delivery.Status.FAILED
    elif remaining:
        delivery.status = Delivery.Status.PROCESSING
    else:
        delivery.status = Delivery.Status.PROCESSED
    if not remaining:
        _delivery_gather(delivery)
        fields += ["summary", "warnings", "links", "subjects", "processed_at"]
        fields += ["error", "error_traceback", "next_attempt_at"]
    delivery.save(update_fields=list(dict.fromkeys(fields)))
    if not remaining and delivery.status == Delivery.Status.PROCESSED:
        delivery_notifications_queue(delivery=delivery)


def _delivery_gather(delivery: Delivery) -> None:
    """What the items did together, in words, on the delivery: its summary, warnings (a
    bounded number), links and search keys."""
    items = list(
        delivery.items.order_by("position").only(
            "kind",
            "subject",
            "status",
            "summary",
            "warnings",
            "links",
            "subjects",
            "readings_stored",
            "error",
            "position",
        )
    )
    by_kind: dict[str, list[DeliveryItem]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    pieces = []
    for kind_name, of_kind in by_kind.items():
        succeeded = [item for item in of_kind if item.status in DeliveryItem.SUCCEEDED]
        summarize = item_kind_for(kind_name).summarize
        pieces.append(
            summarize(succeeded)
            if summarize
            else " ".join(item.summary for item in succeeded if item.summary)
        )
    dead = [item for item in items if item.status == Status.DEAD]
    if dead:
        pieces.append(f"{len(dead)} item(s) failed for good.")
    delivery.summary = " ".join(piece for piece in pieces if piece)
    delivery.next_attempt_at = None
    if not dead:
        delivery.error = delivery.error_traceback = ""
    elif len(items) > 1:
        delivery.error = (
            f"{len(dead)} of {len(items)} items failed for good; the first, item "
            f"{dead[0].position} ({dead[0].subject}): {dead[0].error}"
        )
    warnings = [warning for item in items for warning in item.warnings]
    delivery.warnings = warnings[:WARNINGS_KEPT] + (
        [f"… and {len(warnings) - WARNINGS_KEPT} more warnings: see the items."]
        if len(warnings) > WARNINGS_KEPT
        else []
    )
    links = list(dict.fromkeys(tuple(link) for item in items for link in item.links))
    delivery.links = [list(link) for link in links[:LINKS_KEPT]]
    subjects = dict.fromkeys([*delivery.subjects, *(s for i in items for s in i.subjects)])
    delivery.subjects = list(subjects)[: len(delivery.subjects) + SUBJECTS_KEPT]
    delivery.processed_at = timezone.now() if not dead else delivery.processed_at
