"""What each Nectar event does to the mirror (shapes as in Nectar's event catalogue).

Nectar sends the whole object with every event; `updated` (nanoseconds, no zone: UTC) orders
them. Values are read strictly (nectar_values.py): a charge that is not a number, a missing
company or an id too long to store fails the delivery with an error that names the field,
rather than storing something wrong.
"""

from datetime import datetime
from typing import Any

from django.db import models

from common.fits import ValueTooLong
from common.locks import advisory_locks_take
from consents.models import ConnectionAccount, UtilityConnection
from consents.services import utility_connection_upsert
from events.dispatch import Outcome, PayloadError, handles
from events.models import Delivery, Source
from events.sources.nectar_values import (
    Spec,
    amount,
    amounts,
    day,
    fitting,
    flag,
    mapping,
    moment,
    read,
    text,
    texts,
    whole,
)
from meters.bills import utility_bill_mark_deleted, utility_bill_upsert
from meters.models import BillLineItem, BillMeterUsage, UtilityBill


def _amounts_of(*names: str) -> Spec:
    """Charges share their names: `currentCharges` is read into `current_charges`."""
    return {_snake(name): (name, amount) for name in names}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


BILL = {
    "invoice_id": ("invoiceId", text),
    "utility_company": ("utilityCompany", text),
    "document_date": ("documentDate", day),
    "due_date": ("dueDate", day),
    "total_charges_units": ("totalChargesUnits", text),
    "total_document_charges_units": ("totalDocumentChargesUnits", text),
    "charges_units": ("chargesUnits", text),
    "tax_id": ("taxId", text),
    "is_flagged": ("isFlagged", flag),
    "notes": ("notes", text),
    "url": ("url", text),
    "audit_trail_url": ("auditTrailUrl", text),
    "processed_on_platform": ("processedDate", moment),
    "created_on_platform": ("created", moment),
    **_amounts_of(
        "totalCharges",
        "totalDocumentCharges",
        "currentCharges",
        "credits",
        "currentOpenBalance",
        "previousCloseBalance",
        "afterPreviousCharges",
        "afterPreviousCredits",
        "afterPreviousTotalPayment",
        "electricityDeliveryCharges",
        "electricityDemandCharges",
        "electricitySupplyCharges",
        "gasDeliveryCharges",
        "gasSupplyCharges",
        "interestCharges",
        "taxCharges",
    ),
}

LINE_ITEM = {
    "description": ("description", text),
    "account_ids": ("accountIds", texts),
    "meter_ids": ("meterIds", texts),
    "electricity_is_demand": ("electricityIsDemand", flag),
    "electricity_time_of_use": ("electricityTimeOfUse", text),
    "multipliers": ("multipliers", amounts),
    "quantity": ("quantity", amount),
    "quantity_units": ("quantityUnits", text),
    "rate": ("rate", amount),
    "total_charge": ("totalCharge", amount),
}

METER_USAGE = {
    "external_id": ("id", text),
    "account_id": ("accountId", text),
    "meter_id": ("meterId", text),
    "submeter_id": ("submeterId", text),
    "pod_id": ("podId", text),
    "icp": ("icp", text),
    "site_nectar_id": ("siteId", text),
    "site_external_id": ("siteExternalId", text),
    "site_name": ("siteName", text),
    "site_address": ("siteAddress", text),
    "zipcode": ("zipcode", text),
    "state": ("state", text),
    "shop_number": ("shopNumber", text),
    "supplier_name": ("supplierName", text),
    "utility_company": ("utilityCompany", text),
    "tariff": ("tariff", text),
    "start_date": ("startDate", day),
    "end_date": ("endDate", day),
    "days_in_range": ("daysInRange", whole),
    "usage": ("usage", text),
    "custom_container_name": ("customContainerName", text),
    "is_estimated": ("isEstimated", flag),
    "is_flagged": ("isFlagged", flag),
    "is_implied": ("isImplied", flag),
    "exclusion": ("exclusion", flag),
    "document_notes": ("documentNotes", text),
    "audit_trail_url": ("auditTrailUrl", text),
    "additional_fields": ("additionalFields", mapping),
    **_amounts_of(
        "currentReading",
        "previousReading",
        "billedDemand",
        "currentCharges",
        "credits",
        "electricityDeliveryCharges",
        "electricityDemandCharges",
        "electricitySupplyCharges",
        "gasDeliveryCharges",
        "gasSupplyCharges",
        "taxCharges",
        "totalDocumentCharges",
        "customContainerSize",
        "customContainerUsage",
    ),
}

CONNECTION = {
    "status": ("status", text),
    "country": ("country", text),
    "emails": ("emails", texts),
    "url": ("url", text),
    "created_on_platform": ("created", moment),
}


def event_object(delivery: Delivery) -> dict[str, Any]:
    document = delivery.payload
    if not isinstance(document, dict):
        raise PayloadError("The event is not a JSON object.")
    return document


def nectar_id(
    obj: dict[str, Any], path: str = "event", model: type[models.Model] | None = None
) -> str:
    """The object's id; given the model that stores it, checked to fit its external_id."""
    value = obj.get("id")
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{path}.id: missing; every Nectar object has one.")
    if model is not None:
        fitting(model, {"external_id": value}, {"external_id": f"{path}.id"})
    return value


def updated_at(obj: dict[str, Any]) -> datetime | None:
    return moment(obj["updated"], "event.updated") if obj.get("updated") else None


# Our field -> the key of Nectar's company object.
_COMPANY_KEYS = {
    "company_nectar_id": "id",
    "company_external_id": "externalId",
    "company_name": "name",
    "company_public_id": "publicId",
}


def company(
    obj: dict[str, Any], model: type[models.Model], *, with_public_id: bool = False
) -> dict[str, str]:
    value = obj.get("company")
    if not isinstance(value, dict) or not value:
        raise PayloadError("event.company: missing; a bill or connection belongs to a company.")
    fields = {
        "company_nectar_id": nectar_id(value, "event.company"),
        "company_external_id": text(value.get("externalId") or "", "event.company.externalId"),
        "company_name": text(value.get("name") or "", "event.company.name"),
    }
    if with_public_id:
        fields["company_public_id"] = text(value.get("publicId") or "", "event.company.publicId")
    return fitting(model, fields, {f: f"event.company.{k}" for f, k in _COMPANY_KEYS.items()})


def list_of_objects(obj: dict[str, Any], key: str, *, required: bool) -> list[dict[str, Any]]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PayloadError(f"event.{key}: expected a list of objects, got {value!r}.")
    if required and not value:
        raise PayloadError(f"event.{key}: empty; Nectar always sends at least one.")
    return value


# Connections


def _account(obj: dict[str, Any], path: str) -> dict[str, Any]:
    number = obj.get("accountNumber")
    if not isinstance(number, str) or not number.strip():
        raise PayloadError(f"{path}.accountNumber: missing.")
    site = obj.get("site") if isinstance(obj.get("site"), dict) else {}
    names = {
        "account_number": f"{path}.accountNumber",
        "data_source_types": f"{path}.datasourceTypes",
        "site_nectar_id": f"{path}.site.id",
        "site_name": f"{path}.site.name",
    }
    values = {
        "account_number": number,
        "data_source_types": texts(obj.get("datasourceTypes") or [], names["data_source_types"]),
        "site_nectar_id": text(site.get("id") or "", names["site_nectar_id"]),
        "site_name": text(site.get("name") or "", names["site_name"]),
    }
    return fitting(ConnectionAccount, values, names)


def mirror_connection(delivery: Delivery, *, validated: bool = False) -> Outcome:
    obj = event_object(delivery)
    connection_id = nectar_id(obj, model=UtilityConnection)
    advisory_locks_take(keys=[f"connection:{connection_id}"])
    datasource = obj.get("datasource") if isinstance(obj.get("datasource"), dict) else {}
    data_source = fitting(
        UtilityConnection,
        {"data_source": text(datasource.get("name") or "", "event.datasource.name")},
        {"data_source": "event.datasource.name"},
    )
    accounts = [
        _account(account, f"event.accounts[{i}]")
        for i, account in enumerate(list_of_objects(obj, "accounts", required=True))
    ]
    updated = updated_at(obj)
    connection, changed = utility_connection_upsert(
        external_id=connection_id,
        values={
            **read(obj, CONNECTION, "event", UtilityConnection),
            **company(obj, UtilityConnection, with_public_id=True),
            **data_source,
            "raw": obj,
        },
        accounts=accounts,
        platform_updated_at=updated,
        validated_at=(updated or delivery.received_at) if validated else None,
    )
    outcome = Outcome()
    outcome.link(connection)
    if not changed:
        kept = "only the time of its validation was kept" if validated else "nothing changed"
        outcome.summary = f"Older than the mirrored connection {connection}: {kept}."
        return outcome
    verb = {"created": "New", "updated": "Updated", "validated": "Validated"}
    action = delivery.event_type.split(".")[1]
    outcome.summary = (
        f"{verb.get(action, 'Updated')} connection of {connection.company_name or 'a company'} "
        f"to {connection.data_source or 'a provider'}: {connection.status or 'no status'}, "
        f"{len(accounts)} account(s)."
    )
    return outcome


@handles(
    Source.NECTAR,
    "connection.created",
    "connection.created.v2",
    "connection.updated",
    "connection.updated.v2",
)
def connection_changed(delivery: Delivery) -> Outcome:
    return mirror_connection(delivery)


@handles(Source.NECTAR, "connection.validated", "connection.validated.v2")
def connection_validated(delivery: Delivery) -> Outcome:
    return mirror_connection(delivery, validated=True)


# Documents (utility bills)


def _bill_values(obj: dict[str, Any]) -> dict[str, Any]:
    return {**read(obj, BILL, "event", UtilityBill), **company(obj, UtilityBill), "raw": obj}


@handles(
    Source.NECTAR,
    "document.created",
    "document.created.v2",
    "document.updated.v2",
)
def document_changed(delivery: Delivery) -> Outcome:
    obj = event_object(delivery)
    document_id = nectar_id(obj, model=UtilityBill)
    advisory_locks_take(keys=[f"bill:{document_id}"])
    line_items = [
        read(item, LINE_ITEM, f"event.lineItems[{i}]", BillLineItem)
        for i, item in enumerate(list_of_objects(obj, "lineItems", required=False))
    ]
    meter_usages = [
        read(usage, METER_USAGE, f"event.meterSiteUsageData[{i}]", BillMeterUsage)
        for i, usage in enumerate(list_of_objects(obj, "meterSiteUsageData", required=False))
    ]
    bill, changed = utility_bill_upsert(
        external_id=document_id,
        values=_bill_values(obj),
        line_items=line_items,
        meter_usages=meter_usages,
        platform_updated_at=updated_at(obj),
    )
    outcome = Outcome()
    outcome.link(bill)
    if not changed:
        outcome.summary = f"Older than the mirrored {bill}: nothing changed."
    else:
        total = f"{bill.total_charges} {bill.total_charges_units}".strip()
        outcome.summary = (
            f"{bill} from {bill.utility_company or 'a utility'}: total {total or 'unknown'}, "
            f"due {bill.due_date or 'date unknown'}, {len(line_items)} line item(s), "
            f"{len(meter_usages)} meter usage record(s)."
        )
        if bill.deleted_at:
            outcome.warnings.append("Nectar deleted this document earlier; it stays deleted.")
    return outcome


@handles(Source.NECTAR, "document.deleted.v2")
def document_deleted(delivery: Delivery) -> Outcome:
    obj = event_object(delivery)
    document_id = nectar_id(obj, model=UtilityBill)
    advisory_locks_take(keys=[f"bill:{document_id}"])
    try:
        known = _bill_values(obj)
    except (PayloadError, ValueTooLong):
        # A deletion may carry little more than the id: what it lacks is not needed to delete,
        # nor what cannot be stored.
        known = {"raw": obj}
    bill = utility_bill_mark_deleted(
        external_id=document_id,
        deleted_at=updated_at(obj) or delivery.received_at,
        values=known,
    )
    outcome = Outcome(summary=f"Nectar deleted {bill}; it is kept here, marked deleted.")
    outcome.link(bill)
    return outcome
