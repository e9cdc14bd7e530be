"""Who is e-mailed about which deliveries, and the record of each e-mail."""

from django.db import models
from django.utils import timezone

from events.models.deliveries import Delivery


class EmailSubscriptionQuerySet(models.QuerySet):
    def for_event_type(self, event_type: str):
        return self.filter(active=True, event_type__in=[event_type, EmailSubscription.ALL])


class EmailSubscription(models.Model):
    """Someone to e-mail when a delivery of this event type has been processed."""

    ALL = "*"

    email = models.EmailField(max_length=254)
    event_type = models.CharField(
        max_length=100, help_text="An event type, such as hosted_consent.revoked, or * for all."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = EmailSubscriptionQuerySet.as_manager()

    class Meta:
        verbose_name = "e-mail subscription"
        ordering = ["email", "event_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["email", "event_type"], name="email_subscription_unique"
            ),
        ]

    def __str__(self):
        return f"{self.email} ← {self.event_type}"


class Notification(models.Model):
    """One e-mail about one delivery to one address: the record that it is never sent twice."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="notifications")
    email = models.EmailField(max_length=254)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "email"], name="notification_once_per_address"
            ),
        ]

    def __str__(self):
        state = f"sent {self.sent_at:%Y-%m-%d %H:%M}" if self.sent_at else "not sent yet"
        return f"{self.email}: {state}"
