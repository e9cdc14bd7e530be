"""`/health/live` and `/health/ready` (CONTRACT.md section 4b): each state of readiness, with
the database, the migrations and the workers as they really are."""

import statistics
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.utils import timezone

from console import health
from console.models import AlertCheck
from tests.support.smtp import free_port
from tests.support.workers import heartbeat


@pytest.fixture(autouse=True)
def no_rules_from_the_probe(monkeypatch):
    """The alert rules' turn on the web side runs in a thread on a connection of its own: it
    has tests of its own (test_alerts.py)."""
    monkeypatch.setattr(health, "alert_rules_poke", lambda: False)


def ready(client):
    response = client.get("/health/ready")
    return response.status_code, response.json()


def test_live_answers_ok_without_a_login_or_the_database(client):
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]


def test_ready_when_the_database_answers_nothing_is_pending_and_a_worker_beats(client, db):
    heartbeat(seconds_ago=5)

    assert ready(client) == (
        200,
        {"status": "ok", "checks": {"database": "ok", "migrations": "ok", "worker": "ok"}},
    )


def test_not_ready_without_any_worker(client, db):
    assert ready(client) == (
        503,
        {
            "status": "unavailable",
            "checks": {
                "database": "ok",
                "migrations": "ok",
                "worker": "no worker has sent a heartbeat",
            },
        },
    )


def test_not_ready_when_the_last_heartbeat_is_older_than_the_stalled_window(client, db, settings):
    settings.WORKER_STALLED_AFTER_SECONDS = 60
    heartbeat(seconds_ago=312.2)

    status, body = ready(client)

    assert status == 503
    assert body["checks"]["worker"] == "no heartbeat for 312 s"
    assert body["checks"]["database"] == body["checks"]["migrations"] == "ok"


def test_a_worker_that_stopped_cleanly_is_remembered_through_the_stalled_window(client, db):
    """procrastinate deletes the row of a worker that stops cleanly; the alert rules keep its
    latest heartbeat, so that a restart is no outage."""
    AlertCheck.objects.create(
        evaluated_at=timezone.now(), worker_seen_at=timezone.now() - timedelta(seconds=20)
    )
    assert ready(client)[0] == 200

    AlertCheck.objects.update(worker_seen_at=timezone.now() - timedelta(seconds=100))
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["worker"] == "no heartbeat for 100 s"


def test_not_ready_while_a_migration_is_pending(client, db):
    heartbeat()
    # The console's latest migration, as if a release had not run it yet.
    latest = max(name for app, name in health.expected_migrations() if app == "console")
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'console' AND name = %s", [latest]
        )

    status, body = ready(client)

    assert status == 503
    assert body == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": f"pending: console.{latest}", "worker": "ok"},
    }


def test_not_ready_when_the_database_is_unreachable(client, db, monkeypatch):
    closed_port = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(free_port())}
    unreachable = DatabaseWrapper(closed_port, alias="unreachable")
    monkeypatch.setattr(health, "connection", unreachable)

    started = time.perf_counter()
    status, body = ready(client)

    assert time.perf_counter() - started < 2
    assert status == 503
    assert body == {
        "status": "unavailable",
        "checks": {
            "database": "unreachable",
            "migrations": "unknown: the database is unreachable",
            "worker": "unknown: the database is unreachable",
        },
    }
    unreachable.close()


def test_nothing_secret_in_the_answer(client, db, settings):
    body = client.get("/health/ready").content.decode()

    for secret in (settings.SECRET_KEY, connection.settings_dict["NAME"], "postgres://"):
        assert secret not in body


def test_ready_is_fast_enough_to_poll_every_second(client, db):
    heartbeat()
    health.expected_migrations()  # read once per process, at the first call

    timings = []
    for _ in range(20):
        started = time.perf_counter()
        assert client.get("/health/ready").status_code == 200
        timings.append(time.perf_counter() - started)

    assert statistics.median(timings) < 0.05, timings


def test_the_expected_migrations_are_read_once_per_process(client, db, monkeypatch):
    health.expected_migrations()
    built = []
    monkeypatch.setattr(health, "MigrationLoader", lambda *args, **kwargs: built.append(1) or None)

    client.get("/health/ready")
    client.get("/health/ready")

    assert built == []


def test_only_get_and_head(client, db):
    assert client.post("/health/ready").status_code == 405
    assert client.head("/health/live").status_code == 200
