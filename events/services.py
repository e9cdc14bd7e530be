"""Writes on endpoints and their secrets (deliveries are written by `intake` and `processing`)."""

import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from events.models import EndpointSecret, Source, WebhookEndpoint
from events.sources.nectar import SECRET_PREFIX, is_valid_secret


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
