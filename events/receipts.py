"""How the intake stores one arrival of a delivery, and what it calls it: the two statements
it runs (the delivery or one more receipt of it; the receipt), the receipt's verdict and the
HTTP status that verdict is answered with. events/intake.py runs them."""

from events.models import Delivery, DeliveryReceipt

Verdict = DeliveryReceipt.Verdict

# One statement stores the delivery or counts one more receipt of it. ON CONFLICT decides
# between simultaneous arrivals inside PostgreSQL: exactly one inserts (its receipt_count is 1),
# the others wait for it to commit and then count their receipt on its row. It returns the
# stored body's hash, and marks the row when the arriving body's differs: its CASE is
# receipt_verdict's rule of a conflict, where both hashes are known.
UPSERT_DELIVERY = f"""
    INSERT INTO {Delivery._meta.db_table} AS delivery (
        endpoint_id, source, external_id, event_type, status, occurred_at, payload,
        unparsed_body, error, subjects, body_sha256, error_traceback, summary, links, warnings,
        receipt_count, attempt_count, consecutive_failures
    )
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '', '', '[]', '[]', 1, 0, 0)
    ON CONFLICT (endpoint_id, external_id) DO UPDATE
        SET receipt_count = delivery.receipt_count + 1,
            last_received_at = statement_timestamp(),
            last_conflict_at = CASE
                WHEN delivery.status <> '{Delivery.Status.REJECTED.value}'
                    AND delivery.body_sha256 <> EXCLUDED.body_sha256
                THEN statement_timestamp()
                ELSE delivery.last_conflict_at
            END
    RETURNING id, status, receipt_count = 1, body_sha256
"""
INSERT_RECEIPT = f"""
    INSERT INTO {DeliveryReceipt._meta.db_table}
        (delivery_id, received_at, remote_addr, headers, verdict, response_status)
    VALUES (%s, statement_timestamp(), %s, %s, %s, %s)
"""
ANSWER = {
    Verdict.ACCEPTED: 202,
    Verdict.DUPLICATE: 200,
    # Answered as a duplicate: another body under a stored id is never stored, and a sender
    # told anything but 2xx would send it again and again.
    Verdict.CONFLICT: 200,
    Verdict.REJECTED: 400,
}


def receipt_verdict(
    *, stored_status: str, created: bool, stored_sha256: bytes | None, body_sha256: bytes
) -> str:
    """What an arrival was, from what UPSERT_DELIVERY returned.

    A delivery stored as rejected stays refused, whatever body comes under its id: it was
    never accepted, so no body of it was promised to be kept. A delivery stored before bodies
    were hashed has nothing to compare with: its later arrivals are duplicates.
    """
    if stored_status == Delivery.Status.REJECTED:
        return Verdict.REJECTED
    if created:
        return Verdict.ACCEPTED
    if stored_sha256 is not None and bytes(stored_sha256) != body_sha256:
        return Verdict.CONFLICT
    return Verdict.DUPLICATE
