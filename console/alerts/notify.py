"""Telling people: each AlertNotice sent once, by e-mail to ALERT_EMAILS or as JSON to
ALERT_WEBHOOK_URL (Slack and Microsoft Teams incoming webhooks both read it).

A sender claims the notice for CLAIM (an UPDATE that only one process wins), sends outside
any transaction, then marks it sent. A failure releases the claim and raises, so the job is
retried while the receiver is down. Only a process killed between sending and marking can
make a notice go twice, once the claim has lapsed.
"""

import logging
import smtplib
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from common.metrics import email_count
from common.transactions import transaction_open
from console.models import Alert, AlertNotice

logger = logging.getLogger(__name__)

CLAIM = timedelta(minutes=2)
WEBHOOK_TIMEOUT_SECONDS = 10
# Colours of the chat card: red while open, green once resolved.
_COLOURS = {AlertNotice.Event.OPENED: "D63939", AlertNotice.Event.RESOLVED: "2E8540"}


class NoticeNotSent(Exception):
    """The receiver did not take the message (or another sender holds it): retry later."""


def alert_notice_send(*, notice_id: int) -> bool:
    """Send the notice unless it went already; returns whether this call sent it."""
    if transaction_open():
        raise RuntimeError("Alert notices are sent outside any database transaction.")
    now = timezone.now()
    claimed = (
        AlertNotice.objects.filter(pk=notice_id, sent_at=None)
        .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM, attempts=F("attempts") + 1)
    )
    notice = AlertNotice.objects.select_related("alert").get(pk=notice_id)
    if notice.sent_at:
        return False
    if not claimed:
        raise NoticeNotSent(f"Alert notice {notice_id} is being sent by another process.")
    try:
        _deliver(notice)
    except (smtplib.SMTPException, OSError, httpx.HTTPError, NoticeNotSent) as error:
        if notice.channel == AlertNotice.Channel.EMAIL:
            email_count(outcome="failed")
        AlertNotice.objects.filter(pk=notice_id).update(
            claimed_until=None, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise NoticeNotSent(f"Alert notice {notice_id} not sent: {error}") from error
    if notice.channel == AlertNotice.Channel.EMAIL:
        email_count(outcome="sent")
    AlertNotice.objects.filter(pk=notice_id).update(
        sent_at=timezone.now(), claimed_until=None, last_error=""
    )
    return True


def alert_notices_send_pending(*, older_than: timedelta = timedelta(0)) -> int:
    """Send every notice not sent yet, here and now: what `/health/ready` does when no worker
    runs to send them. Returns how many went; failures wait for the next turn."""
    sent = 0
    for notice_id in AlertNotice.objects.filter(
        sent_at=None, created_at__lte=timezone.now() - older_than
    ).values_list("pk", flat=True)[:50]:
        try:
            sent += alert_notice_send(notice_id=notice_id)
        except NoticeNotSent as error:
            logger.warning("%s", error)
    return sent


def _deliver(notice: AlertNotice) -> None:
    alert = notice.alert
    if notice.channel == AlertNotice.Channel.EMAIL:
        recipients = [a.strip() for a in notice.recipients.split(",") if a.strip()]
        alert_email(alert=alert, event=notice.event, to=recipients).send()
        return
    url = settings.ALERT_WEBHOOK_URL
    if not url:
        raise NoticeNotSent("ALERT_WEBHOOK_URL is no longer set.")
    response = httpx.post(
        url,
        json=alert_webhook_body(alert=alert, event=notice.event),
        timeout=WEBHOOK_TIMEOUT_SECONDS,
    )
    if response.status_code >= 300:
        raise NoticeNotSent(f"The webhook answered {response.status_code}.")


def alert_url(alert: Alert) -> str:
    if alert.pk is None:  # a test alert: the list of alerts
        return settings.SITE_URL + reverse("admin:console_alert_changelist")
    return settings.SITE_URL + reverse("admin:console_alert_change", args=[alert.pk])


def alert_headline(*, alert: Alert, event: str) -> str:
    what = "Resolved" if event == AlertNotice.Event.RESOLVED else "Alert"
    about = f" ({alert.subject_label})" if alert.subject_label else ""
    return f"[Switchboard] {what}: {alert.get_kind_display()}{about}"[:200]


def alert_facts(*, alert: Alert, event: str) -> list[tuple[str, str]]:
    facts = [
        ("Status", "resolved" if event == AlertNotice.Event.RESOLVED else "open"),
        ("Kind", alert.kind),
        ("About", alert.subject_label or "-"),
        ("Condition", alert.detail),
        ("Opened", f"{alert.opened_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    if event == AlertNotice.Event.RESOLVED and alert.resolved_at:
        how = f"by {alert.resolved_by}" if alert.resolved_by else "the condition cleared"
        facts.append(("Resolved", f"{alert.resolved_at:%Y-%m-%d %H:%M:%S} UTC ({how})"))
    facts.append(("Alert", alert_url(alert)))
    if alert.link:
        facts.append(("Look at", settings.SITE_URL + alert.link))
    return facts


def alert_email(*, alert: Alert, event: str, to: list[str]) -> EmailMessage:
    lines = [f"{name}: {value}" for name, value in alert_facts(alert=alert, event=event)]
    lines += ["", "You receive this because your address is in Switchboard's ALERT_EMAILS."]
    return EmailMessage(
        subject=alert_headline(alert=alert, event=event),
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )


def alert_webhook_body(*, alert: Alert, event: str) -> dict:
    """`text` for Slack (and Teams' simplest card); a MessageCard's title and facts for
    Teams; `switchboard` for a program."""
    headline = alert_headline(alert=alert, event=event)
    facts = alert_facts(alert=alert, event=event)
    return {
        "text": f"{headline}\n{alert.detail}\n{alert_url(alert)}",
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": headline,
        "title": headline,
        "themeColor": _COLOURS.get(event, "D63939"),
        "sections": [{"facts": [{"name": name, "value": value} for name, value in facts]}],
        "switchboard": {
            "alert": alert.pk,
            "event": event,
            "kind": alert.kind,
            "subject": alert.subject,
            "about": alert.subject_label,
            "status": alert.status,
            "detail": alert.detail,
            "value": alert.value,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "url": alert_url(alert),
        },
    }


def alert_test_send() -> list[tuple[bool, str]]:
    """Send a made-up alert to every configured channel now; returns, per channel, whether
    it went and what happened in words. Nothing is stored."""
    now = timezone.now()
    alert = Alert(
        kind=Alert.Kind.WORKER_MISSING,
        subject="test",
        subject_label="A test alert sent from the console",
        detail="This is a test: nothing is wrong.",
        opened_at=now,
        last_seen_at=now,
    )
    results = []
    if settings.ALERT_EMAILS:
        try:
            message = alert_email(
                alert=alert, event=AlertNotice.Event.OPENED, to=settings.ALERT_EMAILS
            )
            message.subject = "[Switchboard] Test alert"
            message.send()
            email_count(outcome="sent")
            results.append((True, f"E-mail sent to {', '.join(settings.ALERT_EMAILS)}."))
        except (smtplib.SMTPException, OSError) as error:
            email_count(outcome="failed")
            results.append((False, f"E-mail not sent: {type(error).__name__}: {error}"))
    if settings.ALERT_WEBHOOK_URL:
        body = alert_webhook_body(alert=alert, event=AlertNotice.Event.OPENED)
        body["text"] = "[Switchboard] Test alert: nothing is wrong."
        try:
            response = httpx.post(
                settings.ALERT_WEBHOOK_URL, json=body, timeout=WEBHOOK_TIMEOUT_SECONDS
            )
            ok = response.status_code < 300
            results.append((ok, f"Webhook answered {response.status_code}."))
        except httpx.HTTPError as error:
            results.append((False, f"Webhook not reached: {type(error).__name__}: {error}"))
    return results
