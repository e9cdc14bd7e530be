"""`GET /metrics`: who may read it, and what it says after real deliveries; then several
gunicorn processes behind one port, adding their counters up (a live test)."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from common import metrics as common_metrics
from events.models import Delivery
from tests.factories import OpenvoltEndpointFactory
from tests.support.openvolt import receive
from tests.support.servers import gunicorn_serving
from tests.support.webhooks import openvolt_envelope
from tests.support.workers import heartbeat

TOKEN = "scrape-token-0123456789"
BASE_DIR = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, of a Prometheus text exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


def received(values, event_type, verdict, source="openvolt") -> float:
    labels = (("event_type", event_type), ("source", source), ("verdict", verdict))
    return values.get(("switchboard_deliveries_received_total", labels), 0.0)


# Who may read it


def test_404_while_no_token_is_set(client, settings, db):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_401_with_any_other_token(client, settings, db, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"switchboard_" not in response.content


# What it says


def test_counts_after_real_deliveries(client, settings, db, register_handler):
    settings.METRICS_TOKEN = TOKEN
    register_handler("openvolt", "test.known", lambda delivery: None)
    endpoint = OpenvoltEndpointFactory()
    before = scrape(client)

    for number in range(3):
        receive(client, endpoint, openvolt_envelope("test.known", f"known-{number}"))
    receive(client, endpoint, openvolt_envelope("test.known", "known-0"), expect=200)
    another_body = openvolt_envelope("test.known", "known-1", payload={"id": "another"})
    receive(client, endpoint, another_body, expect=200)
    receive(client, endpoint, openvolt_envelope("something.invented", "invented-1"))
    receive(client, endpoint, {"event_id": "test.known"}, expect=400)
    heartbeat(seconds_ago=1)
    values = scrape(client)

    assert (
        received(values, "test.known", "accepted") - received(before, "test.known", "accepted") == 3
    )
    assert (
        received(values, "test.known", "duplicate") - received(before, "test.known", "duplicate")
        == 1
    )
    assert (
        received(values, "test.known", "conflict") - received(before, "test.known", "conflict") == 1
    )
    # No handler: counted as `other`, so senders cannot grow the labels without bound.
    assert received(values, "other", "accepted") - received(before, "other", "accepted") == 1
    assert (
        received(values, "test.known", "rejected") - received(before, "test.known", "rejected") == 1
    )
    assert not any("something.invented" in str(key) for key in values)

    assert values[("switchboard_deliveries", (("status", "pending"),))] == 4
    assert values[("switchboard_deliveries", (("status", "rejected"),))] == 0  # daily counts
    assert values[("switchboard_queue_jobs", (("queue", "deliveries"), ("status", "todo")))] == 4
    assert values[("switchboard_queue_jobs", (("queue", "alerts"), ("status", "todo")))] == 0
    assert values[("switchboard_queue_oldest_job_age_seconds", (("queue", "deliveries"),))] >= 0
    assert values[("switchboard_workers_alive", ())] == 1
    assert values[("switchboard_database_up", ())] == 1
    assert (
        values[("switchboard_alerts_open", (("kind", "worker_missing"), ("status", "open")))] == 0
    )


def test_the_oldest_waiting_job_is_measured_from_when_it_was_queued(client, settings, db):
    settings.METRICS_TOKEN = TOKEN
    endpoint = OpenvoltEndpointFactory()
    receive(client, endpoint, openvolt_envelope("customer.created", "old-1"))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - interval '700 seconds' "
            "WHERE type = 'deferred'"
        )

    age = scrape(client)[("switchboard_queue_oldest_job_age_seconds", (("queue", "deliveries"),))]

    assert 700 <= age < 760


def test_processed_ignored_and_rejected_come_from_the_daily_counts(client, settings, db):
    from django.utils import timezone

    from events.daily_counts import delivery_daily_counts_recount

    settings.METRICS_TOKEN = TOKEN
    endpoint = OpenvoltEndpointFactory()
    for number in range(2):
        receive(client, endpoint, openvolt_envelope("customer.created", f"p-{number}"))
    Delivery.objects.update(status=Delivery.Status.PROCESSED)
    today = timezone.localdate()
    delivery_daily_counts_recount(first_day=today, last_day=today)

    values = scrape(client)

    assert values[("switchboard_deliveries", (("status", "processed"),))] == 2
    assert values[("switchboard_deliveries", (("status", "pending"),))] == 0


def test_the_functions_the_worker_calls(client, settings, db):
    settings.METRICS_TOKEN = TOKEN
    before = scrape(client)

    with common_metrics.processing_timer(source="openvolt", event_type="customer.created"):
        pass
    common_metrics.openvolt_request_observe(status=429, seconds=0.2)
    common_metrics.openvolt_request_observe(status=None, seconds=5)
    common_metrics.email_count(outcome="sent", count=2)
    values = scrape(client)

    def delta(name, labels=()):
        key = (name, tuple(sorted(labels)))
        return values.get(key, 0) - before.get(key, 0)

    labels = (("event_type", "customer.created"), ("source", "openvolt"))
    assert delta("switchboard_processing_seconds_count", labels) == 1
    assert delta("switchboard_openvolt_requests_total", [("status", "429")]) == 1
    assert delta("switchboard_openvolt_requests_total", [("status", "error")]) == 1
    assert delta("switchboard_openvolt_request_seconds_count") == 2
    assert delta("switchboard_emails_total", [("outcome", "sent")]) == 2


# Several processes


def _http(url: str, *, data: bytes | None = None, token: str = "") -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.live
def test_two_gunicorn_workers_add_their_counters_up(committed, tmp_path):
    endpoint = OpenvoltEndpointFactory()
    metrics_dir = tmp_path / "metrics"
    with gunicorn_serving(
        workers=2, METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    ) as base:
        bodies = [
            json.dumps(openvolt_envelope("customer.created", f"multi-{number}")).encode()
            for number in range(40)
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(
                pool.map(lambda body: _http(f"{base}{endpoint.path}", data=body)[0], bodies)
            )
        assert statuses == [202] * 40

        writers = {path.name.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
        assert len(writers) == 2, sorted(metrics_dir.iterdir())
        for _ in range(6):  # whichever process answers, the same sums
            status, text = _http(f"{base}/metrics", token=TOKEN)
            assert status == 200
            values = samples(text)
            assert received(values, "customer.created", "accepted") == 40
            assert values[("switchboard_deliveries", (("status", "pending"),))] == 40
