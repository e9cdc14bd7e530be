"""Values Nectar's catalogue shows but a real sender must not send (the literal "decimal",
a missing company, no accounts, dates that are not dates): the delivery fails with an error
naming the field, is retried, ends dead, and nothing half-read is mirrored."""

import pytest

from consents.models import UtilityConnection
from events.models import Delivery, DeliveryAttempt
from events.processing import delivery_process
from meters.models import UtilityBill
from tests.support.nectar import load

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def changed(event_type, change):
    event = load(event_type)
    change(event)
    return event


def set_item(path, value):
    """A change setting event[path[0]][path[1]]... to value."""

    def change(event):
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def remove(key):
    return lambda event: event.pop(key)


BAD_EVENTS = [
    # (event type, change, what the error must name)
    ("document.created.v2", set_item(["totalCharges"], "decimal"), "event.totalCharges"),
    ("document.created", set_item(["currentCharges"], "1,234.56"), "event.currentCharges"),
    ("document.updated.v2", set_item(["credits"], "NaN"), "event.credits"),
    ("document.created", set_item(["lineItems", 0, "rate"], "decimal"), "event.lineItems[0].rate"),
    (
        "document.updated.v2",
        set_item(["lineItems", 1, "multipliers"], ["31", "decimal"]),
        "event.lineItems[1].multipliers[1]",
    ),
    (
        "document.created.v2",
        set_item(["meterSiteUsageData", 0, "billedDemand"], "decimal"),
        "event.meterSiteUsageData[0].billedDemand",
    ),
    ("document.created.v2", remove("company"), "event.company"),
    ("document.created", set_item(["company"], {"name": "Harbor Foods Inc."}), "event.company.id"),
    ("connection.created", remove("company"), "event.company"),
    ("connection.updated.v2", set_item(["company"], None), "event.company"),
    ("connection.created", set_item(["accounts"], []), "event.accounts"),
    ("connection.validated.v2", remove("accounts"), "event.accounts"),
    (
        "connection.updated",
        set_item(["accounts", 1, "accountNumber"], ""),
        "event.accounts[1].accountNumber",
    ),
    ("document.created.v2", set_item(["documentDate"], "13/12/2024"), "event.documentDate"),
    ("document.created", set_item(["dueDate"], "2024-02-30"), "event.dueDate"),
    (
        "document.updated.v2",
        set_item(["meterSiteUsageData", 1, "endDate"], "end of January"),
        "event.meterSiteUsageData[1].endDate",
    ),
    ("connection.created.v2", set_item(["created"], "yesterday"), "event.created"),
    ("connection.validated", set_item(["updated"], "2024-13-06T09:48:02"), "event.updated"),
]
BAD_IDS = [f"{event_type}:{named.removeprefix('event.')}" for event_type, _, named in BAD_EVENTS]


def mirrored_count():
    return UtilityConnection.objects.count() + UtilityBill.objects.count()


@pytest.mark.parametrize(("event_type", "change", "named"), BAD_EVENTS, ids=BAD_IDS)
def test_bad_value_fails_naming_the_field_then_ends_dead(
    deliver, settings, event_type, change, named
):
    settings.DELIVERY_RETRY_DELAYS = [1]

    delivery = deliver(changed(event_type, change))

    assert delivery.status == Status.FAILED
    assert delivery.error.startswith("PayloadError: ")
    assert named in delivery.error
    assert delivery.next_attempt_at is not None
    assert mirrored_count() == 0

    assert delivery_process(delivery_id=delivery.pk) is None  # the retry: no exception either

    delivery.refresh_from_db()
    assert delivery.status == Status.DEAD
    assert named in delivery.error
    assert delivery.next_attempt_at is None
    assert list(delivery.attempts.values_list("result", flat=True)) == [
        DeliveryAttempt.Result.FAILED,
        DeliveryAttempt.Result.FAILED,
    ]
    assert mirrored_count() == 0


def test_without_retries_a_bad_value_is_dead_at_once(deliver, settings):
    settings.DELIVERY_RETRY_DELAYS = []

    delivery = deliver(changed("document.created", set_item(["lineItems", 2, "rate"], "decimal")))

    assert delivery.status == Status.DEAD
    assert "event.lineItems[2].rate: 'decimal' is not a number." in delivery.error
    assert delivery.attempt_count == 1


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        (
            "connection.created.v2",
            changed("connection.updated.v2", set_item(["accounts"], [])),
        ),
        (
            "document.created.v2",
            changed("document.updated.v2", set_item(["totalCharges"], "decimal")),
        ),
    ],
    ids=["connection", "document"],
)
def test_a_bad_update_leaves_the_mirror_as_it_was(deliver, settings, good, bad):
    settings.DELIVERY_RETRY_DELAYS = []
    deliver(good)
    model = UtilityConnection if good.startswith("connection") else UtilityBill
    before = model.objects.get()

    delivery = deliver(bad)

    assert delivery.status == Status.DEAD
    after = model.objects.get()
    assert after.raw == load(good)
    assert after.platform_updated_at == before.platform_updated_at
    if model is UtilityBill:
        assert after.line_items.count() == len(load(good)["lineItems"])
    else:
        assert after.accounts.count() == len(load(good)["accounts"])
