"""The purge of Nectar signing secrets whose rotation overlap has ended: an hourly job deletes
them, keeps the active and the never-expiring ones, and an endpoint left with none keeps
working as one without a valid secret (the intake refuses, the admin shows and rotates)."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django import app

from events.models import EndpointSecret
from events.services import endpoint_secrets_purge
from events.tasks import purge_expired_secrets
from tests.factories import NectarEndpointFactory
from tests.support.webhooks import body_of, nectar_event, nectar_headers, post_json

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def secret_expiring(endpoint, expires_at) -> EndpointSecret:
    return EndpointSecret.objects.create(
        endpoint=endpoint, secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", expires_at=expires_at
    )


def test_expired_secrets_are_deleted_active_and_unexpiring_ones_kept(caplog):
    endpoint = NectarEndpointFactory()  # its secret never expires
    active = secret_expiring(endpoint, NOW + timedelta(seconds=1))
    secret_expiring(endpoint, NOW)  # expired at this very moment: `active()` leaves it out
    secret_expiring(endpoint, NOW - timedelta(days=3))

    with caplog.at_level(logging.INFO, logger="events.services"):
        assert endpoint_secrets_purge(now=NOW) == 2

    kept = EndpointSecret.objects.order_by("created_at")
    assert [(row.pk, row.expires_at) for row in kept] == [
        (EndpointSecret.objects.filter(expires_at=None).get().pk, None),
        (active.pk, NOW + timedelta(seconds=1)),
    ]
    assert "Deleted 2 expired signing secrets." in caplog.messages
    assert endpoint_secrets_purge(now=NOW) == 0


def test_the_hourly_job_purges_as_of_its_schedule():
    expired = secret_expiring(NectarEndpointFactory(), NOW - timedelta(minutes=1))
    secret_expiring(expired.endpoint, NOW + timedelta(minutes=1))

    assert purge_expired_secrets.func(timestamp=int(NOW.timestamp())) == 1

    assert not EndpointSecret.objects.filter(pk=expired.pk).exists()
    assert EndpointSecret.objects.count() == 2


def test_the_purge_runs_hourly_on_the_maintenance_queue():
    task = app.tasks["events.purge_expired_secrets"]
    assert (task.queue, task.queueing_lock) == ("maintenance", "purge_expired_secrets")
    (periodic,) = [p for p in app.periodic_registry.periodic_tasks.values() if p.task is task]
    assert periodic.cron == "7 * * * *"


def test_an_endpoint_whose_last_secret_was_purged_refuses_and_can_be_rotated(
    admin_client, api_client, nectar_endpoint
):
    EndpointSecret.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert endpoint_secrets_purge() == 1
    body = body_of(nectar_event())

    refused = post_json(
        api_client, nectar_endpoint, body, nectar_headers(nectar_endpoint.test_secret, body)
    )
    page = admin_client.get(
        reverse("admin:events_webhookendpoint_change", args=[nectar_endpoint.pk])
    )
    rotated = admin_client.post(
        reverse("admin:events_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [nectar_endpoint.pk]},
    )

    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_signature"
    assert page.status_code == 200
    assert rotated.status_code == 200
    new_secret = EndpointSecret.objects.get().secret
    assert new_secret in rotated.content.decode()
    accepted = post_json(
        api_client, nectar_endpoint, body, nectar_headers(new_secret, body, message_id="msg_2")
    )
    assert accepted.status_code == 202
