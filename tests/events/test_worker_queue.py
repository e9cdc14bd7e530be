"""How the worker talks to procrastinate's queue: its connections in autocommit, checked by a
round trip only when not lent a moment ago (Django's too, before a task), a job fetch planned
without sorting the queue (common/migrations/0001_job_fetch_plan.py), and the jobs its tasks
queue written in the tasks' own transactions."""

import asyncio
import re
import time
from weakref import WeakKeyDictionary

import psycopg
import pytest
from django.db import connection, transaction
from procrastinate.contrib.django import app
from procrastinate.contrib.django.utils import connector_params
from procrastinate.sql import queries
from psycopg_pool import AsyncConnectionPool

from events import worker_connector
from events.tasks import delivery_run_queue
from events.worker_connector import RecentlyUsedCheck, django_connection_recently_used
from tests.support.jobs import delete_all_jobs, jobs_for

pytestmark = pytest.mark.django_db


def test_the_fetch_the_worker_calls_is_planned_without_sorting():
    function = re.search(r"FROM (procrastinate_fetch_job_v\d+)\(", queries["fetch_job"])[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT proconfig FROM pg_proc WHERE proname = %s", [function])
        assert cursor.fetchall() == [(["enable_sort=off"],)]


def test_the_workers_connections_are_in_autocommit():
    async def autocommit() -> bool:
        connector = app.connector.get_worker_connector()
        await connector.open_async()
        try:
            async with connector.pool.connection() as pooled:
                return pooled.autocommit
        finally:
            await connector.close_async()

    assert asyncio.run(autocommit()) is True


class RolledBack(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_job_queued_by_a_task_that_rolls_back_is_never_queued():
    """As the worker runs a task: the app's connector replaced by the worker's."""
    with app.replace_connector(app.connector.get_worker_connector()):
        with pytest.raises(RolledBack), transaction.atomic():
            delivery_run_queue(delivery_id=7)
            assert jobs_for(7).count() == 1  # seen in the task's own transaction
            raise RolledBack
        delivery_run_queue(delivery_id=8)

    try:
        assert jobs_for(7).count() == 0
        assert jobs_for(8).count() == 1
    finally:
        delete_all_jobs()


async def _lend(connector, times: int) -> None:
    for _ in range(times):
        async with connector.pool.connection() as pooled:
            await pooled.execute("SELECT 1")


def test_the_pool_checks_a_connection_by_a_round_trip_only_when_not_lent_a_moment_ago(
    monkeypatch,
):
    checks = count_checks(monkeypatch)

    async def lend_each_connection_three_times() -> int:
        connector = app.connector.get_worker_connector()
        await connector.open_async()
        try:
            size = connector.pool.get_stats()["pool_size"]
            await _lend(connector, 3 * size)
            assert checks == [size]  # each once, when first lent
            monkeypatch.setattr(worker_connector, "RECENT_SECONDS", 0)
            await _lend(connector, size)
            return size
        finally:
            await connector.close_async()

    size = asyncio.run(lend_each_connection_three_times())

    assert checks == [2 * size]


def test_a_connection_the_server_closed_fails_its_check_however_recently_lent(monkeypatch):
    checks = count_checks(monkeypatch)

    async def check_after_termination() -> None:
        params = connector_params("default")
        pooled = await psycopg.AsyncConnection.connect(**params, autocommit=True)
        try:
            check = RecentlyUsedCheck()
            await check(pooled)
            await check(pooled)
            assert checks == [1]
            async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s)", [pooled.info.backend_pid])
            # The server says why it closes the connection before it does.
            deadline = time.monotonic() + 10
            while worker_connector._quiet(pooled) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            with pytest.raises(psycopg.OperationalError):
                await check(pooled)
        finally:
            await pooled.close()

    asyncio.run(check_after_termination())

    assert checks == [2]


def count_checks(monkeypatch) -> list[int]:
    """psycopg_pool's check by a round trip, counted: [how many times it ran]."""
    checks = [0]
    original = AsyncConnectionPool.check_connection

    async def counted(pooled):
        checks[0] += 1
        await original(pooled)

    monkeypatch.setattr(worker_connector.AsyncConnectionPool, "check_connection", counted)
    return checks


def test_the_workers_tasks_skip_djangos_check_of_a_connection_that_just_ran_one(monkeypatch):
    """As procrastinate's middleware leaves Django's connection before each task: its check
    pending. Django's own middleware runs first, the project's last."""
    assert app.worker_defaults["task_middleware"][-1] is django_connection_recently_used
    monkeypatch.setattr(worker_connector, "_task_ended_at", WeakKeyDictionary())
    connection.ensure_connection()
    ran = []

    def task_after_cleanup() -> bool:
        connection.health_check_done = False
        django_connection_recently_used(lambda: ran.append(1), None, None)
        return connection.health_check_done

    # A connection that has not run a task: checked.
    assert task_after_cleanup() is False
    # One that just ran one, with nothing received since: trusted.
    assert task_after_cleanup() is True
    # One that ran one too long ago: checked.
    monkeypatch.setattr(worker_connector, "RECENT_SECONDS", 0)
    assert task_after_cleanup() is False
    assert len(ran) == 3
    connection.health_check_done = True
