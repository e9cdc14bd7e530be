"""The other ways weighed for meters.readings.readings_upsert, measured next to it by the
backfill part with --backfill-alternatives: each stores the same rows and moves the meter's
latest_reading_start, in its own way, and takes the same arguments (meter=, readings=).
"""

from collections.abc import Callable

import psycopg


def alternatives() -> dict[str, Callable]:
    """The ways by the names the tables show them under."""
    return {
        "bulk_create (before)": _bulk_create,
        "unnest, text binding": _unnest_text_binding,
        "COPY + temp table": _copy_temporary,
        "UPDATE + INSERT": _update_then_insert,
    }


def _advance_latest(meter, starts) -> None:
    from meters.models import Meter

    newest = max(starts)
    if meter.latest_reading_start is None or newest > meter.latest_reading_start:
        Meter.objects.filter(pk=meter.pk).update(latest_reading_start=newest)
        meter.latest_reading_start = newest


def _bulk_create(*, meter, readings) -> int:
    """readings_upsert before this bench: bulk_create(update_conflicts=True), which Django 5.2
    turns into INSERT … SELECT FROM UNNEST … ON CONFLICT DO UPDATE, bound client-side."""
    from django.utils import timezone

    from meters.models import IntervalReading

    now = timezone.now()
    rows = [
        IntervalReading(meter=meter, start=start, consumption_kwh=kwh, fetched_at=now)
        for start, kwh in readings
    ]
    IntervalReading.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["meter", "start"],
        update_fields=["consumption_kwh", "fetched_at"],
        batch_size=20_000,
    )
    _advance_latest(meter, [row.start for row in rows])
    return len(rows)


def _unnest_text_binding(*, meter, readings) -> int:
    """readings_upsert's statement on Django's cursor: the arrays go as text literals."""
    from django.db import connection
    from django.utils import timezone

    from meters.readings import _READINGS_UPSERT_SQL

    starts = [start for start, _ in readings]
    with connection.cursor() as cursor:
        cursor.execute(
            _READINGS_UPSERT_SQL.replace("%b", "%s"),
            [meter.pk, timezone.now(), starts, [kwh for _, kwh in readings]],
        )
    _advance_latest(meter, starts)
    return len(starts)


def _copy_temporary(*, meter, readings) -> int:
    """COPY (binary) into a temporary table, then INSERT … SELECT … ON CONFLICT from it.

    As fast as readings_upsert here, but three statements, and a table that lives as long as
    the connection, emptied at each of its commits (ON COMMIT DELETE ROWS), whoever commits.
    """
    from django.db import connection
    from django.utils import timezone

    from meters.models import IntervalReading

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_readings "
            "(start timestamptz, kwh numeric) ON COMMIT DELETE ROWS"
        )
        with cursor.cursor.copy("COPY incoming_readings FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["timestamptz", "numeric"])
            for row in readings:
                copy.write_row(row)
        cursor.execute(
            f"""
            INSERT INTO {IntervalReading._meta.db_table} AS stored
                (meter_id, start, consumption_kwh, fetched_at)
            SELECT %s, start, kwh, %s FROM incoming_readings
            ON CONFLICT (meter_id, start) DO UPDATE
            SET consumption_kwh = EXCLUDED.consumption_kwh, fetched_at = EXCLUDED.fetched_at
            WHERE stored.consumption_kwh IS DISTINCT FROM EXCLUDED.consumption_kwh
            """,
            [meter.pk, timezone.now()],
        )
        cursor.execute("TRUNCATE incoming_readings")  # a second call in the transaction
    _advance_latest(meter, [start for start, _ in readings])
    return len(readings)


def _update_then_insert(*, meter, readings) -> int:
    """UPDATE … FROM unnest (no ON CONFLICT path for stored rows), then INSERT … DO NOTHING."""
    from django.db import connection
    from django.utils import timezone

    from meters.models import IntervalReading

    table = IntervalReading._meta.db_table
    starts, now = [start for start, _ in readings], timezone.now()
    arrays = [starts, [kwh for _, kwh in readings]]
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS stored SET consumption_kwh = given.kwh, fetched_at = %b
            FROM unnest(%b::timestamptz[], %b::numeric[]) AS given(start, kwh)
            WHERE stored.meter_id = %b AND stored.start = given.start
            AND stored.consumption_kwh IS DISTINCT FROM given.kwh
            """,
            [now, *arrays, meter.pk],
            prepare=False,
        )
        cursor.execute(
            f"""
            INSERT INTO {table} (meter_id, start, consumption_kwh, fetched_at)
            SELECT %b, given.start, given.kwh, %b
            FROM unnest(%b::timestamptz[], %b::numeric[]) AS given(start, kwh)
            ON CONFLICT (meter_id, start) DO NOTHING
            """,
            [meter.pk, now, *arrays],
            prepare=False,
        )
    _advance_latest(meter, starts)
    return len(starts)
