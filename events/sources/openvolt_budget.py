"""The budget of calls to Openvolt's API that every worker process, on every machine, shares.

Kept in PostgreSQL, which every worker reaches already (no other service):
- at most OPENVOLT_API_MAX_CONCURRENCY calls in flight: one session advisory lock per slot,
  held for the call and released with it (or with the connection, if the worker dies);
- at most OPENVOLT_API_MAX_RPS calls a second: each call reserves its start time by moving
  the shared `next_call_at` on by 1/RPS seconds in one UPDATE, then waits for that time;
- a 429's Retry-After moves `paused_until` on, which every next reservation waits for.

The calls are made outside any transaction (DESIGN.md, the rules of the worker): the slot is
a session lock and each statement here commits on its own, so no lock or snapshot is held
while Openvolt answers. A call inside a transaction is a bug, refused here.
"""

import contextlib
import random
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django.utils import timezone

from common.transactions import transaction_open
from events.models import OpenvoltBudget

# The first key of the slots' advisory locks (two-int form: a space of its own, apart from
# the one-key locks that objects take).
SLOT_LOCK_CLASS = 0x0F_0C_A1
# How often a call waiting for a free slot looks again.
SLOT_POLL_SECONDS = 0.02
BUDGET_ID = 1

_TABLE = OpenvoltBudget._meta.db_table
_RESERVE_SQL = f"""
    INSERT INTO {_TABLE} AS budget (id, next_call_at)
    VALUES (%(id)s, clock_timestamp() + make_interval(secs => %(spacing)s))
    ON CONFLICT (id) DO UPDATE SET next_call_at = GREATEST(
        budget.next_call_at, clock_timestamp(), budget.paused_until
    ) + make_interval(secs => %(spacing)s)
    RETURNING
        extract(epoch FROM budget.next_call_at - make_interval(secs => %(spacing)s)
            - clock_timestamp()),
        budget.key_refused_at IS NOT NULL
"""


class CallInsideTransaction(RuntimeError):
    """An HTTP call to Openvolt was about to be made while a database transaction is open."""


@contextlib.contextmanager
def openvolt_call_slot() -> Iterator["CallTicket"]:
    """Wait for a free slot and a start time within the shared rate, then hold the slot for
    the call made inside the block."""
    if transaction_open():
        raise CallInsideTransaction(
            "Openvolt is called outside database transactions only: fetch first, then store."
        )
    slot = _slot_take()
    try:
        yield CallTicket(key_refused=_start_time_wait())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SLOT_LOCK_CLASS, slot])


class CallTicket:
    """What a call learns about the shared state when it starts."""

    def __init__(self, *, key_refused: bool):
        self.key_refused = key_refused


def openvolt_calls_pause(*, seconds: float) -> None:
    """Every worker's calls wait this long (Openvolt answered 429 with Retry-After)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_TABLE} AS budget (id, paused_until)
            VALUES (%(id)s, clock_timestamp() + make_interval(secs => %(seconds)s))
            ON CONFLICT (id) DO UPDATE SET paused_until = GREATEST(
                budget.paused_until, EXCLUDED.paused_until
            )
            """,
            {"id": BUDGET_ID, "seconds": seconds},
        )


def openvolt_key_refused_record(*, status: int | None) -> None:
    """Remember that Openvolt refused the API key (status 401 or 403), or, with None, that it
    accepted it again."""
    OpenvoltBudget.objects.update_or_create(
        pk=BUDGET_ID,
        defaults={
            "key_refused_at": timezone.now() if status else None,
            "key_refused_status": status,
        },
    )


def _slot_take() -> int:
    slots = max(settings.OPENVOLT_API_MAX_CONCURRENCY, 1)
    with connection.cursor() as cursor:
        while True:
            # From a random slot on, so that the waiting workers do not all try slot 0 first.
            first = random.randrange(slots)
            for offset in range(slots):
                slot = (first + offset) % slots
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [SLOT_LOCK_CLASS, slot])
                if cursor.fetchone()[0]:
                    return slot
            time.sleep(SLOT_POLL_SECONDS)


def _start_time_wait() -> bool:
    """Reserve the next start time and sleep until it; returns whether the key was last
    refused. A pause that began meanwhile (a 429 elsewhere) is waited for too."""
    spacing = 1.0 / max(settings.OPENVOLT_API_MAX_RPS, 0.001)
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_RESERVE_SQL, {"id": BUDGET_ID, "spacing": spacing})
            wait, key_refused = cursor.fetchone()
            if wait > 0:
                time.sleep(float(wait))
            cursor.execute(
                f"SELECT paused_until > clock_timestamp() FROM {_TABLE} WHERE id = %s",
                [BUDGET_ID],
            )
            paused = cursor.fetchone()[0]
            if not paused:
                return bool(key_refused)
