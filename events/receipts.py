"""How the intake stores one arrival of a delivery: one statement, committed on its own,
prepared once per connection (common/prepared.py), so that PostgreSQL only runs it.

It stores the delivery or counts one more receipt of it, names the arrival (its verdict),
queues the delivery's first run when it is new, and records the receipt; then the sender
hears the answer the verdict calls for. One statement is one round trip and needs no
transaction around it: PostgreSQL runs its parts (common table expressions that write) as a
whole, committed before the statement returns, so a 2xx still means the delivery, its job
and its receipt are stored, and an error means none of them is.

ON CONFLICT decides between simultaneous arrivals inside PostgreSQL: exactly one inserts (its
receipt_count is 1), the others wait for it to commit and then count their receipt on its row.

The verdict:
    rejected   the delivery is stored as rejected (this arrival's body, or a first one's):
               refused with 400, whatever body comes later under its id, since none of it
               was ever accepted;
    accepted   stored now, its job queued;
    conflict   a delivery stored under this id holds another body (by SHA-256): answered as
               a duplicate, so that the sender stops, the stored body kept; a delivery stored
               before bodies were hashed has nothing to compare with, and is never one;
    duplicate  otherwise.
The conflict rule is written twice, side by side: once to mark the delivery (the UPDATE's
CASE, where the stored hash is the row's), once to name the receipt.
"""

from procrastinate.jobs import DEFAULT_PRIORITY

from events.models import Delivery, DeliveryReceipt
from events.tasks import process_delivery

Verdict = DeliveryReceipt.Verdict
ANSWER = {
    Verdict.ACCEPTED: 202,
    Verdict.DUPLICATE: 200,
    # Answered as a duplicate: another body under a stored id is never stored, and a sender
    # told anything but 2xx would send it again and again.
    Verdict.CONFLICT: 200,
    Verdict.REJECTED: 400,
}
REJECTED = Delivery.Status.REJECTED.value
_ANSWER_CASE = " ".join(f"WHEN '{verdict.value}' THEN {code}" for verdict, code in ANSWER.items())

# The job is procrastinate's own defer function (what Job.defer() calls), with the lock
# events.tasks.delivery_run_queue gives a run: `delivery:<id>`.
STORE_ARRIVAL = f"""
    WITH delivery AS (
        INSERT INTO {Delivery._meta.db_table} AS delivery (
            endpoint_id, source, external_id, event_type, status, occurred_at, payload,
            unparsed_body, error, subjects, body_sha256, error_traceback, summary, links,
            warnings, receipt_count, attempt_count, consecutive_failures
        )
        VALUES (
            %(endpoint_id)s, %(source)s, %(external_id)s, %(event_type)s, %(status)s,
            %(occurred_at)s, %(payload)s, %(unparsed_body)s, %(error)s, %(subjects)s,
            %(body_sha256)s, '', '', '[]', '[]', 1, 0, 0
        )
        ON CONFLICT (endpoint_id, external_id) DO UPDATE
            SET receipt_count = delivery.receipt_count + 1,
                last_received_at = statement_timestamp(),
                last_conflict_at = CASE
                    WHEN delivery.status <> '{REJECTED}'
                        AND delivery.body_sha256 <> EXCLUDED.body_sha256
                    THEN statement_timestamp()
                    ELSE delivery.last_conflict_at
                END
        RETURNING id, status, receipt_count = 1 AS created, body_sha256
    ),
    arrival AS (
        SELECT id, created, CASE
            WHEN status = '{REJECTED}' THEN '{Verdict.REJECTED.value}'
            WHEN created THEN '{Verdict.ACCEPTED.value}'
            WHEN body_sha256 <> %(body_sha256)s THEN '{Verdict.CONFLICT.value}'
            ELSE '{Verdict.DUPLICATE.value}'
        END AS verdict
        FROM delivery
    ),
    job AS (
        SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(
            %(queue)s::varchar, %(task)s::varchar, %(priority)s::integer,
            'delivery:' || id, NULL::text, jsonb_build_object('delivery_id', id),
            NULL::timestamptz
        )::procrastinate_job_to_defer_v1])
        FROM arrival
        WHERE verdict = '{Verdict.ACCEPTED.value}'
    ),
    receipt AS (
        INSERT INTO {DeliveryReceipt._meta.db_table}
            (delivery_id, received_at, remote_addr, headers, verdict, response_status)
        SELECT id, statement_timestamp(), %(remote_addr)s, %(headers)s, verdict,
            CASE verdict {_ANSWER_CASE} END
        FROM arrival
    )
    -- Read, so that the job's part runs: a part that only reads runs when it is read.
    SELECT id, created, verdict, (SELECT count(*) FROM job) FROM arrival
"""

# The job's own fields, as process_delivery.defer() would write them.
DELIVERY_JOB = {
    "queue": process_delivery.queue,
    "task": process_delivery.name,
    "priority": DEFAULT_PRIORITY,
}
