"""The times a delivery's lost work was queued again: its job had ended, or gone, while the
delivery or some of its items still waited (events/sweeper.py)."""

from django.db import models
from django.utils import timezone

from events.models.deliveries import Delivery


class DeliveryRequeue(models.Model):
    """One time the delivery, or some of its items, was found waiting with no job to run it
    and was queued again: by the sweeper, or by a person's *Reprocess*."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="requeues")
    at = models.DateTimeField("when", default=timezone.now)
    reason = models.TextField(help_text="What was found, and what was done about it.")
    items = models.PositiveIntegerField(
        "items queued again", default=0, help_text="0 when the delivery itself was queued again."
    )

    class Meta:
        verbose_name = "job queued again"
        verbose_name_plural = "jobs queued again (lost, as in a database outage)"
        ordering = ["at", "id"]

    def __str__(self):
        return f"Queued again at {self.at:%Y-%m-%d %H:%M:%S}"
