"""The alert rules: what each kind of alert watches.

A rule is a function from a RuleContext to the Findings that hold now, one per subject,
registered for its kind:

    @rule(Alert.Kind.QUEUE_AGE)
    def queue_age(context): ...

An alert opens for a finding with no open alert, and resolves when its subject is no longer
found. `context.watched` names the subjects with an alert still open (or resolved by hand
while the condition held): a rule that only looks at recent rows must still look at those,
or they would resolve for having fallen out of its window.
"""

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from common.admin import admin_change_url, admin_changelist_url
from console import operations
from console.models import Alert
from console.selectors import endpoints_silent
from events.models import Delivery, EndpointSecret, Source, WebhookEndpoint
from events.selectors import openvolt_key_refusal
from events.sources.nectar import secret_readable


@dataclass(frozen=True)
class RuleContext:
    now: datetime
    watched: frozenset[str]


@dataclass(frozen=True)
class Finding:
    subject: str
    subject_label: str
    detail: str
    value: float | None = None
    link: str = ""


Rule = Callable[[RuleContext], Iterable[Finding]]
RULES: dict[str, Rule] = {}


def rule(kind: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        if kind in RULES:
            raise ValueError(f"The {kind} alert already has a rule.")
        RULES[kind] = function
        return function

    return register


def endpoint_subject(endpoint: WebhookEndpoint) -> str:
    """An endpoint's key in alerts: a digest of its id, which for Openvolt is the credential
    and goes into no alert, e-mail or chat message."""
    return "endpoint:" + hashlib.sha256(str(endpoint.pk).encode()).hexdigest()[:16]


def endpoint_label(endpoint: WebhookEndpoint) -> str:
    description = endpoint.description or "an endpoint without a description"
    return f"{endpoint.get_source_display()}: {description}"


# Dead deliveries received this recently are looked for; older ones only while watched.
DEAD_LOOKBACK = timedelta(days=7)
# At most this many new dead-delivery alerts a run; the next runs take the rest.
DEAD_PER_RUN = 50


@rule(Alert.Kind.DELIVERY_DEAD)
def delivery_dead(context: RuleContext) -> Iterable[Finding]:
    watched_ids = [int(s.split(":")[1]) for s in context.watched if s.startswith("delivery:")]
    recent = Delivery.objects.filter(
        status=Delivery.Status.DEAD, received_at__gte=context.now - DEAD_LOOKBACK
    ).order_by("-received_at")
    still = Delivery.objects.filter(status=Delivery.Status.DEAD, pk__in=watched_ids)
    fields = ("pk", "source", "event_type", "external_id", "error", "attempt_count")
    for delivery in {
        *recent.only(*fields)[:DEAD_PER_RUN],
        *still.only(*fields),
    }:
        yield Finding(
            subject=f"delivery:{delivery.pk}",
            subject_label=f"{delivery.get_source_display()} {delivery.event_type or 'delivery'} "
            f"{delivery.external_id}"[:300],
            detail=f"Retries used up after {delivery.attempt_count} attempts: "
            f"{(delivery.error or 'no error recorded').splitlines()[0][:300]}",
            value=delivery.attempt_count,
            link=admin_change_url(delivery),
        )


@rule(Alert.Kind.ENDPOINT_SILENT)
def endpoint_silent(context: RuleContext) -> Iterable[Finding]:
    for silent in endpoints_silent(now=context.now):
        hours = silent.silent_for.total_seconds() / 3600
        yield Finding(
            subject=endpoint_subject(silent.endpoint),
            subject_label=endpoint_label(silent.endpoint),
            detail=f"Nothing received for {hours:.1f} h; it usually hears something every "
            f"{silent.usual_gap.total_seconds() / 60:.0f} min.",
            value=round(silent.silent_for.total_seconds()),
            link=admin_changelist_url(Delivery, source__exact=silent.endpoint.source),
        )


@rule(Alert.Kind.WORKER_MISSING)
def worker_missing(context: RuleContext) -> Iterable[Finding]:
    silence = operations.worker_silence(now=context.now)
    if silence is None or silence.total_seconds() > settings.WORKER_STALLED_AFTER_SECONDS:
        yield Finding(
            subject="workers",
            subject_label="Background workers",
            detail=f"{operations.worker_silence_text(silence).capitalize()}: deliveries wait "
            "unprocessed until a worker runs.",
            value=None if silence is None else round(silence.total_seconds()),
            link=admin_changelist_url(Delivery, status__exact=Delivery.Status.PENDING),
        )


@rule(Alert.Kind.OPENVOLT_KEY_REFUSED)
def openvolt_key_refused(context: RuleContext) -> Iterable[Finding]:
    refusal = openvolt_key_refusal()
    if refusal is not None:
        yield Finding(
            subject="openvolt_api_key",
            subject_label="Openvolt API key",
            detail=f"Openvolt refused the API key ({refusal.key_refused_status}) at "
            f"{refusal.key_refused_at:%Y-%m-%d %H:%M} UTC: every call to Openvolt fails until "
            "OPENVOLT_API_KEY is set to the account's current key (was it rotated?).",
            value=refusal.key_refused_status,
            link=admin_changelist_url(Delivery, status__exact=Delivery.Status.FAILED),
        )


@rule(Alert.Kind.ENDPOINT_SECRET_UNREADABLE)
def endpoint_secret_unreadable(context: RuleContext) -> Iterable[Finding]:
    counts: dict[WebhookEndpoint, Counter[str]] = defaultdict(Counter)
    secrets = EndpointSecret.objects.active(at=context.now).filter(
        endpoint__source=Source.NECTAR, endpoint__enabled=True
    )
    for row in secrets.select_related("endpoint"):
        secret = row.secret
        if secret is None:
            counts[row.endpoint]["undecryptable"] += 1
        else:
            counts[row.endpoint]["readable" if secret_readable(secret) else "malformed"] += 1
    for endpoint, found in counts.items():
        unreadable = found["malformed"] + found["undecryptable"]
        if not unreadable:
            continue
        consequence = (
            "its other secrets still verify Nectar's signatures"
            if found["readable"]
            else "every delivery to it is refused (401)"
        )
        reasons = []
        if found["malformed"]:
            reasons.append(f"{found['malformed']} not whsec_ and base64")
        remedy = "Rotate its secret and give Nectar the new one"
        if found["undecryptable"]:
            reasons.append(f"{found['undecryptable']} not decrypted by SECRETS_ENCRYPTION_KEY")
            remedy = (
                "Put the key it was encrypted with back in SECRETS_ENCRYPTION_KEY, or rotate "
                "its secret and give Nectar the new one"
            )
        yield Finding(
            subject=endpoint_subject(endpoint),
            subject_label=endpoint_label(endpoint),
            detail=f"{unreadable} of its {found.total()} signing secrets in use cannot be read "
            f"({'; '.join(reasons)}): {consequence}. {remedy}; the alert resolves when the "
            "unreadable one can be read or has expired.",
            value=unreadable,
            link=admin_changelist_url(WebhookEndpoint, source__exact=Source.NECTAR),
        )


# Over the last hour, per endpoint: what did not end well (rejected bodies included).
FAILURE_WINDOW = timedelta(hours=1)
FAILURE_MIN_DELIVERIES = 10
FAILED_STATUSES = (Delivery.Status.FAILED, Delivery.Status.DEAD, Delivery.Status.REJECTED)
_FAILURES_SQL = f"""
    SELECT endpoint_id, count(*), count(*) FILTER (WHERE status = ANY(%s))
    FROM {Delivery._meta.db_table}
    WHERE received_at >= %s
    GROUP BY endpoint_id
    HAVING count(*) >= %s
"""


@rule(Alert.Kind.FAILURE_RATE)
def failure_rate(context: RuleContext) -> Iterable[Finding]:
    threshold = settings.ALERT_FAILURE_RATE
    with connection.cursor() as cursor:
        cursor.execute(
            _FAILURES_SQL,
            [list(FAILED_STATUSES), context.now - FAILURE_WINDOW, FAILURE_MIN_DELIVERIES],
        )
        rates = {
            endpoint_id: (failed / total, failed, total)
            for endpoint_id, total, failed in cursor.fetchall()
            if failed / total > threshold
        }
    for endpoint in WebhookEndpoint.objects.filter(pk__in=rates):
        rate, failed, total = rates[endpoint.pk]
        yield Finding(
            subject=endpoint_subject(endpoint),
            subject_label=endpoint_label(endpoint),
            detail=f"{failed} of the {total} deliveries of the last hour failed "
            f"({rate:.0%}; the alert is set at {threshold:.0%}).",
            value=round(rate, 4),
            link=admin_changelist_url(
                Delivery, source__exact=endpoint.source, status__in=",".join(FAILED_STATUSES)
            ),
        )


@rule(Alert.Kind.QUEUE_AGE)
def queue_age(context: RuleContext) -> Iterable[Finding]:
    limit = settings.ALERT_QUEUE_AGE_SECONDS
    for queue in operations.queues():
        if queue.oldest_age > limit:
            yield Finding(
                subject=f"queue:{queue.name}",
                subject_label=f"The {queue.name} queue",
                detail=f"The oldest waiting job has waited {queue.oldest_age:.0f} s "
                f"(the alert is set at {limit} s); {queue.todo} jobs wait.",
                value=round(queue.oldest_age),
            )
