"""The items of a delivery: the units of work its payload names (one meter and up to 31 days
of readings, one consent, one meter to create on Openvolt), each run by a job of its own."""

from django.db import models
from django.utils import timezone

from events.models.deliveries import Delivery


class DeliveryItem(models.Model):
    """One unit of work of a delivery, fetched from Openvolt outside any transaction and
    stored in a short transaction of its own, so that it succeeds, fails and is retried alone."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead (needs a person)"

    FINISHED = (Status.DONE, Status.SKIPPED, Status.DEAD)
    SUCCEEDED = (Status.DONE, Status.SKIPPED)

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="items")
    # Its place among the delivery's items, in the order the payload named them.
    position = models.PositiveIntegerField()
    # What it does (an item kind registered in events/dispatch.py) and with what.
    kind = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict)
    # What it is about, for people and for the lock two items of one object take turns on:
    # a meter's Openvolt id, a consent's, a meter number.
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField("attempts", default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)
    readings_stored = models.PositiveIntegerField(default=0)
    links = models.JSONField(default=list, blank=True)
    subjects = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["delivery", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "position"], name="delivery_item_unique_position"
            ),
        ]
        indexes = [
            # The delivery page lists its items by status, problems first.
            models.Index(fields=["delivery", "status", "position"], name="delivery_item_status"),
        ]

    def __str__(self):
        return f"Item {self.position} of delivery {self.delivery_id}: {self.kind} {self.subject}"
