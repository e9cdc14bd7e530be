"""How PostgreSQL is made to load millions of rows fast, and left in good shape after: the
session's settings, the indexes and foreign keys set aside during a large load, fresh
statistics at the end."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from django.db import connection

# From this many rows to add, a table's indexes and foreign keys are set aside during the
# load and rebuilt after it (see indexes_and_foreign_keys_set_aside).
BULK_LOAD_ROWS = 200_000

# This connection's settings while it loads, put back after.
_LOADING_SETTINGS = {
    # Nothing is lost by a crash that a rerun would not redo: no need to wait for each commit
    # to reach the disk.
    "synchronous_commit": "off",
    "work_mem": "'64MB'",
    # The generators' row estimates are huge, so PostgreSQL would spend seconds per batch
    # compiling them (JIT) to save less than that.
    "jit": "off",
}

_LOADED_TABLES = [
    "events_delivery",
    "events_deliveryreceipt",
    "events_deliveryattempt",
    "meters_intervalreading",
]


@contextmanager
def loading_session() -> Iterator[None]:
    with connection.cursor() as cursor:
        for name, value in _LOADING_SETTINGS.items():
            cursor.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name in _LOADING_SETTINGS:
                cursor.execute(f"RESET {name}")


def step_run_on_own_connection(*, step: Callable[[], dict[str, int]]) -> dict[str, int]:
    """Run a step in this thread, whose connection Django opens for it; closed after."""
    try:
        with loading_session():
            return step()
    finally:
        connection.close()


def tables_load(
    *, cursor, tables: list[str], rows: int, say: Callable[[str], None]
) -> AbstractContextManager[None]:
    """Where `rows` rows are to be added to the tables: from BULK_LOAD_ROWS, their indexes
    and foreign keys are set aside for the load."""
    if rows < BULK_LOAD_ROWS:
        return nullcontext()
    say(f"  {', '.join(tables)}: locked, indexes and foreign keys rebuilt after the load")
    return indexes_and_foreign_keys_set_aside(cursor=cursor, tables=tables)


@contextmanager
def indexes_and_foreign_keys_set_aside(*, cursor, tables: list[str]) -> Iterator[None]:
    """Drop the tables' foreign keys and the indexes that no constraint owns, and restore
    them afterwards.

    Rows added meter by meter land all over an index on `start`, and each row's foreign key
    is checked with a lookup of its own; an index built afterwards is one sort, a key added
    afterwards one join. It runs in the caller's transaction, so a failure brings everything
    back as it was, and the tables are locked until it commits. The unique constraints stay:
    ON CONFLICT needs them.
    """
    quote = connection.ops.quote_name
    keys, indexes = [], []
    for table in tables:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        keys += [(table, name, definition) for name, definition in cursor.fetchall()]
        cursor.execute(
            "SELECT index.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class index ON index.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY index.relname",
            [table],
        )
        indexes += cursor.fetchall()
    # Foreign key checks still deferred in this transaction (rows added earlier in it) would
    # forbid the ALTERs: run them now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table, name, _ in keys:
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {quote(name)}")
    yield
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        # A partitioned table's index reads "ON ONLY": made so, it would cover no partition.
        cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))
    for table, name, definition in keys:
        cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")


def tables_analyze() -> None:
    """Fresh statistics for the planner (and LargeTablePaginator's estimate), and a
    visibility map, so that counts read the indexes alone."""
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # VACUUM cannot run in a transaction (a test's, say): statistics only.
            cursor.execute("ANALYZE")
            return
        for table in _LOADED_TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute("ANALYZE")
