"""Migration meters.0004 turns a table of readings into one partitioned by month without losing
or changing a row, ids and their sequence included; its reversal puts them back in one table.
The database is migrated back to the latest state after each test, whatever happened in it."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from meters.partitions import known_months_forget, month_of, reading_partitions

BEFORE = [("meters", "0003_drop_redundant_fk_index")]
PARTITIONED = [("meters", "0004_readings_partitioned_by_month")]
ROWS = "SELECT id, meter_id, start, consumption_kwh, fetched_at FROM meters_intervalreading"


@pytest.fixture
def migrate_to(transactional_db):
    def migrate(targets):
        known_months_forget()
        MigrationExecutor(connection).migrate(targets)

    yield migrate
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    known_months_forget()


def sql(statement: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def is_partitioned() -> bool:
    return sql("SELECT relkind FROM pg_class WHERE oid = 'meters_intervalreading'::regclass") == [
        ("p",)
    ]


@pytest.fixture
def seeded(migrate_to):
    """Three meters with readings from November 2019 to February 2020, one reading this
    month, and some ids used up by readings since deleted, stored before the migration."""
    migrate_to(BEFORE)
    assert not is_partitioned()
    meters = [
        sql(
            "INSERT INTO meters_meter (external_id, meter_number, account_id, enabled, status, "
            "data_source, update_frequency, validity_state, raw, mirrored_at) "
            "VALUES (%s, %s, '', true, '', '', '', '{}', '{}', now()) RETURNING id",
            [f"m-{n}", f"120000000000{n}"],
        )[0][0]
        for n in range(3)
    ]
    for meter in meters:
        sql(
            "INSERT INTO meters_intervalreading (meter_id, start, consumption_kwh, fetched_at) "
            "SELECT %s, s, round(random()::numeric, 6), s + interval '1 day' FROM generate_series("
            "'2019-11-15 00:00+00'::timestamptz, '2020-02-10 23:30+00', interval '30 minutes') s",
            [meter],
        )
    sql(
        "INSERT INTO meters_intervalreading (meter_id, start, consumption_kwh, fetched_at) "
        "VALUES (%s, date_trunc('hour', now()), 1.25, now())",
        [meters[0]],
    )
    sql(
        "DELETE FROM meters_intervalreading WHERE id IN (SELECT max(id) - 1 FROM "
        "meters_intervalreading)"
    )
    return sorted(sql(ROWS))


def test_every_reading_moves_into_the_partition_of_its_month(migrate_to, seeded):
    migrate_to(PARTITIONED)

    assert is_partitioned()
    assert sorted(sql(ROWS)) == seeded
    this_month = month_of(datetime.now(UTC))
    partitions = set(reading_partitions())
    assert {date(2019, 11, 1), date(2019, 12, 1), date(2020, 1, 1), date(2020, 2, 1)} <= partitions
    assert this_month in partitions
    # Every month between the oldest reading and three months ahead, none missing.
    assert len(partitions) == len({m for m in partitions if m >= date(2019, 11, 1)})
    by_partition = sql(
        "SELECT tableoid::regclass::text, count(*) FROM meters_intervalreading GROUP BY 1"
    )
    assert dict(by_partition)["meters_intervalreading_y2019m11"] == 3 * 16 * 48


def test_the_ids_go_on_from_where_they_were(migrate_to, seeded):
    last_id = max(row[0] for row in seeded)

    migrate_to(PARTITIONED)
    fresh_id = sql(
        "INSERT INTO meters_intervalreading (meter_id, start, consumption_kwh, fetched_at) "
        "VALUES (%s, '2019-12-31 12:15+00', 3, now()) RETURNING id",
        [seeded[0][1]],
    )[0][0]
    again_id = sql(
        "INSERT INTO meters_intervalreading (meter_id, start, consumption_kwh, fetched_at) "
        "VALUES (%s, '2020-01-01 12:00+00', 3, now()) "
        "ON CONFLICT (meter_id, start) DO UPDATE SET consumption_kwh = 3 RETURNING id",
        [seeded[0][1]],
    )[0][0]

    assert fresh_id == last_id + 1
    # The (meter, start) constraint still holds: this was an update, not a second row.
    assert again_id < last_id


def test_reversed_the_readings_are_one_table_again(migrate_to, seeded):
    migrate_to(PARTITIONED)

    migrate_to(BEFORE)

    assert not is_partitioned()
    assert sorted(sql(ROWS)) == seeded
    assert sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'reading_start'") == [
        ("CREATE INDEX reading_start ON public.meters_intervalreading USING btree (start DESC)",)
    ]
