"""Deliveries: what arrived (receipts), what processing did with it (attempts), and the
daily counts the dashboard reads."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from events.models.endpoints import Source, WebhookEndpoint


class Delivery(models.Model):
    """One delivery a platform made to an endpoint, however many times it arrived."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead (needs a person)"
        IGNORED = "ignored", "Ignored (no handler)"
        REJECTED = "rejected", "Rejected (invalid)"

    # No index of its own: the unique (endpoint, external_id) index serves lookups by endpoint.
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries", db_index=False
    )
    # Copied from the endpoint so that the changelist filters without a join.
    source = models.CharField(max_length=20, choices=Source)
    external_id = models.CharField(
        "external id",
        max_length=255,
        help_text="Openvolt's delivery_id, Nectar's svix-id; for a rejected body without one, "
        "a hash of the body.",
    )
    event_type = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    received_at = models.DateTimeField(db_default=Now())
    last_received_at = models.DateTimeField(db_default=Now())
    receipt_count = models.PositiveIntegerField("receipts", default=1)
    occurred_at = models.DateTimeField(
        null=True, blank=True, help_text="When the platform says the event happened."
    )
    payload = models.JSONField(
        null=True, blank=True, help_text="The body as received, with secrets redacted."
    )
    unparsed_body = models.TextField(
        blank=True, help_text="A rejected body that is not JSON, as text, secrets redacted."
    )
    # The 32 bytes of the digest, half the room of its hex text. Null for deliveries stored
    # before bodies were hashed: their later arrivals are never taken for conflicts.
    body_sha256 = models.BinaryField(
        "body SHA-256",
        max_length=32,
        null=True,
        editable=False,
        help_text="Of the first body as received, byte for byte.",
    )
    last_conflict_at = models.DateTimeField(
        "last body conflict",
        null=True,
        blank=True,
        help_text="When an arrival under this id last carried a different body.",
    )
    subjects = ArrayField(
        models.CharField(max_length=255),
        default=list,
        blank=True,
        help_text="Ids, meter numbers and e-mail addresses it concerns (events/subjects.py).",
    )
    error = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)
    summary = models.TextField(blank=True, help_text="What processing did, in words.")
    links = models.JSONField(
        default=list, blank=True, help_text="[label, admin path] of each object it changed."
    )
    warnings = models.JSONField(
        default=list, blank=True, help_text="What the handler skipped but did not fail on."
    )
    attempt_count = models.PositiveIntegerField("processing attempts", default=0)
    # Failures since the last success or reprocess: what the retry schedule counts.
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # How many of its items (events/models/items.py) are in each status, kept with every
    # change of one, so that its own status follows them without counting them again.
    item_counts = models.JSONField(default=dict, db_default={}, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-received_at", "-id"]
        permissions = [("reprocess_delivery", "Can reprocess deliveries")]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "external_id"], name="delivery_unique_per_endpoint"
            ),
        ]
        indexes = [
            # The changelist's order, and the dashboard's deliveries of the last 24 hours by
            # status, counted from the index alone (a day is tens of thousands of rows).
            models.Index(
                fields=["-received_at", "-id"], include=["status"], name="delivery_received_status"
            ),
            models.Index(fields=["status", "-received_at"], name="delivery_status_received"),
            models.Index(fields=["source", "-received_at"], name="delivery_source_received"),
            models.Index(fields=["event_type", "-received_at"], name="delivery_type_received"),
            models.Index(fields=["endpoint", "-received_at"], name="delivery_endpoint_received"),
            models.Index(fields=["external_id"], name="delivery_external_id"),
            GinIndex(fields=["subjects"], name="delivery_subjects"),
            # The changelist's "body conflict" filter and the dashboard's count. Partial:
            # conflicts are rare, so it holds few rows, and a new delivery or a duplicate
            # (null here) costs it only the check of its condition.
            models.Index(
                fields=["-last_conflict_at"],
                name="delivery_conflict",
                condition=Q(last_conflict_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.event_type or 'unknown event'} {self.external_id}"


class DeliveryReceipt(models.Model):
    """One HTTP arrival of a delivery: the first one, and every retry after it."""

    class Verdict(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate"
        # The id of a stored delivery with another body: answered as a duplicate (so that the
        # sender stops), the stored body kept.
        CONFLICT = "conflict", "Conflict: a different body"
        REJECTED = "rejected", "Rejected"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="receipts")
    received_at = models.DateTimeField(db_default=Now())
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict, help_text="Signatures and credentials redacted.")
    verdict = models.CharField(max_length=20, choices=Verdict)
    response_status = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self):
        return f"{self.get_verdict_display()} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class DeliveryAttempt(models.Model):
    """One run of a delivery through its handler."""

    class Result(models.TextChoices):
        RUNNING = "running", "Running"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=20, choices=Result, default=Result.RUNNING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self):
        return f"{self.get_result_display()} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class DeliveryDailyCount(models.Model):
    """How many of the deliveries received on a day are in each status, per source.

    The dashboard reads these few rows instead of counting a table of millions; a periodic
    task recounts recent days (events/daily_counts.py), so a delivery that fails or is
    processed after its day is counted under its new status at the next recount.
    """

    day = models.DateField()
    source = models.CharField(max_length=20, choices=Source)
    status = models.CharField(max_length=20, choices=Delivery.Status)
    count = models.PositiveIntegerField()
    counted_at = models.DateTimeField()

    class Meta:
        verbose_name = "daily count of deliveries"
        verbose_name_plural = "daily counts of deliveries"
        ordering = ["-day", "source", "status"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "source", "status"], name="delivery_daily_count_unique"
            ),
        ]

    def __str__(self):
        return f"{self.day}: {self.count} {self.source} {self.status}"
