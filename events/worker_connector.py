"""The connections the worker's procrastinate fetches and finishes jobs on.

`manage.py procrastinate worker` leaves Django's connection to the tasks and opens a pool of
its own, with Django's connection settings (the Django connector's get_worker_connector). Left
as psycopg opens them, those connections are not in autocommit: each of procrastinate's calls
(fetch a job, finish one, a single statement each) would cost three round trips, BEGIN, the
statement and COMMIT. In autocommit, as Django's own connections are, it costs one.

settings.PROCRASTINATE_ON_APP_READY names `app_ready`.
"""

from typing import Any

from procrastinate import App, PsycopgConnector
from procrastinate.contrib.django.utils import connector_params


class WorkerConnector(PsycopgConnector):
    """procrastinate's own pool for the worker's fetches and finishes, and Django's connection
    for the jobs a task queues (a retry, a notification, the runs of items).

    Left to the pool, a job queued by a task would commit on a connection of its own, at once,
    even when the task's transaction then rolls back: a notification of nothing, an item's run
    queued before the item exists. On Django's connection it commits with the task's work, or
    not at all, as it does in the web process.
    """

    def __init__(self, *, django_connector, **options):
        super().__init__(**options)
        self._django_connector = django_connector

    def get_sync_connector(self):
        return self._django_connector


def app_ready(app: App) -> None:
    connector = app.connector
    alias = connector.alias

    def worker_connector() -> PsycopgConnector:
        return WorkerConnector(
            django_connector=connector, kwargs=connector_params(alias), configure=_autocommit
        )

    # The worker, and the tests that play it, ask the app's connector for its worker's.
    connector.get_worker_connector = worker_connector


async def _autocommit(connection: Any) -> None:
    await connection.set_autocommit(True)
