"""A cursor whose statements PostgreSQL plans once per connection and then only runs.

Django binds parameters in the client and never prepares (its connections could sit behind a
transaction-mode pooler): each execution of a statement is parsed and planned anew. For the
few statements run thousands of times a minute (a delivery's arrival), this cursor binds on
the server, in binary where it can, and prepares the statement on its first run on each
connection (psycopg keeps the names). It is Django's connection, so the statement is in the
caller's transaction; wrapped as Django wraps its own, so that errors are Django's and the
statement is in the query log like any other.

Prepared statements need each connection to stay with one server session: PgBouncer in session
mode, or in transaction mode from 1.21 with `max_prepared_statements` set.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection


class _PreparingCursor(psycopg.Cursor):
    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


@contextmanager
def prepared_cursor() -> Iterator:
    """A cursor (Django's wrapper) on Django's connection that prepares what it executes."""
    connection.ensure_connection()
    raw = _PreparingCursor(connection.connection)
    logged = connection.queries_logged
    wrapped = connection.make_debug_cursor(raw) if logged else connection.make_cursor(raw)
    with wrapped as cursor:
        yield cursor
