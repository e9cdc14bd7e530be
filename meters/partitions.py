"""Readings are stored in one partition per calendar month of `start` (UTC months).

Why monthly: a year of 5,000 half-hourly meters is 87.6 million readings, about 7.3 million a
month, a partition of well under a gigabyte with its indexes. What the console asks for (a
meter's 13 months, the newest half-hours of all meters, a day of one meter) reads one to
fourteen partitions; days would make a 13-month chart plan over 400 tables, years would leave
every query on one huge table. A month that ends is never written again but by a re-fetch, so
its partition stays compact and is vacuumed for good.

The partitions are created ahead, by the `meters.create_reading_partitions` job, for the
current month and the MONTHS_AHEAD after it; a backfill that reaches an older month creates
that month's partition on demand before its readings are stored (reading_partitions_ensure).
There is no default partition: a reading whose month has no partition is refused by
PostgreSQL rather than parked where a later month could not be attached.

A new partition is made as a plain table, then attached: attaching takes a lock that neither
readers nor writers of the other months wait on, where `CREATE TABLE … PARTITION OF` would lock
the whole table out until it commits.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime

from django.db import connection, transaction

from common.locks import advisory_locks_take
from common.moments import month_add
from meters.models import IntervalReading

PARENT = IntervalReading._meta.db_table
MONTHS_AHEAD = 3
# How long creating a partition may wait for the locks it needs before giving up (its job is
# retried): waiting longer would hold up the workers queued behind it.
LOCK_TIMEOUT = "5s"

# The months known to have a partition, in this process: the common case costs no query.
_known_months: set[date] = set()


def month_of(moment: datetime) -> date:
    """The first day of the UTC month the moment falls in."""
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def months_between(first: date, last: date) -> list[date]:
    """Each month from the one of `first` to the one of `last`, both included."""
    index, end = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index, end + 1)]


def partition_name(month: date) -> str:
    return f"{PARENT}_y{month.year}m{month.month:02}"


def reading_partitions_ensure(*, starts: Iterable[datetime]) -> list[str]:
    """Make sure every month from the earliest to the latest of these starts has its
    partition; returns the names of those created.

    Best called outside a transaction, before the readings are stored: created inside the
    caller's, a partition holds its locks (on the readings and the meters) until that commits.
    """
    starts = list(starts)
    if not starts:
        return []
    months = months_between(month_of(min(starts)), month_of(max(starts)))
    if _known_months.issuperset(months):
        return []
    return _partitions_create(months)


def reading_partitions_ahead(*, today: date | None = None) -> list[str]:
    """The partitions of this month and the MONTHS_AHEAD after it; returns those created."""
    today = today or datetime.now(UTC).date()
    first = today.replace(day=1)
    return _partitions_create(months_between(first, month_add(first, MONTHS_AHEAD)))


def reading_partitions() -> dict[date, str]:
    """The partitions that exist, by month."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = %s::regclass",
            [PARENT],
        )
        names = [row[0] for row in cursor.fetchall()]
    months = {}
    for name in names:
        suffix = name.removeprefix(f"{PARENT}_y")
        year, _, month = suffix.partition("m")
        if year.isdigit() and month.isdigit():
            months[date(int(year), int(month), 1)] = name
    return months


def known_months_forget() -> None:
    """Forget what this process knows of the partitions (tests drop and recreate tables)."""
    _known_months.clear()


def _partitions_create(months: list[date]) -> list[str]:
    created: list[str] = []
    with transaction.atomic(), connection.cursor() as cursor:
        # One creator at a time: two jobs reaching a new month both find it missing.
        advisory_locks_take(keys=[f"meters:{PARENT}:partitions"])
        existing = reading_partitions()
        # For these statements only: in a caller's transaction, SET LOCAL would outlast them.
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [LOCK_TIMEOUT],
        )
        previous_timeout = cursor.fetchone()[0]
        for month in months:
            if month in existing:
                continue
            name = partition_name(month)
            cursor.execute(f'CREATE TABLE "{name}" (LIKE "{PARENT}")')
            cursor.execute(
                f'ALTER TABLE "{PARENT}" ATTACH PARTITION "{name}" FOR VALUES '
                f"FROM ('{_utc_midnight(month)}') TO ('{_utc_midnight(month_add(month, 1))}')"
            )
            created.append(name)
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous_timeout])
        known = set(existing) | set(months)
    # Known once committed: a caller's transaction that rolls back takes the new ones with it.
    transaction.on_commit(lambda: _known_months.update(known))
    return created


def _utc_midnight(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00"
