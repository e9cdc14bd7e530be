"""The registry ties each source's event types to a handler, a recorded fixture and a sample."""

from pathlib import Path

import pytest

from events.dispatch import event_types_of, handler_for, known_event_types
from events.models import Source
from sandbox import samples

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.mark.parametrize("source", Source.values)
def test_every_event_type_has_a_handler_a_recorded_fixture_and_a_sandbox_sample(source):
    event_types = event_types_of(source=source)
    recorded = sorted(path.stem for path in (FIXTURES / source).glob("*.json"))
    sampled = sorted(name for name, of in samples.EVENT_SOURCES.items() if of == source)

    assert event_types, f"{source} has no handler"
    assert recorded == event_types
    assert sampled == event_types
    for event_type in event_types:
        assert handler_for(source=source, event_type=event_type) is not None


def test_known_event_types_are_those_of_every_source_together():
    assert known_event_types() == sorted(
        {event_type for source in Source.values for event_type in event_types_of(source=source)}
    )
    assert "meter_data.received" in known_event_types()
    assert "document.created.v2" in known_event_types()


def test_an_event_type_of_another_source_has_no_handler_there():
    assert handler_for(source=Source.NECTAR, event_type="meter_data.received") is None
    assert handler_for(source=Source.OPENVOLT, event_type="unknown.type") is None
