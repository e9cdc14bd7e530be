"""The connections the worker's procrastinate fetches and finishes jobs on.

`manage.py procrastinate worker` leaves Django's connection to the tasks and opens a pool of
its own, with Django's connection settings (the Django connector's get_worker_connector). Left
as psycopg opens them, those connections are not in autocommit: each of procrastinate's calls
(fetch a job, finish one, a single statement each) would cost three round trips, BEGIN, the
statement and COMMIT. In autocommit, as Django's own connections are, it costs one.

The pool checks a connection before lending it, so that one the server closed meanwhile is
replaced rather than failing the call. procrastinate's check is a round trip of its own, two a
job; one lent a moment ago, with nothing arrived from the server since (a server closing a
connection says so first), has just answered, and is lent as it is (RecentlyUsedCheck).

Django's connection, which the tasks use, is checked the same way before each task, as before
each request (CONN_HEALTH_CHECKS): a `SELECT 1`. One that ran the previous task a moment ago,
and has received nothing since, is trusted without it (django_connection_recently_used).

settings.PROCRASTINATE_ON_APP_READY names `app_ready`.
"""

import select
import time
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from procrastinate import App, PsycopgConnector
from procrastinate.contrib.django.utils import connector_params
from psycopg_pool import AsyncConnectionPool

# A connection lent this long ago or more is checked by a round trip before it is lent again.
RECENT_SECONDS = 1.0


class WorkerConnector(PsycopgConnector):
    """procrastinate's own pool for the worker's fetches and finishes, and Django's connection
    for the jobs a task queues (a retry, a notification, the runs of items).

    Left to the pool, a job queued by a task would commit on a connection of its own, at once,
    even when the task's transaction then rolls back: a notification of nothing, an item's run
    queued before the item exists. On Django's connection it commits with the task's work, or
    not at all, as it does in the web process.
    """

    def __init__(self, *, django_connector, **options):
        super().__init__(pool_factory=_pool, **options)
        self._django_connector = django_connector

    def get_sync_connector(self):
        return self._django_connector


def _pool(**options: Any) -> AsyncConnectionPool:
    return AsyncConnectionPool(**{**options, "check": RecentlyUsedCheck()})


class RecentlyUsedCheck:
    """The pool's check of a connection it is about to lend: psycopg_pool's round trip,
    unless the connection was lent less than RECENT_SECONDS ago and nothing has arrived on
    it since."""

    def __init__(self) -> None:
        self._lent_at: WeakKeyDictionary[Any, float] = WeakKeyDictionary()

    async def __call__(self, connection: Any) -> None:
        now = time.monotonic()
        lent_at = self._lent_at.get(connection)
        self._lent_at[connection] = now
        if lent_at is not None and now - lent_at < RECENT_SECONDS and _quiet(connection):
            return
        await AsyncConnectionPool.check_connection(connection)


def _quiet(connection: Any) -> bool:
    """Whether nothing waits to be read on the connection's socket: an idle connection
    receives nothing, unless the server is closing it (or it is closed already)."""
    try:
        readable, _, _ = select.select([connection.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return False
    return not readable


# When each Django connection of the worker's threads last ran a task to its end.
_task_ended_at: WeakKeyDictionary[Any, float] = WeakKeyDictionary()


def django_connection_recently_used(call_next, context, worker):
    """Sync task middleware, inside procrastinate's (which closes an obsolete or broken
    connection before and after each task, and has Django check the next one): spares a
    connection that ran a task less than RECENT_SECONDS ago, and has received nothing since,
    Django's check before the task. Marked checked, as Django marks one that passes."""
    db = connections[DEFAULT_DB_ALIAS]
    pending = db.connection is not None and db.health_check_enabled and not db.health_check_done
    if pending:
        ended_at = _task_ended_at.get(db.connection)
        if ended_at is not None and time.monotonic() - ended_at < RECENT_SECONDS:
            db.health_check_done = _quiet(db.connection)
    try:
        return call_next()
    finally:
        if db.connection is not None:
            _task_ended_at[db.connection] = time.monotonic()


def app_ready(app: App) -> None:
    connector = app.connector
    alias = connector.alias
    # Innermost of the worker's task middleware: procrastinate's own come first.
    defaults = app.worker_defaults
    defaults["task_middleware"] = [
        *defaults.get("task_middleware", []),
        django_connection_recently_used,
    ]

    def worker_connector() -> PsycopgConnector:
        return WorkerConnector(
            django_connector=connector, kwargs=connector_params(alias), configure=_autocommit
        )

    # The worker, and the tests that play it, ask the app's connector for its worker's.
    connector.get_worker_connector = worker_connector


async def _autocommit(connection: Any) -> None:
    await connection.set_autocommit(True)
