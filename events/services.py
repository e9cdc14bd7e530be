"""Writes on endpoints and their secrets (deliveries are written by `intake` and `processing`)."""

import base64
import logging
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common import secret_box
from events.models import EndpointSecret, Source, WebhookEndpoint
from events.sources.nectar import SECRET_PREFIX, is_valid_secret

logger = logging.getLogger(__name__)


def secret_generate() -> str:
    """A new Svix / Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def endpoint_create(
    *,
    source: str,
    description: str = "",
    secret: str | None = None,
    openvolt_subscription_id: str = "",
) -> tuple[WebhookEndpoint, str | None]:
    """Create an endpoint; returns it with its signing secret (Nectar) or None (Openvolt)."""
    if source not in Source.values:
        raise ValidationError(f"Unknown source {source!r}; expected one of {Source.values}.")
    if source == Source.NECTAR and openvolt_subscription_id:
        raise ValidationError("A subscription id binds Openvolt endpoints only.")
    if source == Source.OPENVOLT and secret:
        raise ValidationError("Openvolt signs nothing: its endpoints have no secret.")
    endpoint = WebhookEndpoint.objects.create(
        source=source,
        description=description,
        openvolt_subscription_id=openvolt_subscription_id,
    )
    if source == Source.NECTAR:
        secret = endpoint_secret_add(endpoint=endpoint, secret=secret)
    return endpoint, secret


def endpoint_secret_add(*, endpoint: WebhookEndpoint, secret: str | None = None) -> str:
    """Add a signing secret to a Nectar endpoint (generated when not given) and return it."""
    if endpoint.source != Source.NECTAR:
        raise ValidationError("Only Nectar endpoints have signing secrets.")
    secret = secret or secret_generate()
    if not is_valid_secret(secret):
        raise ValidationError("A Nectar secret looks like whsec_ followed by base64.")
    EndpointSecret.objects.create(endpoint=endpoint, secret=secret)
    return secret


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: WebhookEndpoint, secret: str | None = None) -> str:
    """Give a Nectar endpoint a new secret. The current ones keep verifying for the overlap
    (WEBHOOK_SECRET_ROTATION_OVERLAP_HOURS), as Svix keeps signing with the old secret for a
    while after a rotation."""
    overlap_ends = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_ROTATION_OVERLAP_HOURS)
    EndpointSecret.objects.filter(endpoint=endpoint, expires_at__isnull=True).update(
        expires_at=overlap_ends
    )
    return endpoint_secret_add(endpoint=endpoint, secret=secret)


@dataclass(frozen=True)
class Reencrypted:
    reencrypted: int = 0
    current: int = 0
    undecryptable: int = 0


@transaction.atomic
def endpoint_secrets_reencrypt(*, with_secret_key: bool = False) -> Reencrypted:
    """Encrypt every stored signing secret, expired ones too, with the first key of
    SECRETS_ENCRYPTION_KEY, so that the others can be dropped. Those already under it are left
    as they are, so a second run changes nothing. `with_secret_key` also reads those encrypted
    with the key derived from SECRET_KEY, as before SECRETS_ENCRYPTION_KEY was set."""
    counts: Counter[str] = Counter()
    rows = EndpointSecret.objects.select_for_update().only("pk", "encrypted_secret")
    for row in rows.order_by("pk"):
        try:
            token = secret_box.reencrypt(row.encrypted_secret, with_secret_key=with_secret_key)
        except secret_box.Undecryptable:
            counts["undecryptable"] += 1
            continue
        if token is None:
            counts["current"] += 1
            continue
        row.encrypted_secret = token
        row.save(update_fields=["encrypted_secret"])
        counts["reencrypted"] += 1
    return Reencrypted(**counts)


def endpoint_secrets_purge(*, now: datetime | None = None) -> int:
    """Delete the signing secrets whose rotation overlap ended; returns how many.

    No grace period: past `expires_at` a secret verifies nothing (`active()` leaves it out)
    and nothing else reads it, so keeping it would only keep a credential stored. An endpoint
    left with no secret refuses every delivery, as it did while its expired one remained.
    """
    deleted, _ = EndpointSecret.objects.filter(expires_at__lte=now or timezone.now()).delete()
    if deleted:
        logger.info("Deleted %d expired signing secrets.", deleted)
    return deleted
