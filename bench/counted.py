"""The statements a process sends to PostgreSQL, counted where psycopg sends them: Django's
queries and procrastinate's alike.

    python -m bench.counted COUNTS_FILE procrastinate worker --concurrency 4

runs `manage.py procrastinate worker` with its statements counted, and writes the counts
({"statements": ..., "transactions": ...}) to COUNTS_FILE each time it receives SIGUSR1
(bench.worker asks before and after the jobs, and takes the difference) and when it exits.
A statement is one call of a cursor's execute, executemany or copy; a transaction is one
commit or rollback, each of which also cost a BEGIN when the transaction opened.
"""

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager

import psycopg

# Called with each statement's SQL text (bytes or str; "COMMIT" or "ROLLBACK" for the end of a
# transaction) before it is sent; returns a function called once it has been answered.
Listener = Callable[[object], Callable[[], None]]


class Counts:
    def __init__(self):
        self._lock = threading.Lock()
        self.statements = self.transactions = 0

    def add(self, sql) -> Callable[[], None]:
        with self._lock:
            if sql in ("COMMIT", "ROLLBACK"):
                self.transactions += 1
            else:
                self.statements += 1
        return _nothing

    def as_dict(self) -> dict[str, int]:
        return {"statements": self.statements, "transactions": self.transactions}


def _nothing() -> None:
    pass


@contextmanager
def statements_heard(listener: Listener):
    """Call `listener` around every statement psycopg sends, sync or async, in the block."""
    originals = []

    def patch(owner, name, sql_of, asynchronous):
        original = getattr(owner, name)
        originals.append((owner, name, original))
        if asynchronous:

            async def heard(self, *args, **kwargs):
                sql = sql_of(self, args)
                done = _nothing if sql is None else listener(sql)
                try:
                    return await original(self, *args, **kwargs)
                finally:
                    done()

        else:

            def heard(self, *args, **kwargs):
                sql = sql_of(self, args)
                done = _nothing if sql is None else listener(sql)
                try:
                    return original(self, *args, **kwargs)
                finally:
                    done()

        setattr(owner, name, heard)

    def query(cursor, args):
        return args[0] if args else ""

    def ending(word):
        # Only a transaction that is open costs a round trip to end; procrastinate's
        # connections, in autocommit, are committed when handed back to their pool.
        def sql_of(connection, args):
            idle = connection.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
            return None if idle else word

        return sql_of

    for cursor, asynchronous in ((psycopg.Cursor, False), (psycopg.AsyncCursor, True)):
        for name in ("execute", "executemany"):
            patch(cursor, name, query, asynchronous)
    for connection, asynchronous in ((psycopg.Connection, False), (psycopg.AsyncConnection, True)):
        patch(connection, "commit", ending("COMMIT"), asynchronous)
        patch(connection, "rollback", ending("ROLLBACK"), asynchronous)
    copy = psycopg.Cursor.copy
    originals.append((psycopg.Cursor, "copy", copy))

    @contextmanager
    def heard_copy(self, statement, *args, **kwargs):
        done = listener(statement)
        try:
            with copy(self, statement, *args, **kwargs) as copying:
                yield copying
        finally:
            done()

    psycopg.Cursor.copy = heard_copy
    try:
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def main() -> None:
    counts_file, arguments = sys.argv[1], sys.argv[2:]
    counts = Counts()

    def write(*_):
        temporary = f"{counts_file}.tmp"
        with open(temporary, "w") as file:
            json.dump(counts.as_dict(), file)
        os.replace(temporary, counts_file)

    signal.signal(signal.SIGUSR1, write)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    with statements_heard(counts.add):
        try:
            execute_from_command_line(["manage.py", *arguments])
        finally:
            write()


if __name__ == "__main__":
    main()
