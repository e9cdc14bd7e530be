"""The dashboard on the admin's index: what it shows, for whom, and where each number leads.

Every number links to the changelist filtered to exactly the rows it counts (the same
conditions: the filters' own), and a part about a model is left out for people who may not
view that model.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.admin import AdminSite
from django.db.models import Model
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

from common.admin import admin_change_url, admin_changelist_url
from common.charts import PALETTE, Bar, Segment, bar_chart
from consents.admin_filters import expiring_soon_q
from consents.models import FollowUp, HostedConsent
from console import selectors
from console.admin_filters import without_valid_consent_q
from events.admin_filters import LAST_7_DAYS, LAST_24_HOURS
from events.models import Delivery, WebhookEndpoint
from meters.admin_filters import stale_meters_q
from meters.models import IntervalReading, Meter
from meters.selectors import STALE_AFTER

CHART_DAYS = 30
LIST_LENGTH = 5
FAILURES = (Delivery.Status.FAILED, Delivery.Status.DEAD)


@dataclass(frozen=True)
class Outcome:
    status: str
    label: str
    meaning: str


# In the order of the table and of the chart's stacks, bottom up: the problems on top.
OUTCOMES = [
    Outcome(Delivery.Status.PROCESSED, "Processed", "Done: the mirror is up to date."),
    Outcome(Delivery.Status.IGNORED, "Ignored", "Event types Switchboard does not act on."),
    Outcome(Delivery.Status.REJECTED, "Rejected", "Invalid requests, kept for the record."),
    Outcome(Delivery.Status.PENDING, "Waiting", "Stored, waiting for the background worker."),
    Outcome(Delivery.Status.PROCESSING, "In progress", "Being processed right now."),
    Outcome(Delivery.Status.FAILED, "Failed, retrying", "Will be tried again automatically."),
    Outcome(Delivery.Status.DEAD, "Failed for good", "Retries used up: a person must look."),
]


@dataclass(frozen=True)
class Figure:
    text: str
    link: str
    # "alarm" (something broke), "warn" (someone should act) or "": a non-zero value only.
    tone: str = ""


@dataclass(frozen=True)
class Card:
    title: str
    figure: Figure
    explanation: str
    second: Figure | None = None
    second_label: str = ""


@dataclass(frozen=True)
class OutcomeRow:
    outcome: Outcome
    last_day: Figure
    last_week: Figure


@dataclass(frozen=True)
class Item:
    """One line of a "needs attention" list."""

    text: str
    link: str
    detail: str


@dataclass(frozen=True)
class Chart:
    title: str
    svg: SafeString
    legend: list[tuple[str, str]]
    note: str


@dataclass(frozen=True)
class Panel:
    title: str
    items: list[Item]
    empty: str
    note: str = ""
    figures: list[tuple[str, Figure]] = field(default_factory=list)
    more: Figure | None = None


@dataclass
class Dashboard:
    cards: list[Card] = field(default_factory=list)
    outcomes: list[OutcomeRow] = field(default_factory=list)
    attention: list[Panel] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.cards or self.outcomes or self.attention or self.charts)


def dashboard_build(*, request, site: AdminSite) -> Dashboard:
    """The parts of the dashboard the user may see, each filled in."""
    now = timezone.now()
    today = timezone.localdate(now)
    links = _Links(site)
    dashboard = Dashboard()

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
        dashboard.charts.append(_readings_chart(today=today))
    return dashboard


def _can_view(request, site: AdminSite, model: type[Model]) -> bool:
    return site.is_registered(model) and site.get_model_admin(model).has_view_permission(request)


class _Links:
    def __init__(self, site: AdminSite):
        self.site = site

    def changelist(self, model: type[Model], **params) -> str:
        return admin_changelist_url(model, site_name=self.site.name, **params)

    def change(self, obj: Model) -> str:
        return admin_change_url(obj, site_name=self.site.name)

    def figure(self, model: type[Model], value, *, tone: str = "", **params) -> Figure:
        count = value.value if isinstance(value, selectors.CappedCount) else value
        text = str(value) if isinstance(value, selectors.CappedCount) else f"{value:,}"
        return Figure(text, self.changelist(model, **params), tone=tone if count else "")

    def deliveries(self, value: int, *, period: str, statuses=(), tone="") -> Figure:
        params = {"received": period}
        if len(statuses) == 1:
            params["status__exact"] = statuses[0]
        elif statuses:
            params["status__in"] = ",".join(statuses)
        return self.figure(Delivery, value, tone=tone, **params)


def _add_deliveries(
    dashboard: Dashboard, links: _Links, *, now, today: date, endpoint_ids: bool
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
    dashboard.outcomes = [
        OutcomeRow(
            outcome,
            links.deliveries(
                last_day.get(outcome.status, 0),
                period=LAST_24_HOURS,
                statuses=(outcome.status,),
                tone=_tone(outcome.status),
            ),
            links.deliveries(
                last_week.get(outcome.status, 0),
                period=LAST_7_DAYS,
                statuses=(outcome.status,),
                tone=_tone(outcome.status),
            ),
        )
        for outcome in OUTCOMES
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
    dashboard.attention.append(_silent_endpoints_panel(links, now=now, endpoint_ids=endpoint_ids))
    dashboard.charts.insert(0, _deliveries_chart(links, daily, today=today))


def _tone(status: str) -> str:
    if status == Delivery.Status.DEAD:
        return "alarm"
    return "warn" if status == Delivery.Status.FAILED else ""


def _silent_endpoints_panel(links: _Links, *, now, endpoint_ids: bool) -> Panel:
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


def _add_follow_ups(dashboard: Dashboard, links: _Links, *, now) -> None:
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


def _add_meters(dashboard: Dashboard, links: _Links, *, now) -> None:
    stale = selectors.capped_count(Meter.objects.filter(stale_meters_q(now=now)))
    dashboard.cards.append(
        Card(
            "Meters without recent data",
            links.figure(Meter, stale, tone="warn", data="stale"),
            f"No new half-hour for {STALE_AFTER.days} days, or none yet.",
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


def _add_expiring_consents(dashboard: Dashboard, links: _Links, *, now) -> None:
    expiring = selectors.hosted_consents_matching(expiring_soon_q(now=now))
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


def _chart_days(today: date) -> list[date]:
    return [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]


def _day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def _deliveries_chart(links: _Links, daily: dict[date, dict[str, int]], *, today: date) -> Chart:
    bars = [
        Bar(
            _day_label(day),
            [
                Segment(
                    outcome.status,
                    daily.get(day, {}).get(outcome.status, 0),
                    link=links.changelist(
                        Delivery, received=day.isoformat(), status__exact=outcome.status
                    ),
                    label=outcome.label.lower(),
                )
                for outcome in OUTCOMES
            ],
        )
        for day in _chart_days(today)
    ]
    return Chart(
        "Deliveries per day, by outcome",
        bar_chart(bars, title="Deliveries per day, by outcome", label_every=5),
        legend=[(PALETTE[outcome.status], outcome.label) for outcome in OUTCOMES],
        note="Click a bar to see that day's deliveries with that outcome. Counted every "
        "minute by the background worker; older days are recounted every hour.",
    )


def _readings_chart(*, today: date) -> Chart:
    received = selectors.readings_received_daily(first_day=today - timedelta(days=CHART_DAYS - 1))
    bars = [
        Bar(_day_label(day), [Segment("readings", received.get(day, 0), label="readings")])
        for day in _chart_days(today)
    ]
    return Chart(
        "Half-hourly readings received per day",
        bar_chart(bars, title="Half-hourly readings received per day", label_every=5),
        legend=[],
        note="Readings of every meter fetched from Openvolt that day, re-fetches included.",
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
