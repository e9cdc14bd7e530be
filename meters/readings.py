"""Half-hourly readings: stored by meter and start, and tallied per day for the dashboard."""

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from common.moments import days_bounds
from meters.completeness import completeness_measure, meter_days_recount
from meters.models import IntervalReading, Meter, ReadingsReceivedDaily
from meters.partitions import reading_partitions_ensure
from meters.time_zones import default_meter_time_zone

# The readings travel as two arrays, bound server-side in binary (%b): for a 13-month backfill
# (19,000 readings) this is 3.5 to 10 times faster than bulk_create, whose model instances and
# text literals (timestamps the server must parse) cost more than the inserts themselves.
# bench/backfill.py measures it, and the alternatives, against COPY.
_READINGS_UPSERT_SQL = f"""
    INSERT INTO {IntervalReading._meta.db_table} AS stored
        (meter_id, start, consumption_kwh, fetched_at)
    SELECT %b, given.start, given.kwh, %b
    FROM unnest(%b::timestamptz[], %b::numeric[]) AS given(start, kwh)
    ON CONFLICT (meter_id, start) DO UPDATE
    SET consumption_kwh = EXCLUDED.consumption_kwh, fetched_at = EXCLUDED.fetched_at
    -- An unchanged value leaves its row alone (fetched_at included): no new row version to
    -- write, index and vacuum when a re-fetch brings mostly the same figures.
    WHERE stored.consumption_kwh IS DISTINCT FROM EXCLUDED.consumption_kwh
"""


def readings_upsert(*, meter: Meter, readings: Iterable[tuple[datetime, Decimal]]) -> int:
    """Store half-hourly readings of one meter in one statement; returns how many were given.

    A reading already stored for the same start is replaced (Openvolt revises values), so a
    re-fetch never duplicates; `fetched_at` tells when the stored value arrived. Starts are
    aware datetimes, values Decimals. Runs in the caller's transaction; concurrent calls for
    one meter are safe (ON CONFLICT), and the caller's meter lock keeps them in order.

    A month with no partition yet gets one here (meters/partitions.py); callers that can
    should have made sure of them before their transaction began.
    """
    readings = list(readings)
    if not readings:
        return 0
    starts = [start for start, _ in readings]
    values = [kwh for _, kwh in readings]
    reading_partitions_ensure(starts=starts)
    # A psycopg cursor of our own, because Django's binds client-side (text literals). It is
    # on Django's connection, hence in the caller's transaction. prepare=False: planning is a
    # sliver of a statement that writes thousands of rows (unlike the intake's, common/prepared.py).
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            _READINGS_UPSERT_SQL, [meter.pk, timezone.now(), starts, values], prepare=False
        )
        changed = cursor.rowcount
    newest = max(starts)
    if meter.latest_reading_start is None or newest > meter.latest_reading_start:
        Meter.objects.filter(pk=meter.pk).update(latest_reading_start=newest)
        meter.latest_reading_start = newest
    if changed:  # Rows added or revised; a re-fetch that brought nothing new counts nothing.
        meter_days_recount(meter=meter, first=min(starts), last=newest)
        completeness_measure(meters=[meter])
    readings_received_count(meter=meter, count=len(readings))
    return len(readings)


# Added to, never read and rewritten: concurrent jobs cannot lose each other's counts.
_READINGS_RECEIVED_SQL = f"""
    INSERT INTO {ReadingsReceivedDaily._meta.db_table} AS tally (day, slot, count)
    VALUES (%s, %s, %s)
    ON CONFLICT (day, slot) DO UPDATE SET count = tally.count + EXCLUDED.count
"""


def readings_received_count(*, meter: Meter, count: int) -> None:
    """Add `count` readings of the meter, received now, to today's tally for the dashboard
    (today in METER_TIME_ZONE: one chart over meters of every zone counts days in one).

    In the caller's transaction: the readings are counted if, and only if, they are stored.
    """
    if count <= 0:
        return
    slot = meter.pk % ReadingsReceivedDaily.SLOTS
    with connection.cursor() as cursor:
        today = timezone.localdate(timezone=default_meter_time_zone())
        cursor.execute(_READINGS_RECEIVED_SQL, [today, slot, count])


def readings_received_daily_rebuild(*, first_day: date, last_day: date) -> int:
    """Rebuild the tallies of these days (both included) from the readings stored, each on the
    day its value arrived (`fetched_at`, days in METER_TIME_ZONE); returns the readings counted.

    A re-fetch that changed nothing left no trace, so it is not counted here as it was live.
    `fetched_at` has no index: this reads the whole table once. For demo data and repairs.
    """
    zone = default_meter_time_zone()
    since, until = days_bounds(first_day=first_day, last_day=last_day, zone=zone)
    tally, readings = ReadingsReceivedDaily._meta.db_table, IntervalReading._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {tally} WHERE day BETWEEN %s AND %s", [first_day, last_day])
        cursor.execute(
            f"""
            WITH counted AS (
                SELECT (fetched_at AT TIME ZONE %s)::date AS day, meter_id %% %s AS slot,
                    count(*) AS readings
                FROM {readings}
                WHERE fetched_at >= %s AND fetched_at < %s
                GROUP BY 1, 2
            ), stored AS (
                INSERT INTO {tally} AS tally (day, slot, count)
                SELECT day, slot, readings FROM counted
                ON CONFLICT (day, slot) DO UPDATE SET count = tally.count + EXCLUDED.count
            )
            SELECT coalesce(sum(readings), 0) FROM counted
            """,
            [str(zone), ReadingsReceivedDaily.SLOTS, since, until],
        )
        return int(cursor.fetchone()[0])
