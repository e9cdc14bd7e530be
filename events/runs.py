"""A delivery's run through its handler, opened and closed in one statement each.

The worker settles thousands of cheap deliveries (a customer created, say) a minute: besides
the handler's own writes, each costs procrastinate's two statements (fetch and finish the job)
and these two, so they do in one round trip what reads and saves of the models would do in
several.

    delivery_run_claim    in a transaction of its own, committed before the handler runs: takes
                          the delivery's row lock, checks that it is still to run, marks it
                          processing (or ignored, when no handler acts on its event type),
                          fails the attempt a killed worker left running, and records the new
                          attempt, running. The admin shows the run while it lasts, and a
                          worker killed during it leaves the attempt running, for the next run
                          to mark failed.
    delivery_run_finish   in the handler's transaction: the delivery processed, its attempt
                          finished, and whether anyone subscribes to its event type.

events/processing.py runs the handler between the two, and records failures.
"""

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from common.rows import columns_of, instance_from_row
from events.dispatch import Handler, handled_event_types, handler_for
from events.models import Delivery, DeliveryAttempt, EmailSubscription

Status = Delivery.Status
Result = DeliveryAttempt.Result
RUNNABLE = (Status.PENDING, Status.PROCESSING, Status.FAILED)
ABANDONED = "The worker stopped during this attempt (killed or restarted)."

_DELIVERY = Delivery._meta.db_table
_ATTEMPT = DeliveryAttempt._meta.db_table

# A delivery that fanned out (item_counts not empty) is its items' now: they run, and rerun,
# on their own. The handled event types are passed in, a line each (one text to adapt, not
# arrays of them): a delivery without a handler is ignored, without an attempt. The
# data-modifying parts all run, to completion, whatever the last SELECT reads of them.
_CLAIM = f"""
    WITH previous AS (
        SELECT id, status,
            (source || ' ' || event_type) = ANY(string_to_array(%(handled)s, chr(10))) AS handled
        FROM {_DELIVERY}
        WHERE id = %(delivery)s AND status = ANY(%(runnable)s) AND item_counts = '{{}}'::jsonb
        FOR UPDATE
    ),
    claimed AS (
        UPDATE {_DELIVERY} AS delivery
        SET status = CASE WHEN previous.handled THEN %(processing)s ELSE %(ignored)s END,
            attempt_count = delivery.attempt_count + previous.handled::int,
            next_attempt_at = NULL
        FROM previous
        WHERE delivery.id = previous.id
        RETURNING delivery.*
    ),
    abandoned AS (
        UPDATE {_ATTEMPT} SET result = %(failed)s, error = %(abandoned)s, finished_at = %(now)s
        WHERE result = %(running)s
            AND delivery_id = (SELECT id FROM previous WHERE handled AND status = %(processing)s)
    ),
    attempt AS (
        INSERT INTO {_ATTEMPT} (delivery_id, started_at, finished_at, result, error)
        SELECT id, %(now)s, NULL, %(running)s, '' FROM previous WHERE handled
        RETURNING id
    )
    SELECT {columns_of(Delivery._meta.concrete_fields, "claimed")}, (SELECT id FROM attempt)
    FROM claimed
"""

# The condition is EmailSubscription.objects.for_event_type's, on the delivery's event type.
_FINISH = f"""
    WITH attempt AS (
        UPDATE {_ATTEMPT} SET result = %(result)s, error = %(attempt_error)s, finished_at = %(now)s
        WHERE id = %(attempt)s
    )
    UPDATE {_DELIVERY} AS delivery
    SET status = %(status)s, processed_at = %(now)s, summary = %(summary)s, links = %(links)s,
        subjects = %(subjects)s::{{subjects_type}}, warnings = %(warnings)s, error = '',
        error_traceback = '', consecutive_failures = 0
    WHERE id = %(delivery)s
    RETURNING EXISTS (
        SELECT FROM {EmailSubscription._meta.db_table} AS subscription
        WHERE subscription.active AND subscription.event_type IN (delivery.event_type, %(all)s)
    )
"""


@dataclass(frozen=True)
class Run:
    delivery: Delivery
    attempt: DeliveryAttempt
    handler: Handler


def delivery_run_claim(*, delivery_id: int) -> Run | None:
    """Open a run of the delivery, committed at once (call it outside any transaction); None
    when there is nothing to run: the delivery is gone, finished, worked item by item, or
    ignored now for want of a handler."""
    handled = "\n".join(f"{source} {event_type}" for source, event_type in handled_event_types())
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM,
            {
                "delivery": delivery_id,
                "runnable": list(RUNNABLE),
                "handled": handled,
                "processing": Status.PROCESSING,
                "ignored": Status.IGNORED,
                "failed": Result.FAILED,
                "running": Result.RUNNING,
                "abandoned": ABANDONED,
                "now": now,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    *columns, attempt_id = row
    delivery = instance_from_row(Delivery, columns, using=connection.alias)
    if delivery.status == Status.IGNORED:
        return None
    handler = handler_for(source=delivery.source, event_type=delivery.event_type)
    attempt = DeliveryAttempt(
        id=attempt_id, delivery=delivery, started_at=now, result=Result.RUNNING
    )
    # The row the claim wrote: a later save updates it.
    attempt._state.adding, attempt._state.db = False, delivery._state.db
    return Run(delivery=delivery, attempt=attempt, handler=handler)


def delivery_run_finish(*, delivery: Delivery, attempt: DeliveryAttempt, warnings: str) -> bool:
    """Mark the delivery processed with what its handler set on it (summary, links, subjects,
    warnings), and its attempt processed with `warnings`, in the caller's transaction; return
    whether anyone subscribes to its event type.

    Named fields only: intake may have counted a receipt on the row meanwhile.
    """
    now = timezone.now()
    delivery.status, delivery.processed_at = Status.PROCESSED, now
    delivery.error = delivery.error_traceback = ""
    delivery.consecutive_failures = 0
    attempt.result, attempt.error, attempt.finished_at = Result.PROCESSED, warnings, now
    subjects = Delivery._meta.get_field("subjects")
    with connection.cursor() as cursor:
        cursor.execute(
            _FINISH.format(subjects_type=subjects.db_type(connection)),
            {
                "delivery": delivery.pk,
                "status": delivery.status,
                "summary": delivery.summary,
                "links": _prepared("links", delivery.links),
                "subjects": subjects.get_db_prep_save(delivery.subjects, connection),
                "warnings": _prepared("warnings", delivery.warnings),
                "attempt": attempt.pk,
                "result": attempt.result,
                "attempt_error": attempt.error,
                "all": EmailSubscription.ALL,
                "now": now,
            },
        )
        return cursor.fetchone()[0]


def _prepared(field: str, value):
    return Delivery._meta.get_field(field).get_db_prep_save(value, connection)
