"""Migration events.0007 encrypts the signing secrets stored in clear before it, and its
reversal decrypts them again, refusing to when a secret cannot be decrypted. The later
migrations are unapplied first (some cannot run in a transaction, hence committed data), and
applied again after each test, whatever happened in it."""

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from common import secret_box
from events.models import EndpointSecret

BEFORE = [("events", "0006_delivery_requeues")]
ENCRYPTED = [("events", "0007_signing_secrets_encrypted")]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = Fernet.generate_key().decode()


@pytest.fixture
def migrate_to(transactional_db):
    """Migrate the events app to a migration; returns the models as they were then."""

    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    yield migrate
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def column(name: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {name} FROM events_endpointsecret ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def clear_secrets(migrate_to, settings):
    """Two secrets stored in clear, as before the migration, one of them expired."""
    settings.SECRETS_ENCRYPTION_KEY = [KEY]
    apps = migrate_to(BEFORE)
    endpoint = apps.get_model("events", "WebhookEndpoint").objects.create(source="nectar")
    secrets = apps.get_model("events", "EndpointSecret").objects
    secrets.create(endpoint=endpoint, secret=SECRET)
    secrets.create(endpoint=endpoint, secret="whsec_not*base64!", expires_at="2026-01-01T00:00Z")
    return [SECRET, "whsec_not*base64!"]


def test_the_clear_secrets_are_encrypted_with_the_first_key(migrate_to, clear_secrets):
    migrate_to(ENCRYPTED)

    tokens = column("encrypted_secret")
    assert [Fernet(KEY).decrypt(token).decode() for token in tokens] == clear_secrets
    assert not set(tokens) & set(clear_secrets)
    assert [row.secret for row in EndpointSecret.objects.order_by("id")] == clear_secrets


def test_reversed_the_secrets_are_decrypted_again(migrate_to, clear_secrets):
    migrate_to(ENCRYPTED)

    migrate_to(BEFORE)

    assert column("secret") == clear_secrets


def test_the_reversal_stops_rather_than_lose_a_secret_no_key_decrypts(
    migrate_to, clear_secrets, settings
):
    migrate_to(ENCRYPTED)
    tokens = column("encrypted_secret")
    settings.SECRETS_ENCRYPTION_KEY = [Fernet.generate_key().decode()]

    with pytest.raises(RuntimeError, match="2 signing secrets cannot be decrypted"):
        migrate_to(BEFORE)

    assert column("encrypted_secret") == tokens
    assert all(token.startswith(secret_box.TOKEN_PREFIX) for token in tokens)
