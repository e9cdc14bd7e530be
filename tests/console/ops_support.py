"""Helpers of the operations tests (health, metrics, alerts): deliveries posted through the
intake, a real procrastinate worker, a local SMTP server and a local webhook receiver."""

import json
import socket
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from django.db import connection, connections
from procrastinate.contrib.django import app

from events.models import Delivery
from events.services import endpoint_create


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def openvolt_endpoint_make(description: str = "Openvolt ops"):
    endpoint, _ = endpoint_create(source="openvolt", description=description)
    return endpoint


def envelope(event_type: str = "customer.created", delivery_id: str = "d-1") -> dict:
    return {
        "subscription_id": "0315r6h8-7b9c-4b2e-bf8d-1139196ty78i",
        "event_id": event_type,
        "event_timestamp": "2024-04-28T11:44:01.010Z",
        "delivery_id": delivery_id,
        "payload": {"id": "6627795d54dc5b0961a08ae5", "name": "Customer Name"},
    }


def deliver(client, endpoint, document: dict, *, expect: int = 202) -> Delivery:
    response = client.post(
        endpoint.path, data=json.dumps(document).encode(), content_type="application/json"
    )
    assert response.status_code == expect, response.content
    return Delivery.objects.get(pk=response.json()["delivery"])


def run_worker(queues=("alerts",)) -> None:
    """Run the jobs of these queues that are due, as a worker would, then return."""
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(
            wait=False, queues=list(queues), install_signal_handlers=False, listen_notify=False
        )


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, every=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting for {what}.")
        time.sleep(every)


@pytest.fixture
def committed(transactional_db, monkeypatch):
    """Committed data and an empty job queue, for jobs run on connections of their own
    (threads, workers, subprocesses), whose connections must not outlive the test."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_workers"
        )


def heartbeat(*, seconds_ago: float = 0) -> None:
    """A worker registered in procrastinate's table, last heard `seconds_ago`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (clock_timestamp() - make_interval(secs => %s))",
            [seconds_ago],
        )


class Inbox:
    def __init__(self):
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"

    @property
    def subjects(self) -> list[str]:
        return [" ".join(str(message["Subject"]).split()) for message in self.messages]


class SmtpServer:
    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self._controller = None

    def start(self):
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None


class WebhookReceiver:
    """An incoming-webhook stand-in (Slack, Teams): keeps every JSON body POSTed to it, and
    answers `status` (503 plays a receiver that is down)."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                if receiver.status < 300:
                    receiver.bodies.append(body)
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp(settings):
    """A running SMTP server on 127.0.0.1, where Switchboard sends its e-mails."""
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "https://switchboard.example.org"
    settings.DEFAULT_FROM_EMAIL = "switchboard@example.org"
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    hook = WebhookReceiver()
    yield hook
    hook.stop()


@pytest.fixture
def told(settings, smtp, receiver):
    """Alerts go to one address and to the local webhook receiver."""
    settings.ALERT_EMAILS = ["oncall@example.org"]
    settings.ALERT_WEBHOOK_URL = receiver.url
    return smtp.inbox, receiver
