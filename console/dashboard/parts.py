"""What the dashboard is made of: cards, figures that link, panels, charts."""

from dataclasses import dataclass, field

from django.contrib.admin import AdminSite
from django.db.models import Model
from django.utils.safestring import SafeString

from common.admin import admin_change_url, admin_changelist_url
from console import selectors
from events.models import Delivery


@dataclass(frozen=True)
class StatusShown:
    """A delivery status as the dashboard names and explains it."""

    status: str
    label: str
    meaning: str


# In the order of the table and of the chart's stacks, bottom up: the problems on top.
STATUSES_SHOWN = [
    StatusShown(Delivery.Status.PROCESSED, "Processed", "Done: the mirror is up to date."),
    StatusShown(Delivery.Status.IGNORED, "Ignored", "Event types Switchboard does not act on."),
    StatusShown(Delivery.Status.REJECTED, "Rejected", "Invalid requests, kept for the record."),
    StatusShown(Delivery.Status.PENDING, "Waiting", "Stored, waiting for the background worker."),
    StatusShown(Delivery.Status.PROCESSING, "In progress", "Being processed right now."),
    StatusShown(Delivery.Status.FAILED, "Failed, retrying", "Will be tried again automatically."),
    StatusShown(Delivery.Status.DEAD, "Failed for good", "Retries used up: a person must look."),
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
class StatusRow:
    shown: StatusShown
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


@dataclass(frozen=True)
class AlertLine:
    """An alert still open, at the top of the dashboard."""

    text: str
    link: str
    detail: str
    since: str
    acknowledged: str = ""


@dataclass
class Dashboard:
    # None: the user may not see alerts; [] : none is open.
    alerts: list[AlertLine] | None = None
    alerts_link: str = ""
    cards: list[Card] = field(default_factory=list)
    status_rows: list[StatusRow] = field(default_factory=list)
    attention: list[Panel] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    # How long deliveries are kept, how many are, and when the next prune runs.
    retention: str = ""

    @property
    def is_empty(self) -> bool:
        return not (
            self.alerts is not None
            or self.cards
            or self.status_rows
            or self.attention
            or self.charts
        )


class Links:
    """The dashboard's links: to changelists filtered to what a figure counts."""

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
