"""Where deliveries arrive: endpoints, their sources and signing secrets."""

import uuid

from django.db import models
from django.utils import timezone

from common import secret_box


class Source(models.TextChoices):
    OPENVOLT = "openvolt", "Openvolt"
    NECTAR = "nectar", "Nectar"


class WebhookEndpoint(models.Model):
    """A URL a platform delivers to. Its random id is part of the path."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=20, choices=Source)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    openvolt_subscription_id = models.CharField(
        "Openvolt subscription id",
        max_length=64,
        blank=True,
        help_text="When set, Openvolt envelopes carrying another subscription_id are refused.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["source", "description"]

    def __str__(self):
        return f"{self.get_source_display()}: {self.description or self.id}"

    @property
    def path(self) -> str:
        return f"/webhooks/{self.id}/"


class EndpointSecretQuerySet(models.QuerySet):
    def active(self, *, at=None):
        at = at or timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=at))


class EndpointSecret(models.Model):
    """A Svix / Standard Webhooks signing secret (`whsec_…`) of a Nectar endpoint.

    During a rotation the old secret keeps verifying until `expires_at`, so an endpoint may
    have more than one active secret; past it, the purge (events/tasks.py) deletes it.

    Stored encrypted (common/secret_box.py): `secret` reads and writes it in clear, and is None
    when no key of SECRETS_ENCRYPTION_KEY decrypts it. Not a column, so not a filter either.
    """

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    encrypted_secret = models.TextField(help_text="The secret as a Fernet token, never in clear.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = EndpointSecretQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Whatever writes the column, a clear `whsec_…` secret cannot land in it.
            models.CheckConstraint(
                condition=models.Q(encrypted_secret__startswith=secret_box.TOKEN_PREFIX),
                name="endpointsecret_encrypted",
            )
        ]

    def __str__(self):
        return self.masked

    @property
    def secret(self) -> str | None:
        try:
            return secret_box.decrypt(self.encrypted_secret)
        except secret_box.Undecryptable:
            return None

    @secret.setter
    def secret(self, value: str) -> None:
        self.encrypted_secret = secret_box.encrypt(value)

    @property
    def masked(self) -> str:
        secret = self.secret
        return "whsec_… (cannot be decrypted)" if secret is None else f"whsec_…{secret[-4:]}"
