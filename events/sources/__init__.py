"""One module per platform that delivers webhooks; this maps an endpoint's source to it."""

from events.models import Source
from events.sources.base import WebhookSource
from events.sources.nectar import NectarSource
from events.sources.openvolt import OpenvoltSource

SOURCES: dict[str, WebhookSource] = {
    Source.OPENVOLT: OpenvoltSource(),
    Source.NECTAR: NectarSource(),
}


def source_for(name: str) -> WebhookSource:
    return SOURCES[name]


def known_event_types() -> list[str]:
    return sorted({event_type for source in SOURCES.values() for event_type in source.event_types})
