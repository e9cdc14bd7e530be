"""Alerts opened, updated and resolved as the rules find their conditions; acknowledged and
resolved by people.

`alert_rules_run_if_due` is what the worker's periodic job and `/health/ready` call: it
claims the AlertCheck row (at most one run per ALERT_EVALUATION_SECONDS, across every
process), remembers the latest worker heartbeat, and runs each rule in a transaction of its
own, serialised by an advisory lock per kind. Each change that people must hear about makes
its AlertNotices and queues their jobs in the same transaction.
"""

import logging
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from common.locks import advisory_locks_take
from console.alerts.rules import RULES, Finding, RuleContext
from console.models import Alert, AlertCheck, AlertNotice
from console.tasks import send_alert_notice

logger = logging.getLogger(__name__)

_CLAIM = f"""
    INSERT INTO {AlertCheck._meta.db_table} AS check_row (id, evaluated_at)
    VALUES (1, statement_timestamp())
    ON CONFLICT (id) DO UPDATE SET evaluated_at = excluded.evaluated_at
    WHERE check_row.evaluated_at <= statement_timestamp() - make_interval(secs => %s)
    RETURNING id
"""
_REMEMBER_HEARTBEAT = f"""
    UPDATE {AlertCheck._meta.db_table}
    SET worker_seen_at = greatest(
        worker_seen_at, (SELECT max(last_heartbeat) FROM procrastinate_workers)
    )
    WHERE id = 1
"""


def alert_rules_claim(*, interval: float | None = None) -> bool:
    """Whether this process may run the rules now: true at most once per interval overall."""
    seconds = settings.ALERT_EVALUATION_SECONDS if interval is None else interval
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, [seconds])
        return cursor.fetchone() is not None


def alert_rules_run_if_due(*, interval: float | None = None) -> dict[str, int] | None:
    """Run the rules if no process has in the interval; returns what changed, or None."""
    if not alert_rules_claim(interval=interval):
        return None
    return alert_rules_evaluate()


def alert_rules_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Run every rule; returns how many alerts were opened and resolved."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_REMEMBER_HEARTBEAT)
    changes = {"opened": 0, "resolved": 0}
    for kind, rule in RULES.items():
        try:
            with transaction.atomic():
                advisory_locks_take(keys=[f"alert_rules:{kind}"])
                opened, resolved = _apply(kind, rule, now=now)
        except Exception:
            # One broken rule must not silence the others.
            logger.exception("The %s alert rule failed", kind)
            continue
        changes["opened"] += opened
        changes["resolved"] += resolved
    return changes


def _apply(kind: str, rule, *, now: datetime) -> tuple[int, int]:
    watched: dict[str, list[Alert]] = defaultdict(list)
    for alert in Alert.objects.filter(kind=kind).filter(
        Q(status__in=Alert.UNRESOLVED) | Q(suppressed=True)
    ):
        watched[alert.subject].append(alert)
    findings = {
        finding.subject: finding
        for finding in rule(RuleContext(now=now, watched=frozenset(watched)))
    }
    opened = resolved = 0
    for subject, alerts in watched.items():
        finding = findings.get(subject)
        for alert in alerts:
            if alert.status in Alert.UNRESOLVED and finding:
                _seen(alert, finding, now=now)
            elif alert.status in Alert.UNRESOLVED:
                alert_resolve(alert=alert, now=now)
                resolved += 1
            elif not finding:
                alert.suppressed = False
                alert.save(update_fields=["suppressed"])
    for subject, finding in findings.items():
        if not watched.get(subject):
            alert_open(kind=kind, finding=finding, now=now)
            opened += 1
    return opened, resolved


def _seen(alert: Alert, finding: Finding, *, now: datetime) -> None:
    alert.detail, alert.value, alert.last_seen_at = finding.detail, finding.value, now
    alert.subject_label = finding.subject_label
    alert.save(update_fields=["detail", "value", "last_seen_at", "subject_label"])


def alert_open(*, kind: str, finding: Finding, now: datetime | None = None) -> Alert:
    now = now or timezone.now()
    alert = Alert.objects.create(
        kind=kind,
        subject=finding.subject,
        subject_label=finding.subject_label,
        detail=finding.detail,
        value=finding.value,
        link=finding.link,
        opened_at=now,
        last_seen_at=now,
    )
    logger.warning("Alert opened: %s (%s): %s", kind, finding.subject_label, finding.detail)
    alert_notices_queue(alert=alert, event=AlertNotice.Event.OPENED)
    return alert


def alert_resolve(*, alert: Alert, now: datetime | None = None, by=None) -> None:
    """Resolved: by the condition clearing (`by` None), or by a person while it may hold."""
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = now or timezone.now()
    alert.resolved_by = by
    alert.suppressed = by is not None
    alert.save(update_fields=["status", "resolved_at", "resolved_by", "suppressed"])
    logger.info("Alert resolved: %s (%s)", alert.kind, alert.subject_label)
    alert_notices_queue(alert=alert, event=AlertNotice.Event.RESOLVED)


def alerts_acknowledge(*, alerts, user) -> int:
    """Mark open alerts seen by `user`; returns how many were open."""
    return alerts.filter(status=Alert.Status.OPEN).update(
        status=Alert.Status.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=user
    )


def alerts_resolve(*, alerts, user) -> int:
    """Resolve by hand; each says so to the people told about alerts. Returns how many."""
    count = 0
    with transaction.atomic():
        for alert in alerts.filter(status__in=Alert.UNRESOLVED).select_for_update(of=("self",)):
            alert_resolve(alert=alert, by=user)
            count += 1
    return count


def alert_notices_queue(*, alert: Alert, event: str) -> list[AlertNotice]:
    """A notice per configured channel, each with its job, in the caller's transaction."""
    channels = []
    if settings.ALERT_EMAILS:
        channels.append((AlertNotice.Channel.EMAIL, ", ".join(settings.ALERT_EMAILS)))
    if settings.ALERT_WEBHOOK_URL:
        channels.append((AlertNotice.Channel.WEBHOOK, ""))
    notices = []
    for channel, recipients in channels:
        notice, created = AlertNotice.objects.get_or_create(
            alert=alert, event=event, channel=channel, defaults={"recipients": recipients}
        )
        if created:
            send_alert_notice.defer(notice_id=notice.pk)
            notices.append(notice)
    return notices
