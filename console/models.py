"""What the console keeps about its own use: the record of every export."""

from django.conf import settings
from django.db import models


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
