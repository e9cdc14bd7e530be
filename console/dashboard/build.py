"""The dashboard on the admin's index: what it shows, for whom, and where each number leads.

Every number links to the changelist filtered to exactly the rows it counts (the same
conditions: the filters' own), and a part about a model is left out for people who may not
view that model.
"""

from datetime import date, timedelta

from django.conf import settings
from django.contrib.admin import AdminSite
from django.db.models import Count, Model
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from consents.admin_filters import expiring_soon_q
from consents.models import FollowUp, HostedConsent
from console import selectors
from console.admin_filters import without_valid_consent_q
from console.dashboard.charts import CHART_DAYS, deliveries_chart, readings_chart
from console.dashboard.parts import (
    STATUSES_SHOWN,
    AlertLine,
    Card,
    Dashboard,
    Item,
    Links,
    Panel,
    StatusRow,
)
from console.models import Alert
from events.admin_filters import (
    LAST_7_DAYS,
    LAST_24_HOURS,
    WAITING,
    WAITING_AFTER,
    conflict_q,
    waiting_q,
)
from events.models import Delivery, WebhookEndpoint
from events.retention import deliveries_kept_estimate, next_prune_at
from meters.admin_filters import incomplete_meters_q, stale_meters_q
from meters.completeness import COMPLETE_PERCENT
from meters.models import IntervalReading, Meter
from meters.selectors import STALE_AFTER

LIST_LENGTH = 5
FAILURES = (Delivery.Status.FAILED, Delivery.Status.DEAD)


def dashboard_build(*, request, site: AdminSite) -> Dashboard:
    """The parts of the dashboard the user may see, each filled in."""
    now = timezone.now()
    today = timezone.localdate(now)
    links = Links(site)
    dashboard = Dashboard()

    if _can_view(request, site, Alert):
        _add_alerts(dashboard, links, now=now)
    if _can_view(request, site, Delivery):
        _add_deliveries(
            dashboard,
            links,
            now=now,
            today=today,
            endpoint_ids=_can_view(request, site, WebhookEndpoint),
        )
    if _can_view(request, site, FollowUp):
        _add_follow_ups(dashboard, links, now=now)
    if _can_view(request, site, Meter):
        _add_meters(dashboard, links, now=now)
    if _can_view(request, site, HostedConsent):
        _add_expiring_consents(dashboard, links, now=now)
    if _can_view(request, site, IntervalReading):
        dashboard.charts.append(readings_chart(now=now))
    return dashboard


def _can_view(request, site: AdminSite, model: type[Model]) -> bool:
    return site.is_registered(model) and site.get_model_admin(model).has_view_permission(request)


ALERTS_SHOWN = 10


def _add_alerts(dashboard: Dashboard, links: Links, *, now) -> None:
    """The alerts not resolved yet, open ones first, then the newest."""
    unresolved = selectors.alerts_unresolved()
    dashboard.alerts_link = links.changelist(Alert, status__in="open,acknowledged")
    dashboard.alerts = [
        AlertLine(
            text=f"{alert.get_kind_display()}: {alert.subject_label}"
            if alert.subject_label
            else alert.get_kind_display(),
            link=links.change(alert),
            detail=alert.detail,
            since=f"for {timesince(alert.opened_at, now, depth=2)}",
            acknowledged=f"acknowledged by {alert.acknowledged_by}"
            if alert.status == Alert.Status.ACKNOWLEDGED
            else "",
        )
        for alert in unresolved[:ALERTS_SHOWN]
    ]


def _add_deliveries(
    dashboard: Dashboard, links: Links, *, now, today: date, endpoint_ids: bool
) -> None:
    last_day = selectors.deliveries_by_status_since(since=now - timedelta(hours=24))
    daily = selectors.delivery_daily_counts(first_day=today - timedelta(days=CHART_DAYS - 1))
    week_start = today - timedelta(days=6)
    last_week: dict[str, int] = {}
    for day, counts in daily.items():
        if day >= week_start:
            for status, count in counts.items():
                last_week[status] = last_week.get(status, 0) + count

    dashboard.cards.append(
        Card(
            "Deliveries received, last 24 hours",
            links.deliveries(sum(last_day.values()), period=LAST_24_HOURS),
            "Every event Openvolt and Nectar sent us.",
            second=links.deliveries(sum(last_week.values()), period=LAST_7_DAYS),
            second_label="in 7 days",
        )
    )
    dashboard.cards.append(
        Card(
            "Processing failures, last 24 hours",
            links.deliveries(
                sum(last_day.get(s, 0) for s in FAILURES),
                period=LAST_24_HOURS,
                statuses=FAILURES,
                tone="alarm",
            ),
            "Deliveries that went wrong, retrying or given up.",
            second=links.deliveries(
                sum(last_week.get(s, 0) for s in FAILURES),
                period=LAST_7_DAYS,
                statuses=FAILURES,
                tone="alarm",
            ),
            second_label="in 7 days",
        )
    )
    dashboard.status_rows = [
        StatusRow(
            shown,
            links.deliveries(
                last_day.get(shown.status, 0),
                period=LAST_24_HOURS,
                statuses=(shown.status,),
                tone=_tone(shown.status),
            ),
            links.deliveries(
                last_week.get(shown.status, 0),
                period=LAST_7_DAYS,
                statuses=(shown.status,),
                tone=_tone(shown.status),
            ),
        )
        for shown in STATUSES_SHOWN
    ]

    dead = selectors.capped_count(Delivery.objects.filter(status=Delivery.Status.DEAD))
    failed = selectors.capped_count(Delivery.objects.filter(status=Delivery.Status.FAILED))
    dashboard.attention.append(
        Panel(
            "Deliveries that failed",
            items=[],
            empty="",
            figures=[
                (
                    "failed for good: a person must look",
                    links.figure(Delivery, dead, tone="alarm", status__exact="dead"),
                ),
                (
                    "failed, will be retried automatically",
                    links.figure(Delivery, failed, tone="warn", status__exact="failed"),
                ),
            ],
            note="Whenever they were received. Open the list to see what went wrong, and to "
            "reprocess them once fixed.",
        )
    )
    dashboard.attention.append(_unfinished_panel(links, now=now))
    dashboard.attention.append(_body_conflicts_panel(links, now=now))
    dashboard.attention.append(_silent_endpoints_panel(links, now=now, endpoint_ids=endpoint_ids))
    dashboard.charts.insert(0, deliveries_chart(links, daily, today=today))
    dashboard.retention = _retention_line(now=now)


def _retention_line(*, now) -> str:
    """The table's estimate of its rows (events/retention.py): no count of millions."""
    next_prune = timezone.localtime(next_prune_at(now=now))
    return (
        f"Deliveries are kept {settings.DELIVERY_RETENTION_DAYS} days after they end (failed "
        f"and dead ones until a person acts): {deliveries_kept_estimate():,} kept (estimate), "
        f"next prune at {next_prune:%H:%M}."
    )


def _unfinished_panel(links: Links, *, now) -> Panel:
    """Deliveries still pending or processing minutes after they arrived: the worker is
    behind or stopped, or their job was lost (the sweeper queues those again each minute)."""
    minutes = int(WAITING_AFTER.total_seconds() // 60)
    unfinished = Delivery.objects.filter(waiting_q(now=now))
    shown = (
        (Delivery.Status.PENDING, "waiting for the worker"),
        (Delivery.Status.PROCESSING, "in progress (a large portfolio, item by item, takes longer)"),
    )
    counts = {
        status: selectors.capped_count(unfinished.filter(status=status)) for status, _ in shown
    }
    return Panel(
        f"Deliveries not finished after {minutes} minutes",
        items=[],
        empty="" if any(count.value for count in counts.values()) else "None: the worker keeps up.",
        figures=[
            (
                words,
                links.figure(
                    Delivery, counts[status], tone="warn", status__exact=status, waiting=WAITING
                ),
            )
            for status, words in shown
        ],
        note="Received more than "
        f"{minutes} minutes ago. Switchboard queues again, every minute, any whose job was "
        "lost (in a database outage, say); if these numbers stay up, check the workers.",
    )


def _body_conflicts_panel(links: Links, *, now) -> Panel:
    """Deliveries whose id came again with another body in the last 7 days: a sender's bug,
    or someone replaying an id with a body of their own. A capped count of the few rows of
    the partial index on last_conflict_at."""
    count = selectors.capped_count(Delivery.objects.filter(conflict_q(LAST_7_DAYS, now=now)))
    return Panel(
        "Deliveries sent again with another body",
        items=[],
        empty="" if count.value else "None: every id sent again came with the same body.",
        figures=[
            (
                "in the last 7 days",
                links.figure(Delivery, count, tone="warn", conflict=LAST_7_DAYS),
            )
        ],
        note="A later receipt of a stored delivery, same id, carried a different body. "
        "Switchboard kept the first body and answered the later one as a duplicate, without "
        "storing it. A sender's bug, or someone reusing an id: each delivery's receipts say "
        "when and from where.",
    )


def _tone(status: str) -> str:
    if status == Delivery.Status.DEAD:
        return "alarm"
    return "warn" if status == Delivery.Status.FAILED else ""


def _silent_endpoints_panel(links: Links, *, now, endpoint_ids: bool) -> Panel:
    """`endpoint_ids`: whether the user may see endpoints' ids, which for Openvolt are the
    credential; without, endpoints are named by description and linked by source."""
    items = [
        Item(
            text=str(silent.endpoint)
            if endpoint_ids
            else f"{silent.endpoint.get_source_display()}: "
            f"{silent.endpoint.description or 'an endpoint without a description'}",
            link=links.changelist(Delivery, endpoint=str(silent.endpoint.pk))
            if endpoint_ids
            else links.changelist(Delivery, source__exact=silent.endpoint.source),
            detail=(
                f"nothing for {timesince(silent.last_received_at, now, depth=2)}; "
                f"usually every {_duration(silent.usual_gap)}"
            ),
        )
        for silent in selectors.endpoints_silent(now=now)
    ]
    return Panel(
        "Endpoints gone quiet",
        items=items,
        empty="Every endpoint is receiving at its usual pace.",
        note=(
            "Flagged when silent for more than three times the usual gap between its "
            "deliveries (the middle gap of its last week of activity), and never before an "
            "hour; one that usually hears something every day is flagged after a day."
        ),
    )


def _add_follow_ups(dashboard: Dashboard, links: Links, *, now) -> None:
    open_ones = selectors.follow_ups_open()
    count = links.figure(
        FollowUp,
        selectors.capped_count(open_ones),
        tone="warn",
        status__in=",".join(FollowUp.OPEN_STATUSES),
    )
    dashboard.cards.append(
        Card("Open follow-ups", count, "Customers to contact after a revoked consent.")
    )
    dashboard.attention.append(
        Panel(
            "Follow-ups waiting longest",
            items=[
                Item(
                    text=follow_up.customer_name or follow_up.customer_email or "Unknown customer",
                    link=links.change(follow_up),
                    detail=(
                        f"{follow_up.get_status_display()}, opened "
                        f"{timesince(follow_up.opened_at, now, depth=1)} ago"
                    ),
                )
                for follow_up in open_ones[:LIST_LENGTH]
            ],
            empty="No follow-up is waiting.",
            more=count,
        )
    )


def _add_meters(dashboard: Dashboard, links: Links, *, now) -> None:
    # One pass over the meters for both: a few thousand rows, no index needed.
    counts = Meter.objects.aggregate(
        stale=Count("pk", filter=stale_meters_q(now=now)),
        incomplete=Count("pk", filter=incomplete_meters_q()),
    )
    stale = selectors.CappedCount(counts["stale"])
    dashboard.cards.append(
        Card(
            "Meters without recent data",
            links.figure(Meter, stale, tone="warn", data="stale"),
            f"No new half-hour for {STALE_AFTER.days} days, or none yet.",
        )
    )
    incomplete = selectors.CappedCount(counts["incomplete"])
    dashboard.cards.append(
        Card(
            f"Meters under {COMPLETE_PERCENT} % complete",
            links.figure(Meter, incomplete, tone="warn", completeness="under"),
            "Half-hours missing over the last 13 months: open one for its gaps, or re-fetch "
            "them from the list.",
        )
    )
    unconsented = selectors.capped_count(Meter.objects.filter(without_valid_consent_q()))
    dashboard.cards.append(
        Card(
            "Meters without a valid consent",
            links.figure(Meter, unconsented, tone="warn", consent="invalid"),
            "Named on a revoked or expired consent, and on no valid one.",
        )
    )


def _add_expiring_consents(dashboard: Dashboard, links: Links, *, now) -> None:
    expiring = selectors.hosted_consents_matching(condition=expiring_soon_q(now=now))
    count = links.figure(
        HostedConsent, selectors.capped_count(expiring), tone="warn", expiry="soon"
    )
    dashboard.cards.append(
        Card("Consents expiring within 30 days", count, "Valid today; ask the customer to renew.")
    )
    dashboard.attention.append(
        Panel(
            "Consents expiring soonest",
            items=[
                Item(
                    text=str(consent.customer or consent.external_id),
                    link=links.change(consent),
                    detail=(
                        f"expires {timezone.localtime(consent.expiry):%-d %b %Y}, "
                        f"in {timeuntil(consent.expiry, now, depth=1)}"
                    ),
                )
                for consent in expiring[:LIST_LENGTH]
            ],
            empty="No consent expires within 30 days.",
            more=count,
        )
    )


def _duration(gap: timedelta) -> str:
    """A gap between deliveries in words: seconds and minutes count here, unlike timesince."""
    seconds = int(gap.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 1)} seconds" if seconds != 1 else "second"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} minutes" if minutes != 1 else "minute"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hours" if hours != 1 else "hour"
    return f"{hours // 24} days"
