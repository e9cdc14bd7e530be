"""The sweeper: deliveries and items left waiting with no job to run them, queued again.

A delivery is stored with its job in one transaction, and every step that leaves work waiting
queues the job that takes it up in the same transaction. But a job can end without its work
done: in a database outage longer than its own retries (events/tasks.py, DATABASE_LOST), the
worker fails a job whose task met a broken connection, and what it was running stays
`pending` or `processing` (a delivery), `pending`, `running` or `failed` (an item), with
nothing left to run it, even once a new worker is up. Every minute (events/tasks.py) the
sweeper queues such work again and records why on the delivery (DeliveryRequeue, on its admin
page); *Reprocess* does the same for the deliveries it is given.

A live job (`todo` or `doing`) means the work is on its way: the sweeper leaves it alone. A job
`doing` on a worker that is gone (no heartbeat, or its row deleted) is procrastinate's stalled
job, which recover_stalled_jobs puts back in the queue.

Cheap on a table of millions: the deliveries looked at come from the (status, received_at)
index, the few in a status that comes and goes; their jobs are compared with the live ones
only (procrastinate's partial index of todo and doing jobs). The lost are read once a run, then
queued in short transactions that lock their rows with SKIP LOCKED, passing over rows the
intake or the worker hold rather than waiting, and that look at the jobs again once the rows are
locked, so that no job being written is raced.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from events.models import Delivery, DeliveryItem, DeliveryRequeue
from events.tasks import delivery_run_queue, item_runs_queue

logger = logging.getLogger(__name__)

# Rows locked per transaction: a few milliseconds of locks that the intake may wait behind.
SWEEP_BATCH = 500
# At most this many deliveries and this many items a run; the next run takes the rest.
SWEEP_MOST_PER_RUN = 20_000

BY_SWEEPER = "the sweeper"
BY_REPROCESS = "Reprocess"

_Status = Delivery.Status
_Item = DeliveryItem.Status
# Worked as a whole: waiting for its first run, cut short in one, or due for a retry.
DELIVERY_WAITING = (_Status.PENDING, _Status.PROCESSING, _Status.FAILED)
# Worked item by item: what a delivery is while items remain (dead: another item died).
DELIVERY_WITH_ITEMS = (_Status.PROCESSING, _Status.FAILED, _Status.DEAD)
ITEM_WAITING = (_Item.PENDING, _Item.RUNNING, _Item.FAILED)

_DELIVERY = Delivery._meta.db_table
_ITEM = DeliveryItem._meta.db_table
# The locks of the live jobs, read in one pass over procrastinate's partial index of todo and
# doing jobs, whose first column is the id, not the lock: looked up lock by lock, it would be
# walked whole for each (the planner underestimates that, and does it for a few dozen).
# MATERIALIZED, it can only be hashed.
_LIVE = """
    live AS MATERIALIZED (
        SELECT lock FROM procrastinate_jobs WHERE status IN ('todo', 'doing') AND lock IS NOT NULL
    )
"""

# Since when each has waited: a retry since it fell due, a run cut short since it started.
_DELIVERY_WAITED = f"""
    d.status = ANY(%(statuses)s) AND d.received_at < %(cutoff)s AND d.item_counts = '{{}}'
    AND (d.status <> '{_Status.FAILED.value}'
         OR coalesce(d.next_attempt_at, d.received_at) < %(cutoff)s)
"""
_ITEM_WAITED = f"""
    i.status = ANY(%(item_statuses)s)
    AND coalesce(CASE i.status WHEN '{_Item.RUNNING.value}' THEN i.started_at
                               WHEN '{_Item.FAILED.value}' THEN i.next_attempt_at END,
                 i.created_at) < %(cutoff)s
"""
# Read once a run, without locks. The candidates come from the status index (MATERIALIZED:
# never from a walk of the primary key in search of the first few), and only then is the
# job table read.
_LOST_DELIVERIES = f"""
    WITH waiting AS MATERIALIZED (SELECT d.id FROM {_DELIVERY} d WHERE {_DELIVERY_WAITED}),
    {_LIVE}
    SELECT id FROM waiting
    WHERE NOT EXISTS (SELECT FROM live WHERE live.lock = 'delivery:' || waiting.id)
    ORDER BY id LIMIT %(limit)s
"""
_LOST_ITEMS = f"""
    WITH waiting AS MATERIALIZED (
        SELECT d.id FROM {_DELIVERY} d
        WHERE d.status = ANY(%(statuses)s) AND d.received_at < %(cutoff)s
            AND d.item_counts ?| %(item_statuses)s
    ),
    {_LIVE}
    SELECT i.id FROM {_ITEM} i
    WHERE i.delivery_id IN (SELECT id FROM waiting) AND {_ITEM_WAITED}
        AND NOT EXISTS (SELECT FROM live WHERE live.lock = 'item:' || i.id)
    ORDER BY i.id LIMIT %(limit)s
"""
# The same conditions again, on the rows as they are once locked.
_LOCK_DELIVERIES = f"""
    SELECT d.id, d.status, d.next_attempt_at FROM {_DELIVERY} d
    WHERE d.id = ANY(%(ids)s) AND {_DELIVERY_WAITED}
    ORDER BY d.id FOR NO KEY UPDATE SKIP LOCKED
"""
_LOCK_ITEMS = f"""
    SELECT i.id, i.delivery_id FROM {_ITEM} i
    WHERE i.id = ANY(%(ids)s) AND {_ITEM_WAITED}
    ORDER BY i.id FOR NO KEY UPDATE SKIP LOCKED
"""
# Reprocess: a delivery's items, however long they have waited.
_LOCK_LOST_ITEMS_OF = f"""
    WITH {_LIVE}
    SELECT i.id FROM {_ITEM} i
    WHERE i.delivery_id = %(delivery)s AND i.status = ANY(%(item_statuses)s)
        AND NOT EXISTS (SELECT FROM live WHERE live.lock = 'item:' || i.id)
    ORDER BY i.id FOR NO KEY UPDATE OF i SKIP LOCKED
"""
_LIVE_LOCKS = f"WITH {_LIVE} SELECT lock FROM live WHERE lock = ANY(%s)"


@dataclass(frozen=True)
class Swept:
    """What a run of the sweeper queued again."""

    deliveries: int = 0
    items: int = 0


def lost_work_requeue(*, now: datetime | None = None) -> Swept:
    """Queue again the deliveries and items left waiting with no job, past the grace period;
    each batch in a transaction of its own. Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.DELIVERY_SWEEP_GRACE_SECONDS)
    swept = Swept(_deliveries_sweep(cutoff), _items_sweep(cutoff))
    if swept.deliveries or swept.items:
        logger.warning(
            "Queued again %s deliveries and %s items whose jobs were lost.",
            swept.deliveries,
            swept.items,
        )
    return swept


def delivery_lost_work_requeue(*, delivery: Delivery, by: str = BY_REPROCESS) -> bool:
    """Queue again a pending or processing delivery that no job will run, or those of its
    items; in the caller's transaction, which holds the delivery's row lock. False when
    nothing of it was lost: it is on its way."""
    if not delivery.item_counts:
        if _live_locks([f"delivery:{delivery.pk}"]):
            return False
        delivery_run_queue(delivery_id=delivery.pk)
        DeliveryRequeue.objects.create(delivery=delivery, reason=_delivery_reason(delivery, by))
        return True
    # Its items after the delivery, against the order an item's job takes them (the item,
    # then the delivery): with SKIP LOCKED, so that neither waits on the other. An item
    # locked now is being worked, not lost.
    ids = _ids(_LOCK_LOST_ITEMS_OF, delivery=delivery.pk, item_statuses=list(ITEM_WAITING))
    live = _live_locks([f"item:{item_id}" for item_id in ids])
    lost = [item_id for item_id in ids if f"item:{item_id}" not in live]
    if not lost:
        return False
    item_runs_queue(item_ids=lost)
    DeliveryRequeue.objects.create(delivery=delivery, reason=_items_reason(by), items=len(lost))
    return True


def _deliveries_sweep(cutoff: datetime) -> int:
    params = {"statuses": list(DELIVERY_WAITING), "cutoff": cutoff}
    lost = _ids(_LOST_DELIVERIES, **params, limit=SWEEP_MOST_PER_RUN)
    queued = 0
    for offset in range(0, len(lost), SWEEP_BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_LOCK_DELIVERIES, {**params, "ids": lost[offset : offset + SWEEP_BATCH]})
            locked = cursor.fetchall()
            live = _live_locks([f"delivery:{row[0]}" for row in locked])
            requeues = []
            for delivery_id, status, next_attempt_at in locked:
                if f"delivery:{delivery_id}" in live:
                    continue
                delivery_run_queue(delivery_id=delivery_id)
                found = Delivery(pk=delivery_id, status=status, next_attempt_at=next_attempt_at)
                requeues.append(
                    DeliveryRequeue(delivery_id=delivery_id, reason=_delivery_reason(found))
                )
            DeliveryRequeue.objects.bulk_create(requeues)
            queued += len(requeues)
    return queued


def _items_sweep(cutoff: datetime) -> int:
    params = {
        "statuses": list(DELIVERY_WITH_ITEMS),
        "item_statuses": list(ITEM_WAITING),
        "cutoff": cutoff,
    }
    lost = _ids(_LOST_ITEMS, **params, limit=SWEEP_MOST_PER_RUN)
    # One record a delivery a run, however many batches its items span.
    records: dict[int, int] = {}
    queued = 0
    for offset in range(0, len(lost), SWEEP_BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_LOCK_ITEMS, {**params, "ids": lost[offset : offset + SWEEP_BATCH]})
            locked = cursor.fetchall()
            live = _live_locks([f"item:{row[0]}" for row in locked])
            by_delivery: dict[int, list[int]] = {}
            for item_id, delivery_id in locked:
                if f"item:{item_id}" not in live:
                    by_delivery.setdefault(delivery_id, []).append(item_id)
            item_runs_queue(item_ids=[item for items in by_delivery.values() for item in items])
            # The records last: their rows wait, for one of the worker's short transactions at
            # most, on a delivery's row lock, and the items' row locks are held meanwhile.
            for delivery_id, item_ids in by_delivery.items():
                queued += len(item_ids)
                if delivery_id in records:
                    DeliveryRequeue.objects.filter(pk=records[delivery_id]).update(
                        items=F("items") + len(item_ids)
                    )
                else:
                    records[delivery_id] = DeliveryRequeue.objects.create(
                        delivery_id=delivery_id,
                        reason=_items_reason(BY_SWEEPER),
                        items=len(item_ids),
                    ).pk
    return queued


def _ids(sql: str, **params) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _live_locks(locks: list[str]) -> set[str]:
    """Those of these job locks held by a job waiting or running: read afresh."""
    if not locks:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_LIVE_LOCKS, [locks])
        return {row[0] for row in cursor.fetchall()}


_LOST = "its job had failed or vanished, as in a database outage"


def _delivery_reason(delivery: Delivery, by: str = BY_SWEEPER) -> str:
    if delivery.status == _Status.PROCESSING:
        found = "Left processing by a run that never finished, with no job to run it again"
    elif delivery.status == _Status.FAILED and delivery.next_attempt_at:
        due = timezone.localtime(delivery.next_attempt_at)
        found = f"Its retry was due at {due:%Y-%m-%d %H:%M}, but no job was there to run it"
    else:
        found = "Waiting for the worker, but no job was there to run it"
    return f"{found} ({_LOST}): queued again by {by}."


def _items_reason(by: str) -> str:
    return (
        "Items waiting, running or due for a retry had no job to run them (theirs had failed "
        f"or vanished, as in a database outage): queued again by {by}."
    )
