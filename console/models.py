"""What the console keeps about its own use: the record of every export."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ExportLog(models.Model):
    """One export of a changelist: who took which rows out, in which format, and how many.

    Written when the export starts and completed when its stream ends. A row whose stream
    ended early (the browser went away, an error) says so with `complete` false; one with no
    `finished_at` never ended at all (the process stopped mid-way).
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="export_logs",
    )
    # A label rather than a foreign key to ContentType: the log outlives renamed models.
    model_label = models.CharField("model", max_length=100)
    format = models.CharField(max_length=10, choices=Format)
    query_string = models.TextField(
        "filters", blank=True, help_text="The changelist's query string: filters and search."
    )
    selected_all = models.BooleanField(
        default=False, help_text="The whole filtered list, not a selection of rows."
    )
    row_count = models.PositiveIntegerField("rows", default=0)
    complete = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "export"
        ordering = ["-started_at", "-id"]
        permissions = [("export_data", "Can export lists")]
        indexes = [models.Index(fields=["-started_at", "-id"], name="export_log_started")]

    def __str__(self):
        return f"{self.model_label} ({self.format}) at {self.started_at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    """Something a person must know about now: one row from the moment a rule sees the
    condition until it clears (console/alerts/rules.py).

    At most one unresolved alert per kind and subject; when the condition returns after it
    was resolved, a new row opens. People are told when it opens and when it resolves (an
    AlertNotice per message). A person may acknowledge it (seen, being handled) or resolve
    it by hand; resolved by hand while the condition still holds, it stays resolved until
    the condition has cleared once (`suppressed`), so that a dead delivery someone decided
    to leave is not announced again every minute.
    """

    class Kind(models.TextChoices):
        DELIVERY_DEAD = "delivery_dead", "Delivery failed for good"
        ENDPOINT_SILENT = "endpoint_silent", "Endpoint gone quiet"
        WORKER_MISSING = "worker_missing", "No background worker"
        OPENVOLT_KEY_REFUSED = "openvolt_key_refused", "Openvolt refuses the API key"
        ENDPOINT_SECRET_UNREADABLE = "endpoint_secret_unreadable", "Signing secret unreadable"
        FAILURE_RATE = "failure_rate", "Many deliveries failing"
        QUEUE_AGE = "queue_age", "Jobs waiting too long"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    UNRESOLVED = (Status.OPEN, Status.ACKNOWLEDGED)

    kind = models.CharField(max_length=40, choices=Kind)
    # A stable key of what the alert is about (`delivery:42`, `queue:deliveries`); never an
    # endpoint's id, which for Openvolt is its credential (console/alerts/subjects.py).
    subject = models.CharField(max_length=200, blank=True)
    subject_label = models.CharField("about", max_length=300, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)
    detail = models.TextField(help_text="The condition as last seen, in words.")
    value = models.FloatField(null=True, blank=True, help_text="The figure last seen.")
    link = models.CharField(max_length=500, blank=True, help_text="Admin path of what it is about.")
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the condition cleared by itself.",
    )
    suppressed = models.BooleanField(
        default=False,
        help_text="Resolved by a person while the condition held: not opened again until "
        "the condition has cleared.",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=models.Q(status__in=["open", "acknowledged"]),
                name="alert_one_unresolved_per_subject",
            ),
        ]
        indexes = [
            # The dashboard's and the rules' read: the unresolved alerts.
            models.Index(
                fields=["kind", "subject"],
                condition=models.Q(status__in=["open", "acknowledged"]) | models.Q(suppressed=True),
                name="alert_watched",
            ),
            # The changelist's default order.
            models.Index(fields=["-opened_at", "-id"], name="alert_opened"),
        ]

    def __str__(self):
        about = f" ({self.subject_label})" if self.subject_label else ""
        return f"{self.get_kind_display()}{about}"


class AlertNotice(models.Model):
    """One message about an alert on one channel: the record that it is sent once.

    Made with the alert's change (in its transaction), sent by a job of its own
    (console/alerts/notify.py), which claims it for a while before sending outside any
    transaction, so that two senders never send it at once.
    """

    class Event(models.TextChoices):
        OPENED = "opened", "Opened"
        RESOLVED = "resolved", "Resolved"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notices")
    event = models.CharField(max_length=20, choices=Event)
    channel = models.CharField(max_length=20, choices=Channel)
    # Where it goes, as the settings said when the alert changed.
    recipients = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "event", "channel"], name="alert_notice_once"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=models.Q(sent_at=None), name="alert_notice_unsent"
            ),
        ]

    def __str__(self):
        state = f"sent {self.sent_at:%Y-%m-%d %H:%M}" if self.sent_at else "not sent yet"
        return f"{self.get_event_display()} by {self.get_channel_display()}: {state}"


class AlertCheck(models.Model):
    """One row: when the alert rules last ran, and the latest worker heartbeat they saw.

    The rules run from the worker and from `/health/ready`; claiming this row (an UPDATE that
    only succeeds when the last run is old enough) keeps them to one run per interval across
    every process. The heartbeat outlives procrastinate's row of a worker that stopped
    cleanly, so that "no heartbeat for 312 s" can be said after a restart too.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    evaluated_at = models.DateTimeField()
    worker_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "alert check"

    def __str__(self):
        return f"Alert rules ran at {self.evaluated_at:%Y-%m-%d %H:%M:%S}"
