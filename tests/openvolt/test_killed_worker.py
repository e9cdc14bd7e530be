"""A worker killed in the middle of an item: only that item runs again, nothing is lost.

Real workers run as subprocesses (`manage.py procrastinate worker`) against the test
database. The first is killed while Openvolt's API holds the interval-data request of the
delivery's second item; once its heartbeat is older than WORKER_STALLED_AFTER_SECONDS,
events.tasks.recover_stalled_jobs puts that item's job back in the queue, and a second
worker runs it and the items after it.
"""

import asyncio
import signal
import subprocess
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import Delivery
from events.tasks import recover_stalled_jobs
from meters.models import IntervalReading
from tests.support.openvolt import METER_A, METER_B, load_event, receive
from tests.support.subprocesses import manage_py, subprocess_env
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.usefixtures("live_database"), pytest.mark.live]

WORKER_ARGUMENTS = ("procrastinate", "worker", "--queues", "deliveries,items", "--concurrency", "1")
STALLED_AFTER = 2  # seconds without a heartbeat before a worker is taken for dead
STARTUP_TIMEOUT = 60  # a worker starts Django and connects: slow on a busy machine
TIMEOUT = 30


class Worker:
    """`manage.py procrastinate worker` on the deliveries queue, logging to a file."""

    def __init__(self, name: str, log_dir, openvolt_api):
        self.log_path = log_dir / f"{name}.log"
        self.process = manage_py(
            *WORKER_ARGUMENTS,
            "--name",
            name,
            env=subprocess_env(openvolt_api, WORKER_STALLED_AFTER_SECONDS=str(STALLED_AFTER)),
            log_path=self.log_path,
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


def jobs_of(delivery) -> list[ProcrastinateJob]:
    """The jobs of the delivery's items, in the order of the items."""
    items = list(delivery.items.order_by("position").values_list("pk", flat=True))
    jobs = {
        job.args["item_id"]: job
        for job in ProcrastinateJob.objects.filter(
            task_name="events.process_item", args__item_id__in=items
        )
    }
    return [jobs[item] for item in items]


def test_a_killed_worker_repeats_only_its_item_in_flight(
    api_client, openvolt_endpoint, openvolt_api, settings, tmp_path
):
    settings.WORKER_STALLED_AFTER_SECONDS = STALLED_AFTER
    day = {"start_interval": "2024-04-27T00:00:00.000Z", "end_interval": "2024-04-28T00:00:00.000Z"}
    payload = [
        {"meter_id": METER_A, **day},
        {"meter_id": METER_B, **day},
        {"meter_id": METER_A, **day},
    ]
    delivery = receive(
        api_client, openvolt_endpoint, load_event("meter_data.received", payload=payload)
    )
    openvolt_api.hang("/interval-data", after=1)  # the first item through, the second held

    first = Worker("worker-1", tmp_path, openvolt_api)
    try:
        wait_for(
            lambda: openvolt_api.hanging.is_set() or first.process.poll() is not None,
            timeout=STARTUP_TIMEOUT,
            what=lambda: f"worker-1 to call the API:\n{first.log()}",
            every=0.1,
        )
        assert openvolt_api.hanging.is_set(), f"worker-1 exited:\n{first.log()}"
        assert [job.status for job in jobs_of(delivery)] == ["succeeded", "doing", "todo"]
        assert IntervalReading.objects.count() == 48  # the first item's, stored already
        first.kill()
    finally:
        if first.process.poll() is None:
            first.kill()
    openvolt_api.release()  # the held request now answers no one

    # Found once the dead worker's last heartbeat is older than WORKER_STALLED_AFTER_SECONDS.
    assert wait_for(recover, timeout=TIMEOUT, what="the stalled job to be recovered") == 1

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
    assert delivery.attempt_count == 1  # its own run fanned out once
    assert list(delivery.items.order_by("position").values_list("attempt_count", flat=True)) == [
        1,
        2,  # the item in flight at the kill, and only it, ran again
        1,
    ]
    assert IntervalReading.objects.count() == 2 * 48
    assert [job.status for job in jobs_of(delivery)] == ["succeeded"] * 3
    assert len(openvolt_api.requests_to("/interval-data")) == 3 + 1
