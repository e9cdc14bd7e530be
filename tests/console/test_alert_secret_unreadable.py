"""A Nectar endpoint holding a signing secret that cannot be read: the intake skips it (every
delivery is refused when it has no other), and an alert says so until it is gone."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from common import secret_box
from console.alerts.rules import endpoint_subject
from console.alerts.services import alert_rules_evaluate
from console.models import Alert
from events.models import EndpointSecret
from events.services import endpoint_secret_rotate, secret_generate
from events.sources import nectar
from events.sources.base import InvalidSignature
from tests.factories import NectarEndpointFactory, OpenvoltEndpointFactory
from tests.support.webhooks import body_of, nectar_event

KIND = Alert.Kind.ENDPOINT_SECRET_UNREADABLE
DAMAGED = "whsec_dGhpcyBpcyBub3Qg*base64!"


def damage_secrets(endpoint) -> None:
    EndpointSecret.objects.filter(endpoint=endpoint).update(
        encrypted_secret=secret_box.encrypt(DAMAGED)
    )


def alerts() -> list[tuple[str, str]]:
    return list(Alert.objects.filter(kind=KIND).order_by("id").values_list("subject", "status"))


@pytest.mark.parametrize(
    ("secret", "readable"),
    [
        (secret_generate(), True),
        (secret_generate().removeprefix("whsec_"), True),  # the prefix is optional
        (DAMAGED, False),
        ("whsec_" + secret_generate()[6:] + "\n", False),  # pasted with its line end
        ("whsec_€", False),
        ("whsec_", False),  # no key at all
    ],
    ids=["generated", "without-prefix", "not-base64", "line-end", "not-ascii", "empty"],
)
def test_which_secrets_can_be_read(secret, readable):
    assert nectar.secret_readable(secret) is readable


def test_a_secret_without_a_key_verifies_nothing():
    """An empty key would take a signature anyone can make for a valid one (the reference
    signer refuses to sign with one)."""
    body = body_of(nectar_event())
    timestamp = int(time.time())
    forged = hmac.new(b"", f"msg_1.{timestamp}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "svix-id": "msg_1",
        "svix-timestamp": str(timestamp),
        "svix-signature": "v1," + base64.b64encode(forged).decode(),
    }

    with pytest.raises(InvalidSignature):
        nectar.verify(["whsec_"], headers, body)


def test_an_unreadable_secret_opens_an_alert_naming_the_endpoint(db):
    endpoint = NectarEndpointFactory(description="Nectar production")
    damage_secrets(endpoint)

    alert_rules_evaluate()

    alert = Alert.objects.get(kind=KIND)
    assert alert.status == Alert.Status.OPEN
    assert alert.subject == endpoint_subject(endpoint)
    assert alert.subject_label == "Nectar: Nectar production"
    assert "1 of its 1 signing secrets in use cannot be read" in alert.detail
    assert "every delivery to it is refused" in alert.detail
    row = json.dumps(Alert.objects.filter(kind=KIND).values().get(), default=str)
    assert "dGhpcyBpcyBub3Qg" not in row
    assert str(endpoint.pk) not in row and endpoint.pk.hex not in row


def test_while_another_secret_verifies_the_alert_says_so(db):
    endpoint = NectarEndpointFactory()
    EndpointSecret.objects.create(endpoint=endpoint, secret=DAMAGED)

    alert_rules_evaluate()

    detail = Alert.objects.get(kind=KIND).detail
    assert "1 of its 2 signing secrets in use" in detail
    assert "its other secrets still verify" in detail


def test_the_alert_resolves_when_the_secret_is_readable_again(db):
    endpoint = NectarEndpointFactory()
    damage_secrets(endpoint)
    alert_rules_evaluate()
    assert alerts() == [(endpoint_subject(endpoint), Alert.Status.OPEN)]

    EndpointSecret.objects.filter(endpoint=endpoint).update(
        encrypted_secret=secret_box.encrypt(secret_generate())
    )
    alert_rules_evaluate()

    assert alerts() == [(endpoint_subject(endpoint), Alert.Status.RESOLVED)]


def test_after_a_rotation_the_alert_resolves_once_the_unreadable_secret_expires(db, settings):
    endpoint = NectarEndpointFactory()
    damage_secrets(endpoint)
    alert_rules_evaluate()

    endpoint_secret_rotate(endpoint=endpoint)
    alert_rules_evaluate()
    assert alerts() == [(endpoint_subject(endpoint), Alert.Status.OPEN)]

    overlap = timedelta(hours=settings.WEBHOOK_SECRET_ROTATION_OVERLAP_HOURS)
    alert_rules_evaluate(now=timezone.now() + overlap + timedelta(minutes=1))
    assert alerts() == [(endpoint_subject(endpoint), Alert.Status.RESOLVED)]


def test_the_alert_resolves_when_the_endpoint_is_disabled(db):
    endpoint = NectarEndpointFactory()
    damage_secrets(endpoint)
    alert_rules_evaluate()

    endpoint.enabled = False
    endpoint.save()
    alert_rules_evaluate()

    assert alerts() == [(endpoint_subject(endpoint), Alert.Status.RESOLVED)]


def test_readable_secrets_expired_secrets_and_openvolt_endpoints_raise_nothing(db):
    NectarEndpointFactory()
    OpenvoltEndpointFactory()
    expired = NectarEndpointFactory()
    EndpointSecret.objects.create(
        endpoint=expired, secret=DAMAGED, expires_at=timezone.now() - timedelta(minutes=1)
    )

    alert_rules_evaluate()

    assert alerts() == []
