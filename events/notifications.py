"""E-mails to the people subscribed to an event type, once a delivery has been processed."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from common.metrics import email_count
from events.models import Delivery, EmailSubscription, Notification
from events.tasks import notify_subscribers

logger = logging.getLogger(__name__)


class NotificationsNotSent(Exception):
    """Some e-mails could not be sent; the job is retried for those."""


def delivery_notifications_queue(*, delivery: Delivery, subscribed: bool | None = None) -> None:
    """Queue the e-mails in the caller's transaction, so they go only if processing commits.

    `subscribed`: whether anyone subscribes to the delivery's event type, when the caller has
    asked already (events/runs.py asks in the statement that marks the delivery processed).
    """
    if subscribed is None:
        subscribed = EmailSubscription.objects.for_event_type(delivery.event_type).exists()
    if subscribed:
        notify_subscribers.defer(delivery_id=delivery.pk)


def notifications_send(*, delivery_id: int) -> int:
    """Send the delivery's e-mail to every subscriber not sent it yet; returns how many went."""
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    recipients = sorted(
        set(
            EmailSubscription.objects.for_event_type(delivery.event_type).values_list(
                "email", flat=True
            )
        )
    )
    sent, failed = 0, []
    for email in recipients:
        try:
            sent += _send_once(delivery, email)
        except (smtplib.SMTPException, OSError) as error:
            Notification.objects.filter(delivery=delivery, email=email).update(
                last_error=f"{type(error).__name__}: {error}"
            )
            failed.append(email)
    email_count(outcome="sent", count=sent)
    email_count(outcome="failed", count=len(failed))
    if failed:
        raise NotificationsNotSent(f"Delivery {delivery_id}: not sent to {', '.join(failed)}.")
    return sent


def _send_once(delivery: Delivery, email: str) -> int:
    Notification.objects.get_or_create(delivery=delivery, email=email)
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(delivery=delivery, email=email)
        if notification.sent_at:
            return 0
        notification_message(delivery=delivery, email=email).send()
        notification.sent_at = timezone.now()
        notification.last_error = ""
        notification.save(update_fields=["sent_at", "last_error"])
    return 1


def notification_message(*, delivery: Delivery, email: str) -> EmailMessage:
    site = settings.SITE_URL
    headline = (delivery.summary or "Processed.").splitlines()[0]
    lines = [
        delivery.summary or "The delivery was processed.",
        "",
        f"Event: {delivery.event_type} from {delivery.endpoint.get_source_display()}, "
        f"received {delivery.received_at:%Y-%m-%d %H:%M} UTC",
        f"Delivery: {site}{reverse('admin:events_delivery_change', args=[delivery.pk])}",
    ]
    if delivery.links:
        lines += ["", "What changed:"]
        lines += [f"- {label}: {site}{path}" for label, path in delivery.links]
    if delivery.warnings:
        lines += ["", "Skipped:"] + [f"- {warning}" for warning in delivery.warnings]
    lines += [
        "",
        f"You receive this because {email} subscribes to {delivery.event_type} "
        "e-mails in Switchboard.",
    ]
    return EmailMessage(
        subject=f"[Switchboard] {delivery.event_type}: {headline}"[:200],
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email],
    )
