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
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models

from common.admin import admin_change_url
from events.models import Delivery, Source
from events.sources.base import WebhookSource
from events.sources.nectar import NectarSource
from events.sources.openvolt import OpenvoltSource
from events.subjects import normalized


class PayloadError(ValueError):
    """A stored event lacks what its handler needs, or holds a value it cannot read: the
    delivery fails with this message, which names the field."""


@dataclass
class Outcome:
    """What a handler did with a delivery."""

    summary: str = ""
    warnings: list[str] = field(default_factory=list)
    # (label, admin path) of each object the delivery changed.
    links: list[tuple[str, str]] = field(default_factory=list)
    # Search keys of those objects (events/subjects.py), added to the delivery's.
    subjects: list[str] = field(default_factory=list)

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

_sources: dict[str, WebhookSource] = {
    Source.OPENVOLT: OpenvoltSource(),
    Source.NECTAR: NectarSource(),
}
_handlers: dict[tuple[str, str], Handler] = {}


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


def event_types_of(*, source: str) -> list[str]:
    """The event types a source's handlers act on, sorted."""
    return sorted(event_type for (of, event_type) in _handlers if of == source)


def known_event_types() -> list[str]:
    """Every event type with a handler, of any source, sorted."""
    return sorted({event_type for _, event_type in _handlers})
