"""The fault drill an operator would run: Switchboard served by gunicorn with its supervised
worker, on a PostgreSQL server of the test's own that is crashed mid-load (as by a power cut)
and started again, while senders retry as Openvolt and Svix do. Afterwards every delivery that
was acknowledged is stored once and ends processed, and nobody touched the worker."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import psycopg
import pytest
from django.conf import settings

from tests.support.own_postgres import own_postgres
from tests.support.smtp import free_port
from tests.support.waiting import wait_for
from tests.support.webhooks import openvolt_envelope

SENDERS = 6
DELIVERIES_PER_SENDER = 60
# Long enough for the worker to stop and the supervisor to wait for the database.
OUTAGE_SECONDS = 12
# Senders give up on a delivery after this long; PostgreSQL is down for a few seconds only.
SENDER_PATIENCE_SECONDS = 120


@pytest.fixture
def drill_site(tmp_path):
    """Switchboard's web and worker processes on a server of the test's own."""
    with own_postgres() as postgres:
        env = {
            **os.environ,
            "DATABASE_URL": postgres.database_create("switchboard_drill"),
            "SECRET_KEY": "test-only-not-secret",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "CONN_MAX_AGE": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            # Jobs of a worker lost in the crash are run again within seconds, not a minute.
            "WORKER_STALLED_AFTER_SECONDS": "10",
            "OPENVOLT_API_URL": "http://127.0.0.1:9/unused",
            "PYTHONUNBUFFERED": "1",
        }
        os.mkdir(tmp_path / "metrics")
        _manage(env, "migrate", "--no-input", "-v", "0")
        endpoint = json.loads(_manage(env, "create_webhook_endpoint", "--source", "openvolt"))
        port = free_port()
        web = _start(
            env,
            tmp_path / "web.log",
            *(sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"),
        )
        worker = _start(
            env,
            tmp_path / "worker.log",
            *(sys.executable, "manage.py", "run_worker", "--concurrency", "4"),
        )
        site = DrillSite(
            postgres=postgres,
            database_url=env["DATABASE_URL"],
            intake_url=f"http://127.0.0.1:{port}{endpoint['path']}",
            worker=worker,
            worker_log=tmp_path / "worker.log",
        )
        try:
            wait_for(site.answers, timeout=30, what="gunicorn to answer")
            yield site
        finally:
            for process in (worker, web):
                _stop(process)


@dataclass
class DrillSite:
    postgres: object
    database_url: str
    intake_url: str
    worker: subprocess.Popen
    worker_log: object
    acknowledged: set[str] = field(default_factory=set)
    server_errors: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(self.intake_url.split("/webhooks/")[0] + "/health/live")
            return True
        except OSError:
            return False

    def send(self, delivery_id: str) -> None:
        """Send as Openvolt does: again, with backoff, until acknowledged or refused."""
        body = json.dumps(
            openvolt_envelope(
                delivery_id=delivery_id,
                payload={"id": f"{int(delivery_id.split('-')[1]):024x}", "name": delivery_id},
            )
        ).encode()
        give_up = time.monotonic() + SENDER_PATIENCE_SECONDS
        wait = 0.2
        while time.monotonic() < give_up:
            request = urllib.request.Request(
                self.intake_url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    if response.status in (200, 202):
                        with self.lock:
                            self.acknowledged.add(delivery_id)
                        return
            except urllib.error.HTTPError as error:
                if error.code >= 500 and error.code != 503:
                    with self.lock:
                        self.server_errors.append(error.code)
                if error.code < 500:
                    return
            except OSError:
                pass  # connection refused or cut: the sender tries again
            time.sleep(wait)
            wait = min(wait * 2, 3)

    def processed(self, external_ids=None) -> int:
        with psycopg.connect(self.database_url) as connection:
            return connection.execute(
                "SELECT count(*) FROM events_delivery WHERE status = 'processed' "
                "AND (%s::text[] IS NULL OR external_id = ANY(%s))",
                [external_ids, external_ids],
            ).fetchone()[0]

    def settled(self) -> bool:
        return self.processed(sorted(self.acknowledged)) == len(self.acknowledged)


def test_a_database_crash_mid_load_loses_nothing_and_needs_nobody(drill_site):
    site = drill_site
    sent = [0]

    def sender(number):
        for index in range(DELIVERIES_PER_SENDER):
            delivery_id = f"drill-{number * 1000 + index}"
            site.send(delivery_id)
            if index % 10 == 0:
                site.send(delivery_id)  # a sender that did not hear the answer sends it again
            with site.lock:
                sent[0] += 1

    senders = [threading.Thread(target=sender, args=(number,)) for number in range(SENDERS)]
    for thread in senders:
        thread.start()
    # Crashed while the worker is busy and the senders are halfway.
    wait_for(lambda: site.processed() >= 30, timeout=60, what="the worker to be working")
    wait_for(lambda: sent[0] >= SENDERS * DELIVERIES_PER_SENDER // 2, timeout=60, what="load")
    site.postgres.crash()
    time.sleep(OUTAGE_SECONDS)
    site.postgres.start()
    for thread in senders:
        thread.join()

    assert site.server_errors == []
    assert len(site.acknowledged) == SENDERS * DELIVERIES_PER_SENDER
    wait_for(site.settled, timeout=180, every=1, what="every acknowledged delivery processed")
    with psycopg.connect(site.database_url) as connection:
        stored = connection.execute(
            "SELECT count(*), count(DISTINCT external_id) FROM events_delivery"
        ).fetchone()
    assert stored == (len(site.acknowledged), len(site.acknowledged))
    # The same worker process throughout: it rode out the crash by itself.
    assert site.worker.poll() is None
    log = site.worker_log.read_text()
    assert "The worker stopped by itself" in log
    # Said once per outage at most (the worker may stop only once the database is back).
    outages = log.count("The database is unreachable")
    assert outages <= 1
    assert log.count("The database answers again") == outages


def _manage(env, *arguments) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _start(env, log_path, *command) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
