"""Readings are partitioned by month of `start` (meters/partitions.py): the months ahead made
by a daily job, older ones on demand when a backfill reaches them, none by accident."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from procrastinate.contrib.django import app

from common.admin import estimated_rows
from meters.models import IntervalReading
from meters.partitions import (
    known_months_forget,
    month_of,
    partition_name,
    reading_partitions,
    reading_partitions_ahead,
    reading_partitions_ensure,
)
from meters.readings import readings_upsert
from meters.tasks import create_reading_partitions
from tests.factories import MeterFactory


@pytest.fixture(autouse=True)
def nothing_known_in_advance():
    known_months_forget()
    yield
    known_months_forget()


def months(*pairs: tuple[int, int]) -> set[date]:
    return {date(year, month, 1) for year, month in pairs}


def test_the_months_run_in_utc():
    assert month_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(2026, 3, 1)
    # 00:30 on 1 April in Amsterdam is still March in UTC.
    amsterdam = ZoneInfo("Europe/Amsterdam")
    assert month_of(datetime(2026, 4, 1, 0, 30, tzinfo=amsterdam)) == date(2026, 3, 1)
    assert month_of(datetime(2026, 4, 1, tzinfo=UTC)) == date(2026, 4, 1)


@pytest.mark.django_db
def test_the_job_makes_this_month_and_the_next_three_once(db):
    created = create_reading_partitions.func(
        timestamp=int(datetime(2031, 11, 20, tzinfo=UTC).timestamp())
    )

    assert created == [
        partition_name(month)
        for month in sorted(months((2031, 11), (2031, 12), (2032, 1), (2032, 2)))
    ]
    assert months((2031, 11), (2031, 12), (2032, 1), (2032, 2)) <= set(reading_partitions())
    assert reading_partitions_ahead(today=date(2031, 12, 5)) == [partition_name(date(2032, 3, 1))]
    task = app.tasks["meters.create_reading_partitions"]
    assert (task.queue, task.queueing_lock) == ("maintenance", "create_reading_partitions")


@pytest.mark.django_db
def test_the_migration_made_this_month_and_three_ahead(db):
    this_month = month_of(datetime.now(UTC))

    assert this_month in reading_partitions()
    assert reading_partitions_ahead() == []


@pytest.mark.django_db
def test_a_backfill_reaching_older_months_makes_their_partitions(db):
    meter = MeterFactory()
    first = datetime(2015, 1, 31, 23, 0, tzinfo=UTC)
    readings = [(first + timedelta(days=30 * n), Decimal("0.5")) for n in range(14)]

    assert readings_upsert(meter=meter, readings=readings) == 14

    # January 2015 to March 2016, each month between included.
    made = {month for month in reading_partitions() if month.year in (2015, 2016)}
    assert made == {date(2015, m, 1) for m in range(1, 13)} | months((2016, 1), (2016, 2))
    assert IntervalReading.objects.filter(meter=meter).count() == 14
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {partition_name(date(2015, 1, 1))} WHERE meter_id = %s",
            [meter.pk],
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
def test_a_month_without_partition_is_refused_not_parked_elsewhere(db):
    meter = MeterFactory()

    with pytest.raises(IntegrityError, match="no partition"), transaction.atomic():
        IntervalReading.objects.create(
            meter=meter, start=datetime(2009, 6, 1, tzinfo=UTC), consumption_kwh=1
        )


@pytest.mark.django_db(transaction=True)
def test_a_month_known_to_this_process_costs_no_query(db, django_assert_num_queries):
    start = datetime(2014, 5, 1, tzinfo=UTC)
    assert reading_partitions_ensure(starts=[start]) == [partition_name(date(2014, 5, 1))]

    with django_assert_num_queries(0):
        assert reading_partitions_ensure(starts=[start, start + timedelta(days=3)]) == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_reaching_one_new_month_make_it_once(db):
    start = datetime(2013, 8, 14, tzinfo=UTC)
    barrier, made, errors = threading.Barrier(2), [], []

    def reach():
        try:
            barrier.wait()
            made.extend(reading_partitions_ensure(starts=[start]))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=reach) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert made == [partition_name(date(2013, 8, 1))]


@pytest.mark.django_db(transaction=True)
def test_the_changelist_estimate_adds_up_the_partitions(db):
    meter = MeterFactory()
    starts = [datetime(2012, 1, 1, tzinfo=UTC), datetime(2012, 2, 1, tzinfo=UTC)]
    readings_upsert(meter=meter, readings=[(s, Decimal(1)) for s in starts])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {IntervalReading._meta.db_table}")

    assert estimated_rows(IntervalReading._meta.db_table) == 2


@pytest.mark.django_db
def test_making_a_partition_in_a_transaction_leaves_its_lock_timeout_as_it_was(db):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '42s'")
        assert reading_partitions_ensure(starts=[datetime(2011, 3, 1, tzinfo=UTC)]) != []
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "42s"
