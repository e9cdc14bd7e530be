"""Exports of the changelists as CSV and XLSX: who may, what comes out, and the log of them."""

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.signals import request_finished
from django.db import close_old_connections
from django.urls import reverse
from openpyxl import load_workbook

from common import exports
from consents.models import ConnectionAccount, UtilityConnection
from console.models import ExportLog
from console.roles import CUSTOMER_SUCCESS, INTEGRATION_ADMIN
from events.models import Delivery
from meters.models import Customer
from tests.factories import (
    CustomerFactory,
    FollowUpFactory,
    HostedConsentFactory,
    IntervalReadingFactory,
    MeterFactory,
    StaffUserFactory,
    UtilityBillFactory,
)
from tests.support.admin import action_names
from tests.support.webhooks import openvolt_envelope, post_json

DELIVERIES = reverse("admin:events_delivery_changelist")
CUSTOMERS = reverse("admin:meters_customer_changelist")
EVIL = '=HYPERLINK("http://evil")'


@pytest.fixture
def deliveries(api_client, openvolt_endpoint):
    """Three deliveries through the real intake, one with an id a spreadsheet would run."""
    post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "d-1"))
    post_json(api_client, openvolt_endpoint, openvolt_envelope("meter.created", EVIL))
    post_json(api_client, openvolt_endpoint, b"not json at all")
    return Delivery.objects.order_by("id")


@pytest.fixture
def customer_success(client, db):
    client.force_login(StaffUserFactory(username="customer-success", groups=[CUSTOMER_SUCCESS]))
    return client


@pytest.fixture
def mirrors(db):
    """One object of each exported mirror, with values of every kind a column holds."""
    customer = CustomerFactory(
        external_id="c-1",
        name="@SUM(1+1)*cmd",
        email="ops@example.com",
        created_on_platform=datetime(2024, 4, 28, 11, 44, tzinfo=UTC),
    )
    meter = MeterFactory(external_id="m-1", meter_number="1200000000001", customer=customer)
    IntervalReadingFactory(
        meter=meter, start=datetime(2024, 4, 28, tzinfo=UTC), consumption_kwh=Decimal("0.25")
    )
    consent = HostedConsentFactory(
        external_id="hc-1", customer=customer, meter_numbers=["1200000000001"]
    )
    FollowUpFactory(consent=consent)
    connection = UtilityConnection.objects.create(
        external_id="uc-1", company_nectar_id="co-1", company_name="-Acme"
    )
    ConnectionAccount.objects.create(connection=connection, account_number="A-1")
    UtilityBillFactory(
        external_id="ub-1",
        company_nectar_id="co-1",
        invoice_id="#N/A",
        document_date=date(2024, 5, 1),
        total_charges=Decimal("120.50"),
        is_flagged=True,
    )


def post_export(client, changelist, action, *, selected=None, query=""):
    data = {"action": action}
    if selected is None:
        data.update(select_across="1", _selected_action=["0"])
    else:
        data["_selected_action"] = selected
    return client.post(changelist + query, data)


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def xlsx_bytes(response) -> bytes:
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert response.streaming
    content = b"".join(response.streaming_content)
    assert len(content) == int(response["Content-Length"])
    return content


def xlsx_rows(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


def the_log() -> ExportLog:
    (log,) = ExportLog.objects.all()
    return log


# CSV


def test_csv_export_of_a_selection_is_logged_with_its_row_count(customer_success, deliveries):
    selected = [d.pk for d in deliveries[:2]]

    rows = csv_rows(post_export(customer_success, DELIVERIES, "export_csv", selected=selected))

    assert len(rows) == 1 + 2
    assert f"'{EVIL}" in [row[5] for row in rows]
    received = {datetime.fromisoformat(row[1]) for row in rows[1:]}
    assert received == {d.received_at for d in deliveries[:2]}  # ISO 8601, written by PostgreSQL
    log = the_log()
    assert log.user.username == "customer-success"
    assert (log.model_label, log.format, log.row_count) == ("events.delivery", "csv", 2)
    assert log.complete and not log.selected_all
    assert log.started_at <= log.finished_at


def test_csv_export_of_the_whole_filtered_list_is_logged_with_its_filters(
    customer_success, deliveries
):
    rows = csv_rows(
        post_export(customer_success, DELIVERIES, "export_csv", query="?status__exact=pending")
    )

    assert [row[6] for row in rows[1:]] == ["pending", "pending"]
    log = the_log()
    assert (log.row_count, log.selected_all, log.complete) == (2, True, True)
    assert log.query_string == "status__exact=pending"


def test_a_stream_cut_short_is_logged_as_partial(rf, db):
    Customer.objects.bulk_create(
        Customer(external_id=f"c-{number:05}", name=f"Customer {number}") for number in range(1200)
    )
    # Straight to the action, as the server sees it: the test client would close the stream.
    request = rf.post(CUSTOMERS, {"action": "export_csv", "select_across": "1"})
    request.user = StaffUserFactory(groups=[CUSTOMER_SUCCESS])
    customers = admin.site.get_model_admin(Customer)
    export_csv = customers.get_actions(request)["export_csv"][0]
    response = export_csv(customers, request, Customer.objects.all())
    chunks = iter(response)

    next(chunks), next(chunks)  # the browser takes two chunks, then goes away
    assert the_log().finished_at is None  # still streaming
    request_finished.disconnect(close_old_connections)  # keep the test's connection open
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)

    log = the_log()
    assert log.finished_at is not None
    assert not log.complete
    assert log.row_count == exports.CSV_CHUNK_ROWS


# XLSX


def test_xlsx_export_of_a_selection_opens_with_formulas_escaped(customer_success, deliveries):
    selected = [d.pk for d in deliveries]

    content = xlsx_bytes(
        post_export(customer_success, DELIVERIES, "export_xlsx", selected=selected)
    )

    rows = xlsx_rows(content)
    assert rows[0][:4] == ("id", "received_at", "source", "endpoint")
    assert len(rows) == 1 + 3
    assert f"'{EVIL}" in [row[5] for row in rows]
    sheet_xml = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "HYPERLINK" in sheet_xml  # text, never a formula
    log = the_log()
    assert (log.format, log.row_count, log.complete, log.selected_all) == ("xlsx", 3, True, False)


def test_xlsx_export_of_the_whole_filtered_list_is_logged(customer_success, deliveries):
    content = xlsx_bytes(
        post_export(customer_success, DELIVERIES, "export_xlsx", query="?status__exact=rejected")
    )

    assert [row[6] for row in xlsx_rows(content)[1:]] == ["rejected"]
    log = the_log()
    assert (log.row_count, log.selected_all, log.query_string) == (
        1,
        True,
        "status__exact=rejected",
    )


def test_xlsx_cells_keep_their_types_and_text_stays_text(customer_success, mirrors):
    customers = xlsx_rows(xlsx_bytes(post_export(customer_success, CUSTOMERS, "export_xlsx")))
    bills = xlsx_rows(
        xlsx_bytes(
            post_export(
                customer_success, reverse("admin:meters_utilitybill_changelist"), "export_xlsx"
            )
        )
    )

    header, customer = customers
    assert customer[header.index("name")] == "'@SUM(1+1)*cmd"
    # Excel has no time zones: aware times go out as ISO 8601 text, as in the CSV.
    assert customer[header.index("created_on_platform")] == "2024-04-28T11:44:00+00:00"
    header, bill = bills
    assert bill[header.index("invoice_id")] == "#N/A"  # text, not Excel's error value
    assert bill[header.index("total_charges")] == Decimal("120.50")
    assert bill[header.index("document_date")] == datetime(2024, 5, 1)
    assert bill[header.index("is_flagged")] is True


def test_control_characters_are_dropped_from_xlsx_cells(customer_success, db):
    Customer.objects.create(external_id="c-1", name="Bell\x07 and\x1b escape")

    rows = xlsx_rows(xlsx_bytes(post_export(customer_success, CUSTOMERS, "export_xlsx")))

    assert rows[1][1] == "Bell and escape"


@pytest.mark.parametrize(
    ("changelist", "label"),
    [
        ("meters_customer", "meters.customer"),
        ("meters_meter", "meters.meter"),
        ("meters_utilitybill", "meters.utilitybill"),
        ("consents_hostedconsent", "consents.hostedconsent"),
        ("consents_followup", "consents.followup"),
        ("consents_utilityconnection", "consents.utilityconnection"),
    ],
)
def test_each_spreadsheet_changelist_exports_both_formats(
    customer_success, mirrors, changelist, label
):
    url = reverse(f"admin:{changelist}_changelist")

    csv_export = csv_rows(post_export(customer_success, url, "export_csv"))
    xlsx_export = xlsx_rows(xlsx_bytes(post_export(customer_success, url, "export_xlsx")))

    assert len(csv_export) == len(xlsx_export) == 2
    assert list(xlsx_export[0]) == csv_export[0]
    logs = ExportLog.objects.order_by("id")
    assert [(log.model_label, log.format, log.row_count) for log in logs] == [
        (label, "csv", 1),
        (label, "xlsx", 1),
    ]


def test_readings_export_csv_but_not_xlsx(customer_success, mirrors):
    url = reverse("admin:meters_intervalreading_changelist")

    rows = csv_rows(post_export(customer_success, url, "export_csv"))
    refused = post_export(customer_success, url, "export_xlsx")

    assert rows[1][:2] == ["1200000000001", "m-1"]
    assert refused.status_code == 302
    assert [log.format for log in ExportLog.objects.all()] == ["csv"]


def test_an_export_too_large_for_a_sheet_is_refused(customer_success, deliveries, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)

    response = post_export(customer_success, DELIVERIES, "export_xlsx")

    assert response.status_code == 302
    page = customer_success.get(response["Location"]).content.decode()
    assert "more than an Excel sheet holds" in page
    assert not ExportLog.objects.exists()


def test_an_export_reads_instances_or_database_values_not_both():
    with pytest.raises(TypeError):
        exports.export_actions(
            [exports.Column("id", lambda obj: obj.pk), exports.FieldColumn("name", "name")]
        )


# Who may export


def test_export_without_the_permission_is_refused(client, db, mirrors):
    client.force_login(StaffUserFactory(permissions=["view_customer"]))

    listing = client.get(CUSTOMERS)
    responses = [post_export(client, CUSTOMERS, action) for action in ("export_csv", "export_xlsx")]

    assert listing.status_code == 200
    assert not action_names(listing) & {"export_csv", "export_xlsx"}
    # With no action to offer, the changelist takes the post for a page view: no file.
    assert not any(response.streaming for response in responses)
    assert all(response["Content-Type"].startswith("text/html") for response in responses)
    assert not ExportLog.objects.exists()


def test_the_export_permission_alone_does_not_open_a_list(client, db, mirrors):
    client.force_login(StaffUserFactory(permissions=["export_data"]))

    assert post_export(client, CUSTOMERS, "export_csv").status_code == 403
    assert not ExportLog.objects.exists()


def test_a_superuser_exports(admin_client, mirrors):
    rows = csv_rows(post_export(admin_client, CUSTOMERS, "export_csv"))

    assert len(rows) == 2
    assert the_log().user.is_superuser


# The log, in the admin


def test_the_export_log_is_read_only_for_integration_admins(client, customer_success, deliveries):
    csv_rows(post_export(customer_success, DELIVERIES, "export_csv"))
    log = the_log()
    client.force_login(StaffUserFactory(groups=[INTEGRATION_ADMIN]))

    listing = client.get(reverse("admin:console_exportlog_changelist"))
    page = client.get(reverse("admin:console_exportlog_change", args=[log.pk]))

    assert listing.status_code == 200
    assert "events.delivery" in listing.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get(reverse("admin:console_exportlog_add")).status_code == 403
    assert client.post(reverse("admin:console_exportlog_delete", args=[log.pk])).status_code == 403
