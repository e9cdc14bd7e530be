"""Every Nectar event type, end to end: signed POST, stored, run by delivery_process."""

import pytest

from consents.models import UtilityConnection
from events.dispatch import event_types_of
from events.models import Delivery
from meters.models import UtilityBill
from tests.support.nectar import ALL_TYPES, FIXTURES, event_like, load

pytestmark = pytest.mark.django_db


EVENT_TYPES = event_types_of(source="nectar")


def test_there_is_one_fixture_per_event_type_and_it_says_so():
    assert {path.name.removesuffix(".json") for path in FIXTURES.glob("*.json")} == set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        assert load(event_type)["eventType"] == event_type


def test_fixtures_carry_real_values_not_the_catalogue_placeholders():
    def leaves(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from leaves(item)
        elif isinstance(value, list):
            for item in value:
                yield from leaves(item)
        else:
            yield value

    for event_type in EVENT_TYPES:
        values = list(leaves(load(event_type)))
        assert not {"decimal", "string", "email"} & set(values), event_type


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_every_nectar_event_type_is_processed(deliver, event_type):
    delivery = deliver(event_type)

    assert delivery.event_type == event_type
    assert delivery.source == "nectar"
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.error == ""
    assert delivery.attempt_count == 1
    assert delivery.summary
    event = load(event_type)
    model = UtilityConnection if event_type.startswith("connection.") else UtilityBill
    mirrored = model.objects.get(external_id=event["id"])
    admin_path = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{mirrored.pk}/change/"
    assert [path for _, path in delivery.links] == [admin_path]


@pytest.mark.parametrize(
    "event_type",
    [
        "invoice.paid.v3",
        "document.deleted",  # Nectar never had a v1 deletion
        "connection.deleted.v2",
        "document.created.v3",
    ],
)
def test_unknown_nectar_event_types_are_stored_then_ignored(deliver, event_type):
    delivery = deliver(event_like("document.created.v2", eventType=event_type))

    assert delivery.event_type == event_type
    assert delivery.status == Delivery.Status.IGNORED
    assert delivery.attempt_count == 0
    assert delivery.payload["id"] == load("document.created.v2")["id"]
    assert not UtilityBill.objects.exists()
    assert not UtilityConnection.objects.exists()
