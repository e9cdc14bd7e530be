"""Fixtures of the console suite (health, metrics, alerts); its helpers are in tests/support/
(smtp.py, receivers.py, workers.py)."""

import pytest

from tests.support.receivers import WebhookReceiver
from tests.support.smtp import SmtpServer, email_to


@pytest.fixture
def committed(live_database):
    """Committed data and an empty job queue, for jobs run on connections of their own
    (threads, workers, subprocesses), whose connections must not outlive the test."""


@pytest.fixture
def smtp(settings):
    """A running SMTP server on 127.0.0.1, where Switchboard sends its e-mails."""
    server = SmtpServer()
    email_to(server, settings)
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
