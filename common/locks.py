"""PostgreSQL advisory locks: how two jobs touching one object take turns."""

from collections.abc import Iterable

from django.db import connection


def advisory_locks_take(*, keys: Iterable[str]) -> None:
    """Hold an advisory lock on each key until the transaction ends.

    Two jobs touching one meter or consent serialise here, whatever else they touch. The keys
    are taken in sorted order, so that two jobs can never wait on each other.
    """
    with connection.cursor() as cursor:
        for key in sorted(set(keys)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
