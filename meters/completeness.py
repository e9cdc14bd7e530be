"""Which half-hours of a meter never arrived, over the last 13 months.

A meter is expected to have a reading every half-hour from its first one in the window (the
current month and the twelve before it, as its chart) to its latest one. Half-hours after
the latest are not gaps but lateness, which the meter's freshness tells.

To answer for thousands of meters at once, each meter keeps a count of its half-hours per UTC
day (`MeterDay`, 48 on a complete day, whatever the clocks do), recounted for the days a
store touched; each meter's completeness is worked out from those counts when its readings
are stored, and for every meter nightly, as the window moves on (`meters.measure_completeness`).
The gaps themselves, from, to and how many half-hours, are read from one meter's readings.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from common.moments import month_add
from meters.models import IntervalReading, Meter, MeterDay
from meters.selectors import CHART_MONTHS

HALF_HOUR = timedelta(minutes=30)
# The months of the meter's chart: what its page shows, it measures.
WINDOW_MONTHS = CHART_MONTHS
# Under this, a meter is counted on the dashboard as missing data.
COMPLETE_PERCENT = 99

READINGS, DAYS, METERS = (
    IntervalReading._meta.db_table,
    MeterDay._meta.db_table,
    Meter._meta.db_table,
)


def window_start(*, today: date | None = None) -> date:
    """The first UTC day of the window: the first of the month twelve months before this."""
    today = today or timezone.now().astimezone(UTC).date()
    return month_add(today.replace(day=1), 1 - WINDOW_MONTHS)


# The days the given range touches, counted again from the readings (one range of the
# meter's (meter, start) index); a day whose count did not change is left alone.
_DAYS_RECOUNT_SQL = f"""
    INSERT INTO {DAYS} AS counted (meter_id, day, half_hours)
    SELECT %(meter)s, (start AT TIME ZONE 'UTC')::date, count(*)
    FROM {READINGS}
    WHERE meter_id = %(meter)s AND start >= %(since)s AND start < %(until)s
    GROUP BY 2
    ON CONFLICT (meter_id, day) DO UPDATE SET half_hours = EXCLUDED.half_hours
    WHERE counted.half_hours <> EXCLUDED.half_hours
"""


def meter_days_recount(*, meter: Meter, first: datetime, last: datetime) -> None:
    """Count again the meter's half-hours on each UTC day from `first` to `last`; in the
    caller's transaction, which holds the meter's lock."""
    since = datetime.combine(first.astimezone(UTC).date(), datetime.min.time(), UTC)
    until = datetime.combine(last.astimezone(UTC).date(), datetime.min.time(), UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            _DAYS_RECOUNT_SQL, {"meter": meter.pk, "since": since, "until": until + timedelta(1)}
        )


# Every meter's (or the given ones') share of the half-hours expected that arrived, from the
# day counts: the first reading of the window is looked up in its day, the latest is on the
# meter. Meters with no reading in the window are not measured (NULL).
_MEASURE_SQL = f"""
    WITH received AS (
        SELECT meter_id, min(day) AS first_day, sum(half_hours) AS half_hours
        FROM {DAYS}
        WHERE day >= %(since)s AND (%(meters)s::bigint[] IS NULL OR meter_id = ANY(%(meters)s))
        GROUP BY meter_id
    ), expected AS (
        SELECT received.meter_id, received.half_hours,
            floor(extract(epoch FROM meter.latest_reading_start - (
                SELECT min(reading.start) FROM {READINGS} reading
                WHERE reading.meter_id = received.meter_id
                    AND reading.start >= received.first_day::timestamp AT TIME ZONE 'UTC'
                    AND reading.start < (received.first_day + 1)::timestamp AT TIME ZONE 'UTC'
            )) / 1800)::bigint + 1 AS half_hours_expected
        FROM received JOIN {METERS} meter ON meter.id = received.meter_id
        WHERE meter.latest_reading_start IS NOT NULL
    ), measured AS (
        SELECT meter_id, greatest(half_hours_expected - half_hours, 0) AS missing,
            round(100.0 * least(half_hours, half_hours_expected)
                / greatest(half_hours_expected, 1), 2) AS percent
        FROM expected
    ), updated AS (
        UPDATE {METERS} meter SET half_hours_missing = missing, completeness = percent
        FROM measured
        WHERE meter.id = measured.meter_id
            AND (meter.half_hours_missing, meter.completeness) IS DISTINCT FROM (missing, percent)
        RETURNING meter.id
    ), forgotten AS (
        UPDATE {METERS} meter SET half_hours_missing = NULL, completeness = NULL
        WHERE meter.completeness IS NOT NULL
            AND (%(meters)s::bigint[] IS NULL OR meter.id = ANY(%(meters)s))
            AND NOT EXISTS (SELECT 1 FROM received WHERE received.meter_id = meter.id)
        RETURNING meter.id
    )
    SELECT (SELECT count(*) FROM measured), (SELECT count(*) FROM forgotten)
"""


def completeness_measure(*, meters: list[Meter] | None = None, today: date | None = None) -> int:
    """Work out the completeness of these meters (all, when not given) over the window;
    returns how many have one. One statement: the nightly run over every meter reads the
    day counts, a few hundred per meter."""
    ids = None if meters is None else [meter.pk for meter in meters]
    with connection.cursor() as cursor:
        cursor.execute(_MEASURE_SQL, {"since": window_start(today=today), "meters": ids})
        measured, _ = cursor.fetchone()
    return measured


@dataclass(frozen=True)
class Gap:
    """Half-hours with no reading: from `start` (the first missing) up to `end` (excluded)."""

    start: datetime
    end: datetime

    @property
    def half_hours(self) -> int:
        return (self.end - self.start) // HALF_HOUR


_GAPS_SQL = f"""
    SELECT start + interval '30 minutes', following
    FROM (
        SELECT start, lead(start) OVER (ORDER BY start) AS following
        FROM {READINGS}
        WHERE meter_id = %(meter)s AND start >= %(since)s
    ) AS consecutive
    WHERE following - start > interval '30 minutes'
    ORDER BY start
"""


def meter_gaps(*, meter: Meter, today: date | None = None) -> list[Gap]:
    """The meter's gaps in the window, oldest first: each pair of consecutive readings more
    than half an hour apart. One pass over the meter's range of the (meter, start) index."""
    since = datetime.combine(window_start(today=today), datetime.min.time(), UTC)
    with connection.cursor() as cursor:
        cursor.execute(_GAPS_SQL, {"meter": meter.pk, "since": since})
        return [Gap(start, end) for start, end in cursor.fetchall()]


def meter_days_rebuild() -> int:
    """Count every meter's half-hours per UTC day again from all the readings; returns how
    many days are counted. One pass over the whole table: for demo data and repairs."""
    with connection.cursor() as cursor:
        # TRUNCATE refuses to run while foreign-key checks of the caller's transaction wait.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {DAYS}")
        cursor.execute(
            f"INSERT INTO {DAYS} (meter_id, day, half_hours) "
            f"SELECT meter_id, (start AT TIME ZONE 'UTC')::date, count(*) FROM {READINGS} "
            "GROUP BY 1, 2"
        )
        return cursor.rowcount
