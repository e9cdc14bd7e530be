"""Nectar document events mirrored into meters.UtilityBill, BillLineItem and BillMeterUsage."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from events.models import Delivery
from meters.models import BillLineItem, BillMeterUsage, UtilityBill
from tests.support.nectar import DOCUMENT_TYPES, event_like, load, utc

pytestmark = pytest.mark.django_db

PROCESSED = Delivery.Status.PROCESSED
STAYS_DELETED = "Nectar deleted this document earlier; it stays deleted."

# Our field <- Nectar's key, written out rather than derived, so that a wrong name shows.
BILL_TEXTS = {
    "invoice_id": "invoiceId",
    "utility_company": "utilityCompany",
    "total_charges_units": "totalChargesUnits",
    "total_document_charges_units": "totalDocumentChargesUnits",
    "charges_units": "chargesUnits",
    "tax_id": "taxId",
    "notes": "notes",
    "url": "url",
    "audit_trail_url": "auditTrailUrl",
}
BILL_AMOUNTS = {
    "total_charges": "totalCharges",
    "total_document_charges": "totalDocumentCharges",
    "current_charges": "currentCharges",
    "credits": "credits",
    "current_open_balance": "currentOpenBalance",
    "previous_close_balance": "previousCloseBalance",
    "after_previous_charges": "afterPreviousCharges",
    "after_previous_credits": "afterPreviousCredits",
    "after_previous_total_payment": "afterPreviousTotalPayment",
    "electricity_delivery_charges": "electricityDeliveryCharges",
    "electricity_demand_charges": "electricityDemandCharges",
    "electricity_supply_charges": "electricitySupplyCharges",
    "gas_delivery_charges": "gasDeliveryCharges",
    "gas_supply_charges": "gasSupplyCharges",
    "interest_charges": "interestCharges",
    "tax_charges": "taxCharges",
}
BILL_DAYS = {"document_date": "documentDate", "due_date": "dueDate"}
BILL_MOMENTS = {
    "created_on_platform": "created",
    "processed_on_platform": "processedDate",
    "platform_updated_at": "updated",
}
BILL_BOOKKEEPING = {"id", "deleted_at", "mirrored_at"}

LINE_TEXTS = {
    "description": "description",
    "electricity_time_of_use": "electricityTimeOfUse",
    "quantity_units": "quantityUnits",
}
LINE_AMOUNTS = {"quantity": "quantity", "rate": "rate", "total_charge": "totalCharge"}

USAGE_TEXTS = {
    "external_id": "id",
    "account_id": "accountId",
    "meter_id": "meterId",
    "submeter_id": "submeterId",
    "pod_id": "podId",
    "icp": "icp",
    "site_nectar_id": "siteId",
    "site_external_id": "siteExternalId",
    "site_name": "siteName",
    "site_address": "siteAddress",
    "zipcode": "zipcode",
    "state": "state",
    "shop_number": "shopNumber",
    "supplier_name": "supplierName",
    "utility_company": "utilityCompany",
    "tariff": "tariff",
    "usage": "usage",
    "custom_container_name": "customContainerName",
    "document_notes": "documentNotes",
    "audit_trail_url": "auditTrailUrl",
}
USAGE_AMOUNTS = {
    "current_reading": "currentReading",
    "previous_reading": "previousReading",
    "billed_demand": "billedDemand",
    "current_charges": "currentCharges",
    "credits": "credits",
    "electricity_delivery_charges": "electricityDeliveryCharges",
    "electricity_demand_charges": "electricityDemandCharges",
    "electricity_supply_charges": "electricitySupplyCharges",
    "gas_delivery_charges": "gasDeliveryCharges",
    "gas_supply_charges": "gasSupplyCharges",
    "tax_charges": "taxCharges",
    "total_document_charges": "totalDocumentCharges",
    "custom_container_size": "customContainerSize",
    "custom_container_usage": "customContainerUsage",
}
USAGE_DAYS = {"start_date": "startDate", "end_date": "endDate"}
USAGE_FLAGS = {
    "is_estimated": "isEstimated",
    "is_flagged": "isFlagged",
    "is_implied": "isImplied",
    "exclusion": "exclusion",
}


def decimal_or_none(value):
    return None if value is None else Decimal(value)


def day_or_none(value):
    return None if value is None else date.fromisoformat(value)


def moment_or_none(value):
    return None if value is None else utc(value)


def expected_bill(event):
    company = event["company"]
    usages = event.get("meterSiteUsageData") or []
    return {
        "external_id": event["id"],
        "company_nectar_id": company["id"],
        "company_external_id": company.get("externalId") or "",
        "company_name": company["name"],
        **{field: event.get(key) or "" for field, key in BILL_TEXTS.items()},
        **{field: decimal_or_none(event.get(key)) for field, key in BILL_AMOUNTS.items()},
        **{field: day_or_none(event.get(key)) for field, key in BILL_DAYS.items()},
        **{field: moment_or_none(event.get(key)) for field, key in BILL_MOMENTS.items()},
        "is_flagged": event.get("isFlagged"),
        "period_start": min((date.fromisoformat(u["startDate"]) for u in usages), default=None),
        "period_end": max((date.fromisoformat(u["endDate"]) for u in usages), default=None),
        "raw": event,
    }


def expected_line_items(event):
    return [
        {
            "position": position,
            **{field: item.get(key) or "" for field, key in LINE_TEXTS.items()},
            **{field: decimal_or_none(item.get(key)) for field, key in LINE_AMOUNTS.items()},
            "account_ids": item.get("accountIds") or [],
            "meter_ids": item.get("meterIds") or [],
            "electricity_is_demand": item.get("electricityIsDemand"),
            "multipliers": [Decimal(m) for m in item.get("multipliers") or []],
        }
        for position, item in enumerate(event.get("lineItems") or [], start=1)
    ]


def expected_usages(event):
    usages = [
        {
            **{field: usage.get(key) or "" for field, key in USAGE_TEXTS.items()},
            **{field: decimal_or_none(usage.get(key)) for field, key in USAGE_AMOUNTS.items()},
            **{field: day_or_none(usage.get(key)) for field, key in USAGE_DAYS.items()},
            **{field: usage.get(key) for field, key in USAGE_FLAGS.items()},
            "days_in_range": usage.get("daysInRange"),
            "additional_fields": usage.get("additionalFields") or {},
        }
        for usage in event.get("meterSiteUsageData") or []
    ]
    return sorted(usages, key=lambda usage: usage["external_id"])


BILL_FIELDS = tuple(expected_bill(load("document.created")))
LINE_FIELDS = tuple(expected_line_items(load("document.created"))[0])
USAGE_FIELDS = tuple(expected_usages(load("document.created"))[0])


def mirrored_bill(bill):
    bill.refresh_from_db()
    return {field: getattr(bill, field) for field in BILL_FIELDS}


def mirrored_line_items(bill):
    return list(bill.line_items.order_by("position").values(*LINE_FIELDS))


def mirrored_usages(bill):
    return list(bill.meter_usages.order_by("external_id").values(*USAGE_FIELDS))


def assert_mirrors(bill, event):
    assert mirrored_bill(bill) == expected_bill(event)
    assert mirrored_line_items(bill) == expected_line_items(event)
    assert mirrored_usages(bill) == expected_usages(event)


def snapshot(bill):
    return mirrored_bill(bill), mirrored_line_items(bill), mirrored_usages(bill)


def test_expectations_cover_every_field_of_the_mirror():
    def names(model):
        return {field.name for field in model._meta.concrete_fields}

    assert set(BILL_FIELDS) | BILL_BOOKKEEPING == names(UtilityBill)
    assert set(LINE_FIELDS) | {"id", "bill"} == names(BillLineItem)
    assert set(USAGE_FIELDS) | {"id", "bill"} == names(BillMeterUsage)


@pytest.mark.parametrize("event_type", DOCUMENT_TYPES)
def test_document_event_mirrors_every_field(deliver, event_type):
    event = load(event_type)

    delivery = deliver(event)

    assert delivery.status == PROCESSED, delivery.error
    bill = UtilityBill.objects.get()
    assert_mirrors(bill, event)
    assert bill.deleted_at is None
    assert event["invoiceId"] in delivery.summary
    assert f"{len(event['lineItems'])} line item(s)" in delivery.summary
    assert f"{len(event['meterSiteUsageData'])} meter usage record(s)" in delivery.summary
    assert delivery.warnings == []


@pytest.mark.parametrize("event_type", DOCUMENT_TYPES)
def test_every_amount_is_stored_as_a_decimal(deliver, event_type):
    deliver(event_type)

    bill = UtilityBill.objects.get()
    amounts = [getattr(bill, field) for field in BILL_AMOUNTS]
    for item in bill.line_items.all():
        amounts += [getattr(item, field) for field in LINE_AMOUNTS] + item.multipliers
    for usage in bill.meter_usages.all():
        amounts += [getattr(usage, field) for field in USAGE_AMOUNTS]
    present = [amount for amount in amounts if amount is not None]
    assert len(present) > 20
    assert all(isinstance(amount, Decimal) for amount in present)


def test_document_created_is_mirrored_with_these_values(deliver):
    """The first fixture spelled out, so a mistake shared by the reading above and the
    handler cannot hide."""
    deliver("document.created")

    bill = UtilityBill.objects.get()
    assert bill.external_id == "6e2b9f14-0c7a-4d53-b8e1-3a9f5c2d7e60"
    assert bill.invoice_id == "PGE-4839201756-241129"
    assert (bill.company_nectar_id, bill.company_external_id, bill.company_name) == (
        "a71e4c0b-5d92-4f38-8e6a-0c9d3b2f1e57",
        "HF-0042",
        "Harbor Foods Inc.",
    )
    assert bill.utility_company == "Pacific Gas and Electric"
    assert (bill.document_date, bill.due_date) == (date(2024, 11, 29), date(2024, 12, 20))
    # The period spans the usage records: the earliest start, the latest end.
    assert (bill.period_start, bill.period_end) == (date(2024, 10, 29), date(2024, 11, 29))
    assert (bill.total_charges, bill.total_charges_units) == (Decimal("1234.56"), "USD")
    assert (bill.total_document_charges, bill.total_document_charges_units) == (
        Decimal("1259.56"),
        "USD",
    )
    assert bill.after_previous_total_payment == Decimal("-1180.22")
    assert bill.gas_supply_charges == Decimal("128.45")
    assert bill.interest_charges == Decimal("0")
    assert bill.is_flagged is False
    assert bill.audit_trail_url == (
        "https://app.nectarclimate.com/documents/6e2b9f14-0c7a-4d53-b8e1-3a9f5c2d7e60/audit"
    )
    assert bill.created_on_platform == datetime(2024, 12, 2, 14, 21, 37, 904118, tzinfo=UTC)
    assert bill.processed_on_platform == datetime(2024, 12, 2, 14, 25, 9, 331507, tzinfo=UTC)
    assert bill.platform_updated_at is None  # the catalogue's documents carry no `updated`

    peak, demand, gas = bill.line_items.order_by("position")
    assert (peak.position, peak.description) == (1, "Peak energy charge (E-19)")
    assert (peak.quantity, peak.quantity_units, peak.rate, peak.total_charge) == (
        Decimal("1453.2"),
        "kWh",
        Decimal("0.28415"),
        Decimal("412.93"),
    )
    assert demand.electricity_is_demand is True
    assert demand.multipliers == [Decimal("1.0"), Decimal("0.85")]
    assert (gas.electricity_is_demand, gas.electricity_time_of_use, gas.multipliers) == (
        None,
        "",
        [],
    )
    assert gas.meter_ids == ["G-55102873"]

    electric, gas_meter = bill.meter_usages.order_by("meter_id")
    assert electric.meter_id == "1009875432"
    assert electric.billed_demand == Decimal("42.6")
    assert electric.days_in_range == 30
    assert electric.additional_fields == {
        "rateSchedule": "B19S",
        "serviceAgreementId": "4839201002",
    }
    assert (electric.site_name, electric.zipcode, electric.state) == (
        "Harbor Foods - Oakland DC",
        "94502",
        "CA",
    )
    assert (gas_meter.meter_id, gas_meter.is_estimated, gas_meter.gas_supply_charges) == (
        "G-55102873",
        True,
        Decimal("128.45"),
    )
    assert gas_meter.electricity_supply_charges is None


# --- A second delivery of the same document -----------------------------------------------


def trimmed_update():
    """A later version of document.updated.v2 with its first line item and usage only."""
    event = load("document.updated.v2")
    return event_like(
        "document.updated.v2",
        lineItems=event["lineItems"][:1],
        meterSiteUsageData=event["meterSiteUsageData"][:1],
        updated="2025-02-07T12:00:00.000000001",
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("document.created.v2", "document.updated.v2"),
        ("document.updated.v2", "document.updated.v2"),
        ("document.created", "document.created"),
        ("document.updated.v2", trimmed_update()),
    ],
    ids=["created-then-updated", "updated-twice", "v1-created-twice", "lines-dropped"],
)
def test_second_delivery_replaces_line_items_and_usage(deliver, first, second):
    second = load(second) if isinstance(second, str) else second
    deliver(first)

    delivery = deliver(second)

    assert delivery.status == PROCESSED, delivery.error
    bill = UtilityBill.objects.get()
    assert_mirrors(bill, second)
    assert BillLineItem.objects.count() == len(second["lineItems"])
    assert BillMeterUsage.objects.count() == len(second["meterSiteUsageData"])


# --- Order of arrival ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "older",
    [
        load("document.created.v2"),
        event_like(
            "document.updated.v2",
            totalCharges="1.00",
            isFlagged=False,
            lineItems=[],
            meterSiteUsageData=[],
            updated="2025-02-04T00:00:00",  # between the creation and the update
        ),
    ],
    ids=["creation", "older-update"],
)
def test_older_document_arriving_after_a_newer_one_changes_nothing(deliver, older):
    deliver("document.updated.v2")
    bill = UtilityBill.objects.get()
    before = snapshot(bill)

    delivery = deliver(older)

    assert delivery.status == PROCESSED, delivery.error
    assert delivery.summary.startswith("Older than the mirrored Bill OCT-INV-77120934")
    assert delivery.summary.endswith("nothing changed.")
    assert snapshot(bill) == before


def test_an_undated_document_does_not_make_the_mirror_forget_its_version(deliver):
    """The catalogue shows documents without `updated` (our v1 fixture has none). Such an
    event is applied, but the bill keeps the version it knew, so older news arriving
    afterwards is still refused."""
    newest = load("document.updated.v2")
    undated = event_like("document.created", id=newest["id"])
    deliver(newest)
    assert deliver(undated).status == PROCESSED

    delivery = deliver("document.created.v2")

    assert delivery.status == PROCESSED, delivery.error
    assert delivery.summary.endswith("nothing changed.")
    assert UtilityBill.objects.get().platform_updated_at == utc(newest["updated"])


# --- Deletion -----------------------------------------------------------------------------


def bare_deletion():
    """A deletion that carries little more than the id."""
    event = load("document.deleted.v2")
    return {"eventType": event["eventType"], "id": event["id"], "updated": event["updated"]}


DELETIONS = [
    pytest.param(load("document.deleted.v2"), id="full"),
    pytest.param(bare_deletion(), id="bare"),
]


@pytest.mark.parametrize("deletion", DELETIONS)
def test_deletion_marks_the_bill_deleted_and_keeps_it(deliver, deletion):
    deliver("document.created.v2")
    deliver("document.updated.v2")

    delivery = deliver(deletion)

    assert delivery.status == PROCESSED, delivery.error
    assert delivery.summary == (
        "Nectar deleted Bill OCT-INV-77120934 (Northwind Cold Storage Ltd); "
        "it is kept here, marked deleted."
    )
    bill = UtilityBill.objects.get()
    assert bill.deleted_at == utc(deletion["updated"])
    # Kept as it was: values, line items and usage of the last version.
    assert_mirrors(bill, load("document.updated.v2"))


@pytest.mark.parametrize("deletion", DELETIONS)
def test_deletion_arriving_before_the_creation_keeps_the_bill_deleted(deliver, deletion):
    first = deliver(deletion)
    assert first.status == PROCESSED, first.error
    bill = UtilityBill.objects.get()
    assert bill.deleted_at == utc(deletion["updated"])
    assert bill.company_name == deletion.get("company", {}).get("name", "")

    late = deliver("document.created.v2")

    assert late.status == PROCESSED, late.error
    assert late.warnings == [STAYS_DELETED]
    bill = UtilityBill.objects.get()
    assert bill.deleted_at == utc(deletion["updated"])  # not brought back
    # The creation's values, line items and usage are mirrored; the bill stays deleted.
    assert_mirrors(bill, load("document.created.v2"))


@pytest.mark.parametrize(
    ("again", "kept"),
    [
        ("2025-03-01T00:00:00", "2025-02-10T09:03:27.004"),  # the fixture's
        ("2025-02-09T00:00:00", "2025-02-09T00:00:00"),
    ],
    ids=["later", "earlier"],
)
def test_a_repeated_deletion_keeps_the_earliest_time(deliver, again, kept):
    deliver("document.deleted.v2")

    deliver(event_like("document.deleted.v2", updated=again))

    assert UtilityBill.objects.get().deleted_at == utc(kept)


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations(range(3))),
    ids=lambda order: "-".join(("created", "updated", "deleted")[i] for i in order),
)
def test_whatever_the_order_of_arrival_the_bill_ends_deleted_with_its_last_version(deliver, order):
    lifecycle = [
        load(event_type)
        for event_type in ("document.created.v2", "document.updated.v2", "document.deleted.v2")
    ]

    for index in order:
        delivery = deliver(lifecycle[index])
        assert delivery.status == PROCESSED, delivery.error

    bill = UtilityBill.objects.get()
    assert bill.deleted_at == utc(lifecycle[2]["updated"])
    assert_mirrors(bill, lifecycle[1])
