"""Hosted consents (Openvolt) and the follow-ups people work after a revocation."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from meters.models import Customer


class HostedConsent(models.Model):
    """A customer's consent for Openvolt to collect data from some meters."""

    external_id = models.CharField("Openvolt id", max_length=64, unique=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="consents"
    )
    account_id = models.CharField("Openvolt account", max_length=64, blank=True)
    valid = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    expiry = models.DateTimeField(null=True, blank=True)
    flow_type = models.CharField(max_length=64, blank=True)
    consent_method = models.CharField(max_length=64, blank=True)
    consentee_email_verified = models.BooleanField(null=True)
    meter_numbers = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    version = models.CharField(max_length=16, blank=True)
    created_on_platform = models.DateTimeField(null=True, blank=True)
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(
        default=dict,
        blank=True,
        help_text="The object as Openvolt sent it, without its access token and link.",
    )
    mirrored_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_on_platform", "external_id"]
        indexes = [models.Index(fields=["valid", "expiry"], name="consent_valid_expiry")]

    def __str__(self):
        return f"Consent {self.external_id}"


class FollowUp(models.Model):
    """Something a person must do about a consent, typically call the customer who revoked it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONTACTED = "contacted", "Contacted"
        RESOLVED = "resolved", "Resolved"
        WONT_FIX = "wont_fix", "Won't fix"

    OPEN_STATUSES = (Status.OPEN, Status.CONTACTED)
    # Where each status may go next; resolved and won't-fix ones are closed for good (a new
    # revocation opens a new follow-up).
    NEXT_STATUSES = {
        Status.OPEN: (Status.CONTACTED, Status.RESOLVED, Status.WONT_FIX),
        Status.CONTACTED: (Status.RESOLVED, Status.WONT_FIX),
        Status.RESOLVED: (),
        Status.WONT_FIX: (),
    }

    consent = models.ForeignKey(HostedConsent, on_delete=models.PROTECT, related_name="follow_ups")
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)
    reason = models.CharField(max_length=255)
    revoked_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    due_on = models.DateField(null=True, blank=True)
    # A copy of who to call, as it was when the follow-up opened.
    customer_name = models.CharField(max_length=255, blank=True)
    customer_email = models.EmailField(max_length=254, blank=True)
    customer_address = models.TextField(blank=True)
    meter_numbers = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "follow-up"
        ordering = ["opened_at"]
        constraints = [
            # A consent has at most one follow-up being worked: a new revocation reuses it.
            models.UniqueConstraint(
                fields=["consent"],
                condition=models.Q(status__in=["open", "contacted"]),
                name="follow_up_one_open_per_consent",
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_at"], name="follow_up_status_opened")]

    def __str__(self):
        return f"Follow-up {self.pk}: {self.customer_name or self.customer_email or 'customer'}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def can_become(self, status: str) -> bool:
        return status in self.NEXT_STATUSES[self.status]

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_on is not None and self.due_on < timezone.localdate()


class FollowUpNote(models.Model):
    """One line of a follow-up's history: what a person wrote, or what someone did to it.

    Never edited or deleted, so the history reads as it happened.
    """

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        STATUS = "status", "Status change"
        ASSIGNMENT = "assignment", "Assignment"
        DUE_DATE = "due_date", "Due date"
        REVOCATION = "revocation", "Revocation"

    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="notes")
    # Empty for what Switchboard itself did (a revocation arriving). PROTECT: a history that
    # forgets who wrote it is worth little, so staff who leave are deactivated, not deleted.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="follow_up_notes",
    )
    kind = models.CharField(max_length=20, choices=Kind, default=Kind.NOTE)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "follow-up note"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["follow_up", "created_at"], name="follow_up_note_created")]

    def __str__(self):
        return f"{self.get_kind_display()} on follow-up {self.follow_up_id}"


class UtilityConnection(models.Model):
    """A Nectar connection: a company's access to its utility accounts at one provider."""

    external_id = models.CharField("Nectar id", max_length=64, unique=True)
    status = models.CharField(max_length=64, blank=True)
    country = models.CharField(max_length=64, blank=True)
    data_source = models.CharField(max_length=255, blank=True)
    company_nectar_id = models.CharField("company Nectar id", max_length=64)
    company_external_id = models.CharField(max_length=255, blank=True)
    company_public_id = models.CharField(max_length=64, blank=True)
    company_name = models.CharField(max_length=255, blank=True)
    emails = ArrayField(models.CharField(max_length=254), default=list, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    validated_at = models.DateTimeField(
        null=True, blank=True, help_text="When a connection.validated event last arrived."
    )
    created_on_platform = models.DateTimeField(null=True, blank=True)
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The object as Nectar sent it.")
    mirrored_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["company_name", "external_id"]
        indexes = [
            models.Index(fields=["company_name"], name="connection_company_name"),
            models.Index(fields=["company_external_id"], name="connection_company_ext"),
        ]

    def __str__(self):
        return f"{self.company_name or self.company_nectar_id}: {self.data_source or 'connection'}"


class ConnectionAccount(models.Model):
    """A utility account reached through a connection, with the site it supplies."""

    connection = models.ForeignKey(
        UtilityConnection, on_delete=models.CASCADE, related_name="accounts"
    )
    account_number = models.CharField(max_length=255, db_index=True)
    data_source_types = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    site_nectar_id = models.CharField("site Nectar id", max_length=64, blank=True)
    site_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["connection", "account_number"]

    def __str__(self):
        return f"Account {self.account_number}"
