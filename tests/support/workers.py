"""procrastinate's workers, as the tests play them: due jobs run here, heartbeats recorded."""

from django.db import connection
from procrastinate.contrib.django import app


def run_worker(*queues: str) -> None:
    """Run the jobs of these queues that are due, as `manage.py procrastinate worker` would,
    then return."""
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(
            wait=False, queues=list(queues), install_signal_handlers=False, listen_notify=False
        )


def heartbeat(*, seconds_ago: float = 0) -> None:
    """A worker registered in procrastinate's table, last heard `seconds_ago`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (clock_timestamp() - make_interval(secs => %s))",
            [seconds_ago],
        )
