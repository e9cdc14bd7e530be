"""The staff roles made by migration: what Customer success and Integration admin may open and
do, and that endpoint settings and secrets never reach Customer success."""

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from console.roles import (
    CUSTOMER_SUCCESS,
    INTEGRATION_ADMIN,
    role_permissions,
    roles_apply,
    roles_remove,
)
from events.models import Delivery
from events.services import endpoint_create
from tests.factories import StaffUserFactory
from tests.support.admin import action_names
from tests.support.webhooks import nectar_event, nectar_headers, openvolt_envelope, post_json

CS, IA = CUSTOMER_SUCCESS, INTEGRATION_ADMIN
EXPORTS = {"export_csv", "export_xlsx"}

# changelist -> (status for Customer success, status for Integration admin)
CHANGELISTS = {
    "events_delivery": (200, 200),
    "events_deliveryitem": (200, 200),
    "events_webhookendpoint": (403, 200),
    "events_emailsubscription": (200, 200),
    "meters_customer": (200, 200),
    "meters_meter": (200, 200),
    "meters_intervalreading": (200, 200),
    "meters_utilitybill": (200, 200),
    "meters_platformuser": (200, 200),
    "meters_apikeyrotation": (200, 200),
    "consents_hostedconsent": (200, 200),
    "consents_followup": (200, 200),
    "consents_utilityconnection": (200, 200),
    "console_exportlog": (403, 200),
}


def held(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


# The groups


def test_the_migration_made_both_groups_with_their_permissions(db):
    customer_success, integration_admin = held(CS), held(IA)

    assert {
        "events.view_delivery",
        "events.view_deliveryreceipt",
        "events.view_emailsubscription",
        "meters.view_customer",
        "meters.view_intervalreading",
        "meters.view_utilitybill",
        "consents.view_hostedconsent",
        "consents.view_followup",
        "consents.change_followup",
        "consents.view_followupnote",
        "consents.add_followupnote",
        "consents.view_utilityconnection",
        "console.export_data",
    } <= customer_success
    assert (
        not {
            "events.view_webhookendpoint",
            "events.view_endpointsecret",
            "events.reprocess_delivery",
            "events.change_delivery",
            "events.change_emailsubscription",
            "consents.delete_followup",
            "console.view_exportlog",
        }
        & customer_success
    )
    assert customer_success < integration_admin
    assert (
        integration_admin - customer_success
        == {
            *(
                f"events.{action}_{model}"
                for model in ("webhookendpoint", "endpointsecret", "emailsubscription")
                for action in ("view", "add", "change", "delete")
            ),
            "events.reprocess_delivery",
            "console.view_exportlog",
            "otp_totp.view_totpdevice",
            "otp_totp.delete_totpdevice",
        }
        - customer_success
    )


def test_sync_roles_restores_the_definition_and_is_idempotent(db):
    group = Group.objects.get(name=CS)
    group.permissions.remove(Permission.objects.get(codename="export_data"))
    group.permissions.add(Permission.objects.get(codename="view_endpointsecret"))
    out = io.StringIO()

    call_command("sync_roles", stdout=out)
    first = held(CS)
    call_command("sync_roles", stdout=out)

    defined = {f"{app}.{codename}" for app, codename in role_permissions()[CS]}
    assert first == defined == held(CS)
    assert "console.export_data" in first and "events.view_endpointsecret" not in first
    assert f"{CS}: {len(defined)} permissions" in out.getvalue()


def test_roles_apply_as_the_migration_does_creating_missing_permissions(db):
    """The migration sees the project of its time and, on a fresh database, no permissions."""
    historical = MigrationLoader(connection).project_state(("console", "0002_roles")).apps
    roles_remove(apps=historical)
    Permission.objects.filter(codename="export_data").delete()

    counts = roles_apply(apps=historical)

    assert "console.export_data" in held(CS)
    assert counts[CS] == len(held(CS))


# What each role opens


@pytest.mark.parametrize(("changelist", "statuses"), CHANGELISTS.items())
def test_changelists_each_role_may_open(client, db, changelist, statuses):
    url = reverse(f"admin:{changelist}_changelist")
    for group_name, expected in zip((CS, IA), statuses, strict=True):
        client.force_login(StaffUserFactory(groups=[group_name]))
        assert client.get(url).status_code == expected, (group_name, changelist)


def test_a_user_in_no_group_sees_nothing(client, db):
    client.force_login(StaffUserFactory())

    index = client.get(reverse("admin:index"))

    assert index.status_code == 200
    assert index.context["app_list"] == []
    for changelist in CHANGELISTS:
        assert client.get(reverse(f"admin:{changelist}_changelist")).status_code == 403


@pytest.mark.parametrize(
    ("group_name", "changelist", "expected"),
    [
        (CS, "events_delivery", EXPORTS),
        (IA, "events_delivery", {"reprocess", *EXPORTS}),
        (CS, "meters_intervalreading", {"export_csv"}),
        (IA, "meters_intervalreading", {"export_csv"}),
        *(
            (group_name, changelist, EXPORTS)
            for group_name in (CS, IA)
            for changelist in [
                "meters_customer",
                "meters_meter",
                "meters_utilitybill",
                "consents_hostedconsent",
                "consents_followup",
                "consents_utilityconnection",
            ]
        ),
    ],
)
def test_actions_each_role_sees(client, db, group_name, changelist, expected):
    client.force_login(StaffUserFactory(groups=[group_name]))

    response = client.get(reverse(f"admin:{changelist}_changelist"))

    assert action_names(response) & {"reprocess", *EXPORTS} == expected


def test_customer_success_cannot_open_an_endpoint_or_add_one(client, openvolt_endpoint):
    client.force_login(StaffUserFactory(groups=[CS]))

    change = reverse("admin:events_webhookendpoint_change", args=[openvolt_endpoint.pk])
    assert client.get(change).status_code == 403
    assert client.get(reverse("admin:events_webhookendpoint_add")).status_code == 403


def test_customer_success_cannot_reprocess_by_posting_the_action(client, api_client, db):
    endpoint, _ = endpoint_create(source="openvolt", description="Openvolt")
    post_json(api_client, endpoint, openvolt_envelope("customer.created", "d-1"))
    Delivery.objects.update(status="dead")
    client.force_login(StaffUserFactory(groups=[CS]))

    client.post(
        reverse("admin:events_delivery_changelist"),
        {"action": "reprocess", "_selected_action": [Delivery.objects.get().pk]},
    )

    assert Delivery.objects.get().status == "dead"


# Endpoint settings and secrets never reach Customer success


@pytest.fixture
def quiet_endpoints(api_client, db):
    """An Openvolt endpoint with no description (its id would be all there is to show) and a
    Nectar one, each with a delivery; the Nectar one signed."""
    openvolt, _ = endpoint_create(source="openvolt", description="")
    nectar, secret = endpoint_create(source="nectar", description="Nectar")
    post_json(api_client, openvolt, openvolt_envelope("customer.created", "ov-1"))
    # The Openvolt one went quiet two days ago after a steady rhythm: the dashboard names it.
    quiet_since = timezone.now() - timedelta(days=2)
    Delivery.objects.filter(endpoint=openvolt).update(received_at=quiet_since)
    for number in range(1, 5):
        Delivery.objects.create(
            endpoint=openvolt,
            source="openvolt",
            external_id=f"ov-earlier-{number}",
            received_at=quiet_since - timedelta(minutes=10 * number),
        )
    body = json.dumps(nectar_event()).encode()
    headers = nectar_headers(secret, body, message_id="msg_secretive")
    assert post_json(api_client, nectar, body, headers).status_code == 202
    return {"openvolt": openvolt, "nectar": nectar, "secret": secret, "headers": headers}


def secrets_of(endpoints) -> list[str]:
    return [
        str(endpoints["openvolt"].pk),
        str(endpoints["nectar"].pk),
        endpoints["secret"],
        endpoints["secret"].removeprefix("whsec_"),
        endpoints["headers"]["svix-signature"],
    ]


def test_the_delivery_page_shows_customer_success_the_endpoint_as_plain_text(
    client, quiet_endpoints
):
    delivery = Delivery.objects.get(external_id="ov-1")
    client.force_login(StaffUserFactory(groups=[CS]))

    page = client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))

    text = page.content.decode()
    assert page.status_code == 200
    assert "Openvolt: (no description)" in text
    assert "/admin/events/webhookendpoint/" not in text
    assert str(quiet_endpoints["openvolt"].pk) not in text


def test_the_delivery_page_links_the_endpoint_for_integration_admins(client, quiet_endpoints):
    delivery = Delivery.objects.get(external_id="ov-1")
    client.force_login(StaffUserFactory(groups=[IA]))

    page = client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))

    endpoint = quiet_endpoints["openvolt"]
    assert (
        reverse("admin:events_webhookendpoint_change", args=[endpoint.pk]) in page.content.decode()
    )


def test_no_page_or_export_shows_customer_success_an_endpoint_id_or_secret(client, quiet_endpoints):
    client.force_login(StaffUserFactory(groups=[CS]))
    changelist = reverse("admin:events_delivery_changelist")
    everything = [d.pk for d in Delivery.objects.all()]
    seen = {
        "deliveries": client.get(changelist).content.decode(),
        "subscriptions": client.get(
            reverse("admin:events_emailsubscription_changelist")
        ).content.decode(),
    }
    for delivery in Delivery.objects.all():
        page = client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))
        assert page.status_code == 200
        seen[delivery.external_id] = page.content.decode()
    csv_export = client.post(changelist, {"action": "export_csv", "_selected_action": everything})
    seen["csv"] = b"".join(csv_export.streaming_content).decode()
    xlsx_export = client.post(changelist, {"action": "export_xlsx", "_selected_action": everything})
    sheet = load_workbook(io.BytesIO(b"".join(xlsx_export.streaming_content))).active
    seen["xlsx"] = " ".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row)

    assert "[redacted]" in seen["msg_secretive"]  # the receipt is there, its signature is not
    for secret in secrets_of(quiet_endpoints):
        assert not [where for where, text in seen.items() if secret in text], secret


def test_the_dashboard_shows_customer_success_no_endpoint_id(client, quiet_endpoints):
    client.force_login(StaffUserFactory(groups=[CS]))

    response = client.get(reverse("admin:index"))

    # The quiet Openvolt endpoint may be named, by its description, but never by its id.
    assert response.status_code == 200
    page = response.content.decode()
    for secret in secrets_of(quiet_endpoints):
        assert secret not in page
