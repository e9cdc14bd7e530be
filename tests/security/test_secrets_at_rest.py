"""Nectar's signing secrets are stored encrypted (common/secret_box.py): the column holds a
Fernet token under the first key of SECRETS_ENCRYPTION_KEY, every key of the list decrypts,
`rotate_secrets_key` moves every token to the first key, and a secret no key decrypts is
skipped by the intake (no 500) and raises the endpoint_secret_unreadable alert."""

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.checks import ERROR, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from common import secret_box
from console.alerts.rules import endpoint_subject
from console.alerts.services import alert_rules_evaluate
from console.models import Alert
from events.models import EndpointSecret
from events.services import endpoint_secret_add, endpoint_secret_rotate
from tests.factories import NectarEndpointFactory
from tests.support.webhooks import body_of, nectar_event, nectar_headers, post_json

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def stored() -> list[str]:
    """The column as PostgreSQL holds it, oldest secret first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_secret FROM events_endpointsecret ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def post_signed_with(client, endpoint, secret: str, message_id: str):
    body = body_of(nectar_event())
    return post_json(client, endpoint, body, nectar_headers(secret, body, message_id=message_id))


def rotate_secrets_key(*arguments) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rotate_secrets_key", *arguments, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue().strip()


# What is stored


def test_the_column_holds_a_token_under_the_first_key_never_the_secret(settings, api_client):
    settings.SECRETS_ENCRYPTION_KEY = [NEW, OLD]
    endpoint = NectarEndpointFactory(secret=SECRET)

    (token,) = stored()
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(s)::text FROM events_endpointsecret s")
        (row,) = cursor.fetchone()
    assert SECRET not in row and SECRET.removeprefix("whsec_") not in row
    assert token.startswith(secret_box.TOKEN_PREFIX)
    assert Fernet(NEW).decrypt(token).decode() == SECRET
    with pytest.raises(InvalidToken):
        Fernet(OLD).decrypt(token)
    assert EndpointSecret.objects.get().secret == SECRET
    assert post_signed_with(api_client, endpoint, SECRET, "msg_1").status_code == 202


def test_each_write_is_a_new_token(settings):
    settings.SECRETS_ENCRYPTION_KEY = [NEW]
    endpoint = NectarEndpointFactory(secret=SECRET)
    endpoint_secret_add(endpoint=endpoint, secret=SECRET)

    first, second = stored()
    assert first != second
    assert [row.secret for row in EndpointSecret.objects.all()] == [SECRET, SECRET]


def test_the_database_refuses_a_clear_secret(nectar_endpoint):
    with (
        pytest.raises(IntegrityError, match="endpointsecret_encrypted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE events_endpointsecret SET encrypted_secret = %s", [SECRET])


def test_unset_the_key_is_derived_from_secret_key(settings):
    settings.SECRETS_ENCRYPTION_KEY = []
    NectarEndpointFactory(secret=SECRET)

    derived = secret_box.key_from_secret_key(settings.SECRET_KEY)
    assert Fernet(derived).decrypt(stored()[0]).decode() == SECRET
    assert derived != secret_box.key_from_secret_key(settings.SECRET_KEY + "-changed")
    settings.SECRET_KEY += "-changed"
    assert EndpointSecret.objects.get().secret is None


def test_the_admin_masks_the_secret_and_says_when_it_cannot_be_decrypted(settings, admin_client):
    settings.SECRETS_ENCRYPTION_KEY = [OLD]
    endpoint = NectarEndpointFactory(secret=SECRET)
    settings.SECRETS_ENCRYPTION_KEY = [NEW]
    new_secret = endpoint_secret_rotate(endpoint=endpoint)

    page = admin_client.get(reverse("admin:events_webhookendpoint_change", args=[endpoint.pk]))

    assert page.status_code == 200
    content = page.content.decode()
    assert "whsec_… (cannot be decrypted)" in content
    assert f"whsec_…{new_secret[-4:]}" in content
    assert new_secret not in content
    assert all(token not in content for token in stored())


# Rotating the key


def test_a_token_of_the_old_key_is_read_while_the_old_key_is_second(settings, api_client):
    settings.SECRETS_ENCRYPTION_KEY = [OLD]
    endpoint = NectarEndpointFactory(secret=SECRET)
    written = stored()

    settings.SECRETS_ENCRYPTION_KEY = [NEW, OLD]

    assert stored() == written
    assert EndpointSecret.objects.get().secret == SECRET
    assert post_signed_with(api_client, endpoint, SECRET, "msg_1").status_code == 202


def test_the_command_encrypts_every_secret_again_with_the_first_key(settings, api_client):
    settings.SECRETS_ENCRYPTION_KEY = [OLD]
    endpoint = NectarEndpointFactory(secret=SECRET)
    new_secret = endpoint_secret_rotate(endpoint=endpoint)  # the old one expires later
    settings.SECRETS_ENCRYPTION_KEY = [NEW, OLD]
    NectarEndpointFactory()  # its secret is written under NEW already

    assert rotate_secrets_key() == (
        "2 signing secrets encrypted again with the first key, 1 already were.",
        "",
    )
    assert [Fernet(NEW).decrypt(token).decode()[:6] for token in stored()] == ["whsec_"] * 3
    settings.SECRETS_ENCRYPTION_KEY = [NEW]  # the old key dropped
    old = post_signed_with(api_client, endpoint, SECRET, "msg_1")
    new = post_signed_with(api_client, endpoint, new_secret, "msg_2")
    assert (old.status_code, new.status_code) == (202, 202)


def test_the_command_run_again_changes_nothing(settings):
    settings.SECRETS_ENCRYPTION_KEY = [OLD]
    NectarEndpointFactory(secret=SECRET)
    settings.SECRETS_ENCRYPTION_KEY = [NEW, OLD]
    rotate_secrets_key()
    once = stored()

    assert rotate_secrets_key() == (
        "0 signing secrets encrypted again with the first key, 1 already were.",
        "",
    )
    assert stored() == once


def test_the_command_leaves_what_no_key_decrypts_and_says_so(settings):
    settings.SECRETS_ENCRYPTION_KEY = [OLD]
    NectarEndpointFactory(secret=SECRET)
    written = stored()
    settings.SECRETS_ENCRYPTION_KEY = [NEW]

    out, err = rotate_secrets_key()

    assert out == "0 signing secrets encrypted again with the first key, 0 already were."
    assert err.startswith("1 signing secrets cannot be decrypted with any key")
    assert stored() == written


def test_secrets_of_the_derived_key_are_moved_to_a_key_set_later(settings, api_client):
    settings.SECRETS_ENCRYPTION_KEY = []
    endpoint = NectarEndpointFactory(secret=SECRET)
    settings.SECRETS_ENCRYPTION_KEY = [NEW]
    assert EndpointSecret.objects.get().secret is None  # the derived key is not read by itself

    out, _ = rotate_secrets_key("--from-secret-key")

    assert out == "1 signing secrets encrypted again with the first key, 0 already were."
    assert Fernet(NEW).decrypt(stored()[0]).decode() == SECRET
    assert post_signed_with(api_client, endpoint, SECRET, "msg_1").status_code == 202


# A secret no key decrypts


@pytest.fixture
def half_readable(settings):
    """A Nectar endpoint with two active secrets: the first under a key since removed."""
    settings.SECRETS_ENCRYPTION_KEY = [OLD]
    endpoint = NectarEndpointFactory(description="Nectar production", secret=SECRET)
    settings.SECRETS_ENCRYPTION_KEY = [NEW]
    endpoint.readable_secret = endpoint_secret_add(endpoint=endpoint)
    return endpoint


def test_the_intake_skips_it_and_the_other_secret_still_verifies(half_readable, api_client, caplog):
    lost = post_signed_with(api_client, half_readable, SECRET, "msg_1")
    kept = post_signed_with(api_client, half_readable, half_readable.readable_secret, "msg_2")

    assert lost.status_code == 401, lost.content
    assert lost.json()["error"] == "invalid_signature"
    assert kept.status_code == 202, kept.content
    assert "cannot be decrypted with SECRETS_ENCRYPTION_KEY; it was skipped" in caplog.text
    assert stored()[0] not in caplog.text


def test_it_raises_the_alert_until_its_key_is_back(half_readable, settings):
    alert_rules_evaluate()

    alert = Alert.objects.get(kind=Alert.Kind.ENDPOINT_SECRET_UNREADABLE)
    assert (alert.subject, alert.status) == (endpoint_subject(half_readable), Alert.Status.OPEN)
    assert alert.detail.startswith(
        "1 of its 2 signing secrets in use cannot be read (1 not decrypted by "
        "SECRETS_ENCRYPTION_KEY): its other secrets still verify Nectar's signatures. Put the "
        "key it was encrypted with back in SECRETS_ENCRYPTION_KEY, or rotate its secret"
    )
    row = json.dumps(Alert.objects.filter(pk=alert.pk).values().get(), default=str)
    assert OLD not in row and NEW not in row and SECRET[6:] not in row

    settings.SECRETS_ENCRYPTION_KEY = [NEW, OLD]
    alert_rules_evaluate()

    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED


@pytest.mark.parametrize("keys", [["not-a-fernet-key"], []], ids=["invalid-key", "derived"])
def test_an_endpoint_with_no_readable_secret_answers_401_never_500(settings, api_client, keys):
    settings.SECRETS_ENCRYPTION_KEY = [OLD]
    endpoint = NectarEndpointFactory(secret=SECRET)
    settings.SECRETS_ENCRYPTION_KEY = keys

    response = post_signed_with(api_client, endpoint, SECRET, "msg_1")

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_signature"


# manage.py check


def key_messages(deploy: bool = False) -> list:
    return [
        (message.id, message.level, message.msg)
        for message in run_checks(include_deployment_checks=deploy)
        if "SECRETS_ENCRYPTION_KEY" in message.msg
    ]


@pytest.mark.parametrize(
    ("keys", "positions"),
    [
        ([NEW[:-2]], [1]),  # cut short
        ([NEW, "é" * 44], [2]),  # not base64
        ([NEW, OLD[:20], OLD[20:]], [2, 3]),  # a key split by a comma
    ],
    ids=["short", "not-base64", "split"],
)
def test_a_key_that_is_not_a_fernet_key_is_refused_without_being_quoted(settings, keys, positions):
    settings.SECRETS_ENCRYPTION_KEY = keys

    with pytest.raises(SystemCheckError) as refused:
        call_command("check")

    expected = "SECRETS_ENCRYPTION_KEY: key {} of {} is not a Fernet key."
    assert key_messages() == [
        ("events.E002", ERROR, expected.format(position, len(keys))) for position in positions
    ]
    for key in keys:
        assert key[:8] not in str(refused.value)


@pytest.mark.parametrize("keys", [[NEW], [NEW, OLD], []], ids=["one", "two", "unset"])
def test_fernet_keys_or_none_pass(settings, keys):
    settings.SECRETS_ENCRYPTION_KEY = keys

    assert key_messages() == []
