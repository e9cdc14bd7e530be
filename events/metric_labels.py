"""Label values of the metrics (common/metrics.py) that the way in knows how to bound."""

from common.metrics import label_bounded
from events.dispatch import known_event_types


def event_type_label(event_type: str) -> str:
    """The event type as a metric label: itself when a handler acts on it, else `other`, so
    that whatever senders invent cannot grow the metrics without bound."""
    return label_bounded(event_type, known=set(known_event_types()))
