"""A worker killed in the middle of a job: the job is not lost.

Real workers run as subprocesses (`manage.py procrastinate worker`) against the test
database. The first is killed while Openvolt's API holds its interval-data request; once its
heartbeat is older than WORKER_STALLED_AFTER_SECONDS, events.tasks.recover_stalled_jobs puts
the job back in the queue, and a second worker processes it.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import connection, connections
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import Delivery, DeliveryAttempt
from events.tasks import recover_stalled_jobs
from meters.models import IntervalReading
from tests.openvolt.conftest import METER_A, load_event, receive, wait_for

pytestmark = [pytest.mark.usefixtures("live_database"), pytest.mark.live]

WORKER_COMMAND = [sys.executable, "manage.py", "procrastinate", "worker", "--queues", "deliveries"]
STALLED_AFTER = 2  # seconds without a heartbeat before a worker is taken for dead
STARTUP_TIMEOUT = 60  # a worker starts Django and connects: slow on a busy machine
TIMEOUT = 30


def worker_database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    # The embedded server's socket folder comes in OPTIONS (from the URL's ?host=).
    host = db["HOST"] or db["OPTIONS"].get("host") or "127.0.0.1"
    if host.startswith("/"):
        # A Unix socket (the embedded server): its folder goes in the query string.
        return f"postgres://{credentials}@/{db['NAME']}?host={quote(host, safe='/')}"
    return f"postgres://{credentials}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`manage.py procrastinate worker` on the deliveries queue, logging to a file."""

    def __init__(self, name: str, log_dir, openvolt_api):
        self.log_path = log_dir / f"{name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "SECRET_KEY": "test-only-not-secret",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "OPENVOLT_API_URL": openvolt_api.url,
            "OPENVOLT_API_KEY": openvolt_api.api_key,
            "WORKER_STALLED_AFTER_SECONDS": str(STALLED_AFTER),
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*WORKER_COMMAND, "--name", name],
                cwd=django_settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()


def recover() -> int:
    """Run the periodic task once, here, as a worker's periodic run would."""

    async def run():
        try:
            return await recover_stalled_jobs(timestamp=int(time.time()))
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(run())


def job_of(delivery) -> ProcrastinateJob:
    return ProcrastinateJob.objects.get(
        task_name="events.process_delivery", args__delivery_id=delivery.pk
    )


def test_job_of_a_killed_worker_is_recovered_and_processed(
    api_client, openvolt_endpoint, openvolt_api, settings, tmp_path
):
    settings.WORKER_STALLED_AFTER_SECONDS = STALLED_AFTER
    item = {
        "meter_id": METER_A,
        "start_interval": "2024-04-27T00:00:00.000Z",
        "end_interval": "2024-04-27T12:00:00.000Z",
    }
    delivery = receive(
        api_client, openvolt_endpoint, load_event("meter_data.received", payload=[item])
    )
    openvolt_api.hang("/interval-data")

    first = Worker("worker-1", tmp_path, openvolt_api)
    try:
        wait_for(
            lambda: openvolt_api.hanging.is_set() or first.process.poll() is not None,
            timeout=STARTUP_TIMEOUT,
            what=lambda: f"worker-1 to call the API:\n{first.log()}",
            every=0.1,
        )
        assert openvolt_api.hanging.is_set(), f"worker-1 exited:\n{first.log()}"
        assert job_of(delivery).status == "doing"
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PROCESSING
        first.kill()
    finally:
        if first.process.poll() is None:
            first.kill()
    openvolt_api.release()  # the held request now answers no one

    # Found once the dead worker's last heartbeat is older than WORKER_STALLED_AFTER_SECONDS.
    assert wait_for(recover, timeout=TIMEOUT, what="the stalled job to be recovered") == 1
    assert job_of(delivery).status == "todo"

    second = Worker("worker-2", tmp_path, openvolt_api)
    try:
        wait_for(
            lambda: Delivery.objects.filter(pk=delivery.pk, status="processed").exists(),
            timeout=STARTUP_TIMEOUT,
            what=lambda: f"the second worker to process the delivery:\n{second.log()}",
            every=0.2,
        )
    finally:
        second.stop()

    delivery.refresh_from_db()
    assert delivery.attempt_count == 2
    interrupted, finished = delivery.attempts.order_by("started_at")
    assert interrupted.result == DeliveryAttempt.Result.FAILED
    assert interrupted.error == "The worker stopped during this attempt (killed or restarted)."
    assert interrupted.finished_at is not None
    assert finished.result == DeliveryAttempt.Result.PROCESSED
    assert IntervalReading.objects.filter(meter__external_id=METER_A).count() == 24
    assert job_of(delivery).status == "succeeded"
    assert len(openvolt_api.requests_to("/interval-data")) == 2
