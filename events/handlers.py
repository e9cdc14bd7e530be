"""The registry the dispatcher looks event types up in.

A source module registers a handler per event type it understands:

    @handles("openvolt", "customer.created")
    def customer_created(delivery): ...

A handler receives the Delivery and runs inside the transaction that marks it processed. It
returns an Outcome: what it did, in words for people (kept on the delivery and e-mailed to
subscribers), links to what it changed, and what it skipped without failing. A type nobody
registered ends `ignored`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models
from django.urls import reverse

from events.models import Delivery
from events.subjects import normalized


@dataclass
class Outcome:
    summary: str = ""
    warnings: list[str] = field(default_factory=list)
    # (label, admin path) of each object the delivery changed.
    links: list[tuple[str, str]] = field(default_factory=list)
    # Search keys of those objects (events/subjects.py), added to the delivery's.
    subjects: list[str] = field(default_factory=list)

    def link(self, obj: models.Model, label: str | None = None) -> None:
        """Name an object the delivery changed: linked from the delivery and its e-mails, and
        findable by its ids, meter number and e-mail address in the delivery search."""
        meta = obj._meta
        path = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        entry = (label or f"{meta.verbose_name.capitalize()} {obj}", path)
        if entry not in self.links:
            self.links.append(entry)
        for attribute in ("external_id", "meter_number", "email"):
            value = getattr(obj, attribute, "")
            if isinstance(value, str) and value and normalized(value) not in self.subjects:
                self.subjects.append(normalized(value))


Handler = Callable[[Delivery], Outcome | None]

_handlers: dict[tuple[str, str], Handler] = {}


def handles(source: str, *event_types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            key = (source, event_type)
            if key in _handlers and _handlers[key] is not handler:
                raise ValueError(f"{source} {event_type} already has a handler.")
            _handlers[key] = handler
        return handler

    return register


def unregister(source: str, event_type: str) -> None:
    _handlers.pop((source, event_type), None)


def handler_for(source: str, event_type: str) -> Handler | None:
    return _handlers.get((source, event_type))
