"""The registry the dispatcher looks event types up in.

A source module registers a handler per event type it understands:

    @handles("openvolt", "customer.created")
    def customer_created(delivery): ...

A handler receives the Delivery, runs inside the transaction that marks it processed, and may
return a list of warnings to keep on the delivery. A type nobody registered ends `ignored`.
"""

from collections.abc import Callable

from events.models import Delivery

Handler = Callable[[Delivery], list[str] | None]

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
