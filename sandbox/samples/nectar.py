"""Sample Nectar events, shaped as Nectar's event catalogue shows them (delivered by Svix).

One utility connection and one utility bill of a US customer, with the same ids every time,
so that a created, then updated, then deleted document is one object. Decimals are strings,
timestamps UTC without a zone and with nanoseconds, as Nectar writes them.
"""

import secrets
import string
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from events.sources.nectar import sign

CONNECTION_ID = "3f6b2a9e-8c41-4d7a-b5e2-91c0d4f7a863"
DOCUMENT_ID = "9d2c7e41-6b3a-4f85-a0d9-e47b1c5f3a26"
USAGE_ROW_ID = "c81e4f27-3a9d-4b60-9e2f-5d7a0b3c1e94"
COMPANY = {
    "externalId": "HPL-0042",
    "id": "a4e9c1d7-52b8-4e3f-9a06-7c2d1f8b5e30",
    "name": "Harbor Point Logistics",
}
COMPANY_PUBLIC_ID = "e2b7d9a3-1f4c-4a68-b5e0-3c9f7d2a6b81"
SITE = {"id": "7b3e1a9c-d5f2-4c86-8e0b-2a4f6d9c1e57", "name": "Newark Distribution Center"}
ACCOUNT_NUMBER = "4019-2283-7710"
METER_ID = "PSE-4471920"
UTILITY = "PSE&G"
CENTS = Decimal("0.01")


class LineItem(NamedTuple):
    description: str
    quantity: str
    units: str
    rate: str
    time_of_use: str
    is_demand: bool
    category: str  # which of the bill's electricity charges it adds to

    @property
    def total(self) -> Decimal:
        return (Decimal(self.quantity) * Decimal(self.rate)).quantize(CENTS)


LINE_ITEMS = (
    LineItem("Electric supply, on-peak", "9842.000", "kWh", "0.09871", "on-peak", False, "supply"),
    LineItem(
        "Electric supply, off-peak", "12032.000", "kWh", "0.07214", "off-peak", False, "supply"
    ),
    LineItem("Distribution demand charge", "86.400", "kW", "4.46875", "", True, "demand"),
    LineItem("Distribution kWh charge", "21874.000", "kWh", "0.04172", "", False, "delivery"),
)
BILLED_DEMAND_KW = "86.400"
USAGE_KWH = Decimal("21874.000")
SALES_TAX = Decimal("0.06625")  # New Jersey
PREVIOUS_BALANCE = Decimal("3120.55")
PREVIOUS_READING = Decimal("482913.000")


def nectar_time(moment: datetime) -> str:
    """`2024-12-13T22:35:04.693456313`: UTC, no zone, nanoseconds."""
    nanoseconds = secrets.randbelow(1000)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}{nanoseconds:03d}"


def message_id() -> str:
    """A Svix message id, `msg_` and 27 letters or digits."""
    alphabet = string.ascii_letters + string.digits
    return "msg_" + "".join(secrets.choice(alphabet) for _ in range(27))


def svix_headers(secret: str, message_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    signature = sign(secret, message_id, timestamp, body)
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": f"v1,{signature}",
    }


# Utility account connections


def connection(event_type: str, now: datetime) -> dict[str, Any]:
    created = now if event_type.startswith("connection.created") else now - timedelta(days=2)
    event = {
        "accounts": [
            {
                "accountNumber": ACCOUNT_NUMBER,
                "datasourceTypes": ["electricity"],
                "site": SITE,
            }
        ],
        "company": {**COMPANY, "publicId": COMPANY_PUBLIC_ID},
        "country": "US",
        "created": nectar_time(created),
        "datasource": {"name": UTILITY},
        "emails": ["energy@harborpointlogistics.example"],
        "eventType": event_type,
        "id": CONNECTION_ID,
        "status": "pending" if event_type.startswith("connection.created") else "active",
        "updated": nectar_time(now),
        "url": "https://nj.myaccount.pseg.com",
    }
    if event_type.startswith("connection.updated"):
        event["protectedChanges"] = []
        if event_type.endswith(".v2"):
            event["old"] = {"status": "pending"}
    return event


# Utility bills


def document(event_type: str, now: datetime) -> dict[str, Any]:
    """Last month's electricity bill; its sums add up."""
    period_end = now.date().replace(day=1) - timedelta(days=1)
    period_start = period_end.replace(day=1)
    document_date = period_end + timedelta(days=3)
    charges = dict.fromkeys(("supply", "demand", "delivery"), Decimal("0.00"))
    for item in LINE_ITEMS:
        charges[item.category] += item.total
    before_tax = sum(charges.values(), Decimal("0.00"))
    tax = (before_tax * SALES_TAX).quantize(CENTS)
    total = before_tax + tax
    created = now - timedelta(days=1) if event_type.endswith(("updated.v2", "deleted.v2")) else now
    charge_fields = {
        "electricityDeliveryCharges": str(charges["delivery"]),
        "electricityDemandCharges": str(charges["demand"]),
        "electricitySupplyCharges": str(charges["supply"]),
        "gasDeliveryCharges": "0.00",
        "gasSupplyCharges": "0.00",
        "taxCharges": str(tax),
        "totalDocumentCharges": str(total),
    }
    event = {
        "afterPreviousCharges": "0.00",
        "afterPreviousCredits": "0.00",
        "afterPreviousTotalPayment": str(PREVIOUS_BALANCE),
        "auditTrailUrl": f"https://app.nectarclimate.com/documents/{DOCUMENT_ID}/audit",
        "chargesUnits": "USD",
        "company": COMPANY,
        "created": nectar_time(created),
        "credits": "0.00",
        "currentCharges": str(total),
        "currentOpenBalance": str(total),
        "documentDate": document_date.isoformat(),
        "dueDate": (document_date + timedelta(days=25)).isoformat(),
        **charge_fields,
        "eventType": event_type,
        "id": DOCUMENT_ID,
        "interestCharges": "0.00",
        "invoiceId": f"PSEG-7781-{period_end:%Y%m}",
        "isFlagged": False,
        "lineItems": [_line_item(item) for item in LINE_ITEMS],
        "meterSiteUsageData": [
            _usage_row(period_start, period_end, document_date, total, charge_fields, now)
        ],
        "notes": "",
        "previousCloseBalance": str(PREVIOUS_BALANCE),
        "processedDate": nectar_time(created),
        "totalCharges": str(total),
        "totalChargesUnits": "USD",
        "totalDocumentChargesUnits": "USD",
        "url": f"https://app.nectarclimate.com/documents/{DOCUMENT_ID}/bill.pdf",
        "utilityCompany": UTILITY,
    }
    if event_type == "document.updated.v2":
        # A person cleared the flag a reviewer had raised on the demand charge.
        event["old"] = {"isFlagged": True, "notes": "Demand charge awaiting review"}
    return event


def _line_item(item: LineItem) -> dict[str, Any]:
    return {
        "accountIds": [ACCOUNT_NUMBER],
        "description": item.description,
        "electricityIsDemand": item.is_demand,
        "electricityTimeOfUse": item.time_of_use,
        "meterIds": [METER_ID],
        "multipliers": ["1.000"],
        "quantity": item.quantity,
        "quantityUnits": item.units,
        "rate": item.rate,
        "totalCharge": str(item.total),
    }


def _usage_row(
    start: date,
    end: date,
    document_date: date,
    total: Decimal,
    charge_fields: dict[str, str],
    now: datetime,
) -> dict[str, Any]:
    return {
        "accountId": ACCOUNT_NUMBER,
        "additionalFields": {},
        "auditTrailUrl": f"https://app.nectarclimate.com/documents/{DOCUMENT_ID}/audit",
        "billedDemand": BILLED_DEMAND_KW,
        "created": nectar_time(now),
        "credits": "0.00",
        "currentCharges": str(total),
        "currentReading": str(PREVIOUS_READING + USAGE_KWH),
        "customContainerName": "",
        "customContainerSize": "0.000",
        "customContainerUsage": "0.000",
        "daysInRange": (end - start).days + 1,
        "documentDate": document_date.isoformat(),
        "documentId": DOCUMENT_ID,
        "documentNotes": "",
        **charge_fields,
        "endDate": end.isoformat(),
        "exclusion": False,
        "icp": "",
        "id": USAGE_ROW_ID,
        "isEstimated": False,
        "isFlagged": False,
        "isImplied": False,
        "meterId": METER_ID,
        "podId": "",
        "previousReading": str(PREVIOUS_READING),
        "processedDate": nectar_time(now),
        "shopNumber": "",
        "siteAddress": "1 Harbor Point Drive, Newark, NJ 07114",
        "siteExternalId": "HPL-NWK-01",
        "siteId": SITE["id"],
        "siteName": SITE["name"],
        "startDate": start.isoformat(),
        "state": "NJ",
        "submeterId": "",
        "supplierName": UTILITY,
        "tariff": "LPL-S",
        "updated": nectar_time(now),
        "usage": str(USAGE_KWH),
        "utilityCompany": UTILITY,
        "zipcode": "07114",
    }


EVENTS: dict[str, Callable[[str, datetime], dict[str, Any]]] = {
    "connection.created": connection,
    "connection.updated": connection,
    "connection.validated": connection,
    "connection.created.v2": connection,
    "connection.updated.v2": connection,
    "connection.validated.v2": connection,
    "document.created": document,
    "document.created.v2": document,
    "document.updated.v2": document,
    "document.deleted.v2": document,
}
