"""Writes on the mirror: Openvolt's customers, meters, readings, users and key rotations, and
Nectar's utility bills.

Every upsert takes the platform's own timestamp of the object (`platform_updated_at`): news
older than what is mirrored is dropped, so events may arrive in any order.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.db import connection, models, transaction
from django.utils import timezone

from meters.models import (
    ApiKeyRotation,
    BillLineItem,
    BillMeterUsage,
    Customer,
    IntervalReading,
    Meter,
    PlatformUser,
    ReadingsReceivedDaily,
    UtilityBill,
)


def lock_objects(*keys: str) -> None:
    """Hold PostgreSQL advisory locks on these keys until the transaction ends.

    Two jobs touching one meter or consent serialise here, whatever else they touch; the keys
    are taken in sorted order so that two jobs can never wait on each other.
    """
    with connection.cursor() as cursor:
        for key in sorted(set(keys)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def is_stale(stored: datetime | None, incoming: datetime | None) -> bool:
    """Whether news dated `incoming` is older than the mirrored version dated `stored`."""
    return bool(stored and incoming and incoming < stored)


def mirror_upsert(
    model: type[models.Model],
    *,
    external_id: str,
    values: dict[str, Any],
    platform_updated_at: datetime | None,
) -> tuple[Any, bool]:
    """Create or update one mirrored object unless what is stored is newer.

    Returns the object and whether it changed. An undated event is applied, but the mirror
    keeps the version it knew, so that older news arriving later is still recognised.
    """
    values = {**values, "platform_updated_at": platform_updated_at}
    obj, created = model.objects.select_for_update().get_or_create(
        external_id=external_id, defaults=values
    )
    if created:
        return obj, True
    stored = obj.platform_updated_at
    if is_stale(stored, platform_updated_at):
        return obj, False
    values["platform_updated_at"] = platform_updated_at or stored
    for field, value in values.items():
        setattr(obj, field, value)
    obj.save()
    return obj, True


def customer_upsert(
    *,
    external_id: str,
    account_id: str = "",
    name: str = "",
    email: str = "",
    address: str = "",
    logo_url: str = "",
    created_on_platform: datetime | None = None,
    platform_updated_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> Customer:
    customer, _ = mirror_upsert(
        Customer,
        external_id=external_id,
        platform_updated_at=platform_updated_at,
        values={
            "account_id": account_id,
            "name": name,
            "email": email,
            "address": address,
            "logo_url": logo_url,
            "created_on_platform": created_on_platform,
            "raw": raw or {},
        },
    )
    return customer


def meter_upsert(
    *,
    external_id: str,
    meter_number: str,
    customer: Customer | None,
    account_id: str = "",
    enabled: bool = True,
    valid: bool | None = None,
    status: str = "",
    data_source: str = "",
    update_frequency: str = "",
    validity_state: dict[str, Any] | None = None,
    created_on_platform: datetime | None = None,
    platform_updated_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> Meter:
    meter, _ = mirror_upsert(
        Meter,
        external_id=external_id,
        platform_updated_at=platform_updated_at,
        values={
            "meter_number": meter_number,
            "customer": customer,
            "account_id": account_id,
            "enabled": enabled,
            "valid": valid,
            "status": status,
            "data_source": data_source,
            "update_frequency": update_frequency,
            "validity_state": validity_state or {},
            "created_on_platform": created_on_platform,
            "raw": raw or {},
        },
    )
    return meter


def platform_user_upsert(
    *,
    external_id: str,
    account_id: str = "",
    name: str = "",
    email: str = "",
    created_on_platform: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> PlatformUser:
    user, _ = PlatformUser.objects.update_or_create(
        external_id=external_id,
        defaults={
            "account_id": account_id,
            "name": name,
            "email": email,
            "created_on_platform": created_on_platform,
            "raw": raw or {},
        },
    )
    return user


# The readings travel as two arrays, bound server-side in binary (%b): for a 13-month backfill
# (19,000 readings) this is 3.5 to 10 times faster than bulk_create, whose model instances and
# text literals (timestamps the server must parse) cost more than the inserts themselves.
# tests/perf/backfill.py measures it, and the alternatives, against COPY.
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
    """
    readings = list(readings)
    if not readings:
        return 0
    starts = [start for start, _ in readings]
    values = [kwh for _, kwh in readings]
    # A psycopg cursor of our own, because Django's binds client-side (text literals). It is
    # on Django's connection, hence in the caller's transaction. prepare=False: no prepared
    # statement that a transaction-mode pooler could route to another server connection.
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            _READINGS_UPSERT_SQL, [meter.pk, timezone.now(), starts, values], prepare=False
        )
    newest = max(starts)
    if meter.latest_reading_start is None or newest > meter.latest_reading_start:
        Meter.objects.filter(pk=meter.pk).update(latest_reading_start=newest)
        meter.latest_reading_start = newest
    readings_received_count(meter=meter, count=len(readings))
    return len(readings)


def api_key_rotation_record(
    *,
    account_id: str,
    account_name: str = "",
    account_email: str = "",
    key_last_four: str = "",
    readonly: bool | None = None,
    rotated_at: datetime,
) -> tuple[ApiKeyRotation, bool]:
    """Record a key rotation once, however often it is delivered; returns (it, created)."""
    return ApiKeyRotation.objects.get_or_create(
        account_id=account_id,
        rotated_at=rotated_at,
        defaults={
            "account_name": account_name,
            "account_email": account_email,
            "key_last_four": key_last_four,
            "readonly": readonly,
        },
    )


def utility_bill_upsert(
    *,
    external_id: str,
    values: dict[str, Any],
    line_items: list[dict[str, Any]],
    meter_usages: list[dict[str, Any]],
    platform_updated_at: datetime | None,
) -> tuple[UtilityBill, bool]:
    """Mirror a Nectar document with its line items and meter usage; returns (bill, changed).

    An update older than the mirrored one changes nothing. Line items and usage records are
    replaced as a whole: Nectar sends the complete document each time.
    """
    bill = UtilityBill.objects.select_for_update().filter(external_id=external_id).first()
    if bill and is_stale(bill.platform_updated_at, platform_updated_at):
        return bill, False
    # An undated event is applied, but the mirror keeps the version it knew (as mirror_upsert).
    if bill and not platform_updated_at:
        platform_updated_at = bill.platform_updated_at
    values = {**values, "platform_updated_at": platform_updated_at}
    starts = [u["start_date"] for u in meter_usages if u.get("start_date")]
    ends = [u["end_date"] for u in meter_usages if u.get("end_date")]
    values["period_start"] = min(starts, default=None)
    values["period_end"] = max(ends, default=None)
    if bill is None:
        bill = UtilityBill.objects.create(external_id=external_id, **values)
    else:
        for field, value in values.items():
            setattr(bill, field, value)
        bill.save()
        bill.line_items.all().delete()
        bill.meter_usages.all().delete()
    BillLineItem.objects.bulk_create(
        BillLineItem(bill=bill, position=position, **item)
        for position, item in enumerate(line_items, start=1)
    )
    BillMeterUsage.objects.bulk_create(BillMeterUsage(bill=bill, **usage) for usage in meter_usages)
    return bill, True


def utility_bill_mark_deleted(
    *, external_id: str, deleted_at: datetime, values: dict[str, Any]
) -> UtilityBill:
    """Mark a Nectar document deleted, keeping what is known of it.

    A deletion that arrives before the document itself leaves a record, so that the late
    creation (older than the deletion) cannot bring it back: it fills the record in, and the
    bill stays deleted. `platform_updated_at` stays that of the version whose values the bill
    holds: the deletion's values are not applied, so it must not make a newer version look old.
    """
    bill, _ = UtilityBill.objects.select_for_update().get_or_create(
        external_id=external_id, defaults=values
    )
    if bill.deleted_at is None or deleted_at < bill.deleted_at:
        bill.deleted_at = deleted_at
    bill.save(update_fields=["deleted_at", "mirrored_at"])
    return bill


# Added to, never read and rewritten: concurrent jobs cannot lose each other's counts.
_READINGS_RECEIVED_SQL = f"""
    INSERT INTO {ReadingsReceivedDaily._meta.db_table} AS tally (day, slot, count)
    VALUES (%s, %s, %s)
    ON CONFLICT (day, slot) DO UPDATE SET count = tally.count + EXCLUDED.count
"""


def readings_received_count(*, meter: Meter, count: int) -> None:
    """Add `count` readings of the meter, received now, to today's tally for the dashboard.

    In the caller's transaction: the readings are counted if, and only if, they are stored.
    """
    if count <= 0:
        return
    slot = meter.pk % ReadingsReceivedDaily.SLOTS
    with connection.cursor() as cursor:
        cursor.execute(_READINGS_RECEIVED_SQL, [timezone.localdate(), slot, count])


def readings_received_daily_rebuild(*, first_day: date, last_day: date) -> int:
    """Rebuild the tallies of these days (both included) from the readings stored, each on the
    day its value arrived (`fetched_at`); returns the readings counted.

    A re-fetch that changed nothing left no trace, so it is not counted here as it was live.
    `fetched_at` has no index: this reads the whole table once. For demo data and repairs.
    """
    zone = timezone.get_current_timezone()
    since = datetime.combine(first_day, time.min, tzinfo=zone)
    until = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)
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
