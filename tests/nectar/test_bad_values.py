"""Values Nectar's catalogue shows but a real sender must not send (the literal "decimal",
a missing company, no accounts, dates that are not dates, ids longer than any Nectar gives):
the delivery ends dead at once, with an error naming the field and no retry, since none could
read or store it, and nothing half-read is mirrored."""

import pytest

from consents.models import UtilityConnection
from events.models import Delivery, DeliveryAttempt
from events.processing import delivery_process
from meters.models import UtilityBill
from tests.support.jobs import jobs_for
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


# (event type, change, what the error must name, its length, the most that fits)
TOO_LONG = [
    ("document.created.v2", set_item(["id"], "d" * 80), "event.id", 80, 64),
    ("document.deleted.v2", set_item(["id"], "d" * 80), "event.id", 80, 64),
    ("connection.created", set_item(["id"], "c" * 80), "event.id", 80, 64),
    ("document.created", set_item(["invoiceId"], "I" * 256), "event.invoiceId", 256, 255),
    (
        "document.created.v2",
        set_item(["totalChargesUnits"], "kilowatt hours" * 3),
        "event.totalChargesUnits",
        42,
        32,
    ),
    (
        "document.updated.v2",
        set_item(["lineItems", 1, "quantityUnits"], "u" * 33),
        "event.lineItems[1].quantityUnits",
        33,
        32,
    ),
    (
        "document.created",
        set_item(["meterSiteUsageData", 1, "id"], "m" * 65),
        "event.meterSiteUsageData[1].id",
        65,
        64,
    ),
    ("document.created.v2", set_item(["company", "id"], "c" * 70), "event.company.id", 70, 64),
    (
        "connection.updated.v2",
        set_item(["company", "publicId"], "p" * 65),
        "event.company.publicId",
        65,
        64,
    ),
    (
        "connection.validated.v2",
        set_item(["datasource", "name"], "n" * 300),
        "event.datasource.name",
        300,
        255,
    ),
    (
        "connection.created",
        set_item(["emails"], ["energy@harborfoods.com", "e" * 250 + "@harborfoods.com"]),
        "event.emails[1]",
        266,
        254,
    ),
    (
        "connection.created.v2",
        set_item(["accounts", 0, "site", "id"], "s" * 65),
        "event.accounts[0].site.id",
        65,
        64,
    ),
    (
        "connection.updated",
        set_item(["accounts", 1, "datasourceTypes"], ["ELECTRICITY", "G" * 65]),
        "event.accounts[1].datasourceTypes[1]",
        65,
        64,
    ),
]
TOO_LONG_IDS = [
    f"{event_type}:{named.removeprefix('event.')}" for event_type, _, named, *_ in TOO_LONG
]


def mirrored_count():
    return UtilityConnection.objects.count() + UtilityBill.objects.count()


def assert_dead_at_once(delivery):
    """Dead after its one attempt, with no retry scheduled and nothing mirrored."""
    assert delivery.status == Status.DEAD
    assert delivery.next_attempt_at is None
    assert delivery.attempt_count == 1
    assert list(delivery.attempts.values_list("result", flat=True)) == [
        DeliveryAttempt.Result.FAILED
    ]
    assert not jobs_for(delivery).filter(scheduled_at__isnull=False).exists()
    assert mirrored_count() == 0


@pytest.mark.parametrize(("event_type", "change", "named"), BAD_EVENTS, ids=BAD_IDS)
def test_bad_value_ends_dead_at_once_naming_the_field(deliver, settings, event_type, change, named):
    settings.DELIVERY_RETRY_DELAYS = [60, 300, 1800]

    delivery = deliver(changed(event_type, change))

    assert delivery.error.startswith("PayloadError: ")
    assert named in delivery.error
    assert_dead_at_once(delivery)

    # A dead delivery waits for a person: running it again does nothing.
    assert delivery_process(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (Status.DEAD, 1)


@pytest.mark.parametrize(
    ("event_type", "change", "named", "length", "limit"), TOO_LONG, ids=TOO_LONG_IDS
)
def test_a_value_too_long_to_store_ends_dead_at_once_naming_the_field(
    deliver, settings, event_type, change, named, length, limit
):
    settings.DELIVERY_RETRY_DELAYS = [60, 300, 1800]

    delivery = deliver(changed(event_type, change))

    assert delivery.error == (
        f"ValueTooLong: {named} is {length} characters long; at most {limit} fit."
    )
    assert_dead_at_once(delivery)


def test_a_deletion_keeps_its_bill_though_a_value_besides_the_id_is_too_long(deliver):
    # What a deletion cannot store is not needed to delete, as what it lacks is not.
    delivery = deliver(changed("document.deleted.v2", set_item(["invoiceId"], "I" * 256)))

    assert delivery.status == Status.PROCESSED, delivery.error
    bill = UtilityBill.objects.get()
    assert bill.deleted_at is not None
    assert bill.invoice_id == ""


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
        (
            "connection.created.v2",
            changed("connection.updated.v2", set_item(["accounts", 0, "site", "name"], "n" * 256)),
        ),
        (
            "document.created.v2",
            changed("document.updated.v2", set_item(["lineItems", 1, "quantityUnits"], "u" * 33)),
        ),
    ],
    ids=["connection", "document", "connection-too-long", "document-too-long"],
)
def test_a_bad_update_leaves_the_mirror_as_it_was(deliver, settings, good, bad):
    settings.DELIVERY_RETRY_DELAYS = [60, 300, 1800]
    deliver(good)
    model = UtilityConnection if good.startswith("connection") else UtilityBill
    before = model.objects.get()

    delivery = deliver(bad)

    assert (delivery.status, delivery.attempt_count) == (Status.DEAD, 1)
    after = model.objects.get()
    assert after.raw == load(good)
    assert after.platform_updated_at == before.platform_updated_at
    if model is UtilityBill:
        assert after.line_items.count() == len(load(good)["lineItems"])
    else:
        assert after.accounts.count() == len(load(good)["accounts"])
