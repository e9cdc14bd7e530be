"""Retention of deliveries: the finished ones are removed DELIVERY_RETENTION_DAYS after they
ended, with every row that belongs to them; failed and dead ones stay until a person acts.

A delivery *ended* at the latest of when it was processed (`processed_at`) and when it last
arrived (`last_received_at`): a reprocessed one is kept its full period from its new outcome,
and a sender still retrying keeps its delivery, so that each retry is recognised as a duplicate.
Ignored and rejected deliveries have no `processed_at`: they end when they last arrived.

Both moments come at or after `received_at`, so every delivery to remove was also received
before the cutoff: the batches walk the oldest range of the changelist's (received_at, id)
index, in its order, each starting after the last row of the one before, and test the status
and the end on those rows only. The intake pays for no index of its own.

Each batch is one short transaction: a few thousand ids locked with SKIP LOCKED (a row the
intake or the worker holds is passed over, never waited for, and taken at a later run), their
children deleted by those ids, then the deliveries. The foreign keys have no ON DELETE in the
database (Django emulates CASCADE row by row), so the children are deleted here, one
statement per table. The daily counts (events/daily_counts.py) are a summary: they stay.
"""

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from croniter import croniter
from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.utils import timezone

from events.models import Delivery

logger = logging.getLogger(__name__)

Status = Delivery.Status
# Finished for good: nothing will happen to them unless a person reprocesses them.
PRUNED_STATUSES = (Status.PROCESSED, Status.IGNORED, Status.REJECTED)
# Deliveries a transaction: a fraction of a second of locks, most of it the foreign keys'
# checks (one a delivery per table that refers to deliveries), on rows no one else uses.
PRUNE_BATCH = 2000
# A lock that a child row's holder keeps longer than this ends the run; the next one retries.
CHILD_LOCK_TIMEOUT = "5s"
# Below this the dashboard counts the deliveries kept rather than reading the estimate.
KEPT_COUNTED_UP_TO = 10_000

_DELIVERY = Delivery._meta.db_table
# The end is tested on rows of the index range only: received_at < cutoff is implied by it.
_BATCH = f"""
    SELECT id, received_at, status FROM {_DELIVERY}
    WHERE status = ANY(%(statuses)s) AND received_at < %(cutoff)s
        AND (received_at, id) > (%(after_at)s::timestamptz, %(after_id)s::bigint)
        AND greatest(processed_at, last_received_at) < %(cutoff)s
    ORDER BY received_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
"""
_DUE = f"""
    SELECT status, count(*) FROM {_DELIVERY}
    WHERE status = ANY(%(statuses)s) AND received_at < %(cutoff)s
        AND greatest(processed_at, last_received_at) < %(cutoff)s
    GROUP BY status
"""

_KEPT = f"""
    SELECT CASE WHEN reltuples > %(cap)s THEN reltuples::bigint
        ELSE (SELECT count(*) FROM (SELECT FROM {_DELIVERY} LIMIT %(cap)s) AS capped) END
    FROM pg_class WHERE oid = %(table)s::regclass
"""


@dataclass
class Pruned:
    """What a prune removed (or, dry, would remove): deliveries by status, their children by
    table; `finished` is False when it stopped on its time limit with more to do."""

    deliveries: Counter = field(default_factory=Counter)
    children: Counter = field(default_factory=Counter)
    batches: int = 0
    finished: bool = True

    @property
    def total(self) -> int:
        return sum(self.deliveries.values())


def retention_cutoff(*, now: datetime | None = None) -> datetime:
    """Deliveries that ended before this are removed."""
    return (now or timezone.now()) - timedelta(days=settings.DELIVERY_RETENTION_DAYS)


def deliveries_prune(
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = PRUNE_BATCH,
    seconds: float | None = None,
) -> Pruned:
    """Remove the finished deliveries that ended before the cutoff, in batches, each its own
    transaction (call it outside any). `seconds`: stop after the batch that passes it."""
    cutoff = retention_cutoff(now=now)
    if dry_run:
        return _due(cutoff)
    deadline = None if seconds is None else time.monotonic() + seconds
    pruned = Pruned()
    after = ("-infinity", 0)
    while True:
        # At least one batch a run, however short its time.
        if pruned.batches and deadline is not None and time.monotonic() > deadline:
            pruned.finished = False
            return pruned
        try:
            after = _prune_batch(cutoff, after, batch_size, pruned)
        except OperationalError as error:
            logger.warning("Pruning deliveries stopped, to go on at the next run: %s", error)
            pruned.finished = False
            return pruned
        if after is None:
            break
    if pruned.total:
        logger.info("Pruned %s deliveries ended before %s.", pruned.total, cutoff.isoformat())
    return pruned


def _prune_batch(cutoff, after, batch_size, pruned: Pruned):
    """One transaction; returns the (received_at, id) the next batch starts after, or None
    when there is nothing more to remove."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{CHILD_LOCK_TIMEOUT}'")
        cursor.execute(
            _BATCH,
            {
                "statuses": list(PRUNED_STATUSES),
                "cutoff": cutoff,
                "after_at": after[0],
                "after_id": after[1],
                "limit": batch_size,
            },
        )
        rows = cursor.fetchall()
        if not rows:
            return None
        ids = [delivery_id for delivery_id, _, _ in rows]
        for table, column in _children():
            cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [ids])
            pruned.children[table] += cursor.rowcount
        cursor.execute(f"DELETE FROM {_DELIVERY} WHERE id = ANY(%s)", [ids])
    pruned.deliveries.update(status for _, _, status in rows)
    pruned.batches += 1
    last_id, received_at, _ = rows[-1]
    return received_at, last_id


def _children() -> list[tuple[str, str]]:
    """(table, column) of every model with a foreign key to Delivery. Each must be its
    delivery's own (CASCADE): a link that should outlive the delivery is not removed here."""
    children = []
    for relation in Delivery._meta.related_objects:
        if relation.on_delete is not models.CASCADE:
            raise RuntimeError(
                f"{relation.related_model.__name__}.{relation.field.name} does not cascade: "
                "decide what pruning does with it."
            )
        children.append((relation.related_model._meta.db_table, relation.field.column))
    return children


def _due(cutoff: datetime) -> Pruned:
    with connection.cursor() as cursor:
        cursor.execute(_DUE, {"statuses": list(PRUNED_STATUSES), "cutoff": cutoff})
        return Pruned(deliveries=Counter(dict(cursor.fetchall())))


def deliveries_kept_estimate() -> int:
    """How many deliveries the table holds, in one statement: PostgreSQL's estimate (as of the
    last ANALYZE, which autovacuum runs) on a large table; on a small one, or one never
    analysed, a count that stops at KEPT_COUNTED_UP_TO (the subquery runs only then)."""
    with connection.cursor() as cursor:
        cursor.execute(_KEPT, {"table": _DELIVERY, "cap": KEPT_COUNTED_UP_TO})
        return cursor.fetchone()[0]


def next_prune_at(*, now: datetime | None = None) -> datetime:
    """When the periodic prune next runs: procrastinate reads its cron in UTC."""
    from events.tasks import PRUNE_CRON

    start = (now or timezone.now()).astimezone(UTC)
    return croniter(PRUNE_CRON, start).get_next(datetime)
