"""How the worker talks to procrastinate's queue: its connections in autocommit, a job
fetch planned without sorting the queue (common/migrations/0001_job_fetch_plan.py), and the
jobs its tasks queue written in the tasks' own transactions."""

import asyncio
import re

import pytest
from django.db import connection, transaction
from procrastinate.contrib.django import app
from procrastinate.sql import queries

from events.tasks import delivery_run_queue
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
