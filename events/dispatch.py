"""Dispatch: which source reads a request, and which handler acts on an event.

The intake asks `source_for(name)` to authenticate a request and read its envelope. The worker
asks `handler_for(source=, event_type=)` what to do with a stored delivery. A source module
registers a handler per event type it understands:

    @handles(Source.OPENVOLT, "customer.created")
    def customer_created(delivery): ...

so a source's event types are those of its handlers (`event_types_of`). A handler receives the
Delivery and runs inside the transaction that marks it processed. It returns an Outcome: what
it did, in words for people (kept on the delivery and e-mailed to subscribers), links to what
it changed, and what it skipped without failing; or raises PayloadError for an event it cannot
read. A type nobody registered ends `ignored`.

A handler whose work calls Openvolt does not call it: it returns the items its payload names
(`Outcome.items`), each run later by a job of its own through its registered ItemKind, which
fetches outside any transaction and stores in a short one (events/items.py).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, models

from common.admin import admin_change_url
from common.fits import ValueTooLong
from events.models import Delivery, DeliveryItem, Source
from events.sources.base import WebhookSource
from events.sources.nectar import NectarSource
from events.sources.openvolt import OpenvoltSource
from events.subjects import normalized


class PayloadError(ValueError):
    """A stored event lacks what its handler needs, or holds a value it cannot read: the
    delivery fails for good with this message, which names the field."""


# What fails the same way however often it is tried: the delivery or item it stops ends dead
# at once, with the message, instead of being retried for hours. A value too long for its
# column is found before it is written (common/fits.py); DataError is the database refusing a
# value that no check caught (too long, out of range), which it will refuse again.
PERMANENT_ERRORS = (PayloadError, ValueTooLong, DataError)


class ItemSkipped(Exception):
    """An item that cannot be done and need not be retried (an id that is not Openvolt's, a
    meter Openvolt does not have): skipped with this message as a warning."""


@dataclass(frozen=True)
class WorkItem:
    """An item a handler found in its delivery: run later by a job of its own."""

    kind: str
    # What it is about (a meter's Openvolt id, a meter number): shown, and the lock's key.
    subject: str
    parameters: dict[str, Any] = field(default_factory=dict)
    # Said of it already (an interval clipped); `skipped`: why it is not to be run at all.
    warnings: tuple[str, ...] = ()
    skipped: str = ""


@dataclass
class Outcome:
    """What a handler did with a delivery, or an item kind with an item."""

    summary: str = ""
    warnings: list[str] = field(default_factory=list)
    # (label, admin path) of each object the delivery changed.
    links: list[tuple[str, str]] = field(default_factory=list)
    # Search keys of those objects (events/subjects.py), added to the delivery's.
    subjects: list[str] = field(default_factory=list)
    # Items to run next, each by a job of its own, queued in the same transaction.
    items: list[WorkItem] = field(default_factory=list)
    readings_stored: int = 0

    def link(self, obj: models.Model, label: str | None = None) -> None:
        """Name an object the delivery changed: linked from the delivery and its e-mails, and
        findable by its ids, meter number and e-mail address in the delivery search."""
        entry = (label or f"{obj._meta.verbose_name.capitalize()} {obj}", admin_change_url(obj))
        if entry not in self.links:
            self.links.append(entry)
        for attribute in ("external_id", "meter_number", "email"):
            value = getattr(obj, attribute, "")
            if isinstance(value, str) and value and normalized(value) not in self.subjects:
                self.subjects.append(normalized(value))


Handler = Callable[[Delivery], Outcome | None]


@dataclass(frozen=True)
class ItemKind:
    """How an item of one kind is done, in two steps.

    `fetch(item)` runs outside any transaction and may call the platform's API; `store(item,
    fetched)` runs in one short transaction, holding the advisory lock `<lock>:<subject>`, and
    writes the mirror. `summarize(items)`, given the delivery's finished items of this kind,
    says in words what they did together.
    """

    fetch: Callable[[DeliveryItem], Any]
    store: Callable[[DeliveryItem, Any], Outcome]
    lock: str
    summarize: Callable[[list[DeliveryItem]], str] | None = None


_sources: dict[str, WebhookSource] = {
    Source.OPENVOLT: OpenvoltSource(),
    Source.NECTAR: NectarSource(),
}
_handlers: dict[tuple[str, str], Handler] = {}
_item_kinds: dict[str, ItemKind] = {}


def source_for(name: str) -> WebhookSource:
    return _sources[name]


def handles(source: str, *event_types: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of these event types of `source`."""

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            key = (source, event_type)
            if key in _handlers and _handlers[key] is not handler:
                raise ValueError(f"{source} {event_type} already has a handler.")
            _handlers[key] = handler
        return handler

    return register


def handler_for(*, source: str, event_type: str) -> Handler | None:
    return _handlers.get((source, event_type))


def handled_event_types() -> list[tuple[str, str]]:
    """(source, event type) of every handler."""
    return list(_handlers)


def event_types_of(*, source: str) -> list[str]:
    """The event types a source's handlers act on, sorted."""
    return sorted(event_type for (of, event_type) in _handlers if of == source)


def known_event_types() -> list[str]:
    """Every event type with a handler, of any source, sorted."""
    return sorted({event_type for _, event_type in _handlers})


def item_kind_register(name: str, kind: ItemKind) -> None:
    if _item_kinds.get(name, kind) is not kind:
        raise ValueError(f"The item kind {name} is registered already.")
    _item_kinds[name] = kind


def item_kind_for(name: str) -> ItemKind:
    return _item_kinds[name]


def item_kind_names() -> list[str]:
    return sorted(_item_kinds)
