import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import Delivery, EndpointSecret, WebhookEndpoint
from tests.factories import StaffUserFactory
from tests.support.webhooks import openvolt_envelope, post_json

CHANGELIST = reverse("admin:events_delivery_changelist")


@pytest.fixture
def deliveries(api_client, openvolt_endpoint):
    """Three deliveries through the real intake: one duplicated, one rejected."""
    post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "d-1"))
    post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "d-1"))
    post_json(
        api_client,
        openvolt_endpoint,
        openvolt_envelope("meter.created", '=HYPERLINK("http://evil")'),
    )
    post_json(api_client, openvolt_endpoint, b"not json at all")
    return Delivery.objects.order_by("id")


def test_changelist_shows_deliveries_with_their_columns(admin_client, deliveries):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    for header in [
        "Received at",
        "Source",
        "Event type",
        "External id",
        "Status",
        "Receipts",
        "Processing attempts",
    ]:
        assert header in page
    assert "d-1" in page
    assert "invalid-body:" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "rejected"}, {"rejected"}),
        ({"status__exact": "pending"}, {"pending"}),
        ({"event_type": "meter.created"}, {"pending"}),
        ({"source__exact": "nectar"}, set()),
        ({"q": "d-1"}, {"pending"}),
        ({"q": "d-"}, set()),  # search is exact, never a scan with LIKE
    ],
)
def test_filters_and_exact_search(admin_client, deliveries, query, expected):
    response = admin_client.get(CHANGELIST, query)

    shown = {delivery.status for delivery in response.context["cl"].result_list}
    assert shown == expected


def test_changelist_defers_the_payload_and_never_counts_the_whole_table(admin_client, deliveries):
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(CHANGELIST)

    listing = [q["sql"] for q in queries if 'FROM "events_delivery"' in q["sql"]]
    assert listing
    assert not any('"events_delivery"."payload"' in sql for sql in listing)
    counts = [sql for sql in listing if "COUNT(" in sql]
    assert counts and all("LIMIT" in sql for sql in counts)


def test_detail_page_shows_pretty_payload_and_receipts(admin_client, deliveries):
    delivery = deliveries.get(external_id="d-1")

    response = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert '<pre class="payload">' in page
    assert "&quot;delivery_id&quot;: &quot;d-1&quot;" in page
    assert page.count("Duplicate") >= 1 and "Accepted" in page
    assert 'name="_save"' not in page  # read-only


def test_export_csv_streams_every_selected_row_with_formulas_escaped(admin_client, deliveries):
    response = admin_client.post(
        CHANGELIST,
        {"action": "export_csv", "_selected_action": [d.pk for d in deliveries]},
    )

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "received_at", "source", "endpoint"]
    assert len(rows) == 1 + deliveries.count()
    external_ids = {row[5] for row in rows[1:]}
    assert '\'=HYPERLINK("http://evil")' in external_ids
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_reprocess_action_queues_processed_deliveries_again(admin_client, deliveries):
    Delivery.objects.filter(status="pending").update(status="ignored")
    jobs_before = ProcrastinateJob.objects.count()

    response = admin_client.post(
        CHANGELIST,
        {"action": "reprocess", "_selected_action": [d.pk for d in deliveries]},
        follow=True,
    )

    assert "2 queued for processing." in response.content.decode()
    assert "1 skipped" in response.content.decode()
    assert Delivery.objects.filter(status="pending").count() == 2
    assert ProcrastinateJob.objects.count() == jobs_before + 2


def test_reprocess_needs_its_permission(client, deliveries):
    client.force_login(StaffUserFactory(permissions=["view_delivery", "export_data"]))

    response = client.get(CHANGELIST)

    actions = [choice[0] for choice in response.context["action_form"].fields["action"].choices]
    assert "export_csv" in actions
    assert "reprocess" not in actions


def test_adding_a_nectar_endpoint_shows_its_secret_once(admin_client):
    response = admin_client.post(
        reverse("admin:events_webhookendpoint_add"),
        {
            "source": "nectar",
            "description": "Nectar production",
            "enabled": "on",
            "secrets-TOTAL_FORMS": "0",
            "secrets-INITIAL_FORMS": "0",
        },
    )

    endpoint = WebhookEndpoint.objects.get()
    secret = EndpointSecret.objects.get(endpoint=endpoint).secret
    assert response.status_code == 200
    assert secret in response.content.decode()
    assert f"/webhooks/{endpoint.pk}/" in response.content.decode()

    change_page = admin_client.get(
        reverse("admin:events_webhookendpoint_change", args=[endpoint.pk])
    ).content.decode()
    assert secret not in change_page
    assert f"whsec_…{secret[-4:]}" in change_page


def test_a_pasted_secret_must_look_like_one(admin_client):
    response = admin_client.post(
        reverse("admin:events_webhookendpoint_add"),
        {
            "source": "nectar",
            "secret": "not-a-secret",
            "secrets-TOTAL_FORMS": "0",
            "secrets-INITIAL_FORMS": "0",
        },
    )

    assert "A secret looks like whsec_" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotating_a_secret_shows_the_new_one_and_keeps_the_old_for_a_while(
    admin_client, nectar_endpoint
):
    old = nectar_endpoint.test_secret

    response = admin_client.post(
        reverse("admin:events_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [nectar_endpoint.pk]},
    )

    new = EndpointSecret.objects.filter(expires_at__isnull=True).get().secret
    assert new != old and new in response.content.decode()
    assert old not in response.content.decode()
    assert EndpointSecret.objects.active().count() == 2


@pytest.mark.parametrize(
    "term",
    ["65c361e09ecb86c35d5ef1c5", "1234567890", "Ada@Example.com", "6630f047feb1f65bad24870a"],
    ids=["customer id", "meter number", "customer e-mail (any case)", "consent id"],
)
def test_search_finds_deliveries_by_what_they_are_about(
    admin_client, api_client, openvolt_endpoint, term
):
    revoked = {
        "id": "6630f047feb1f65bad24870a",
        "customer": {"id": "65c361e09ecb86c35d5ef1c5", "email": "ada@example.com"},
        "meter_numbers": ["1234567890", "0987654321"],
    }
    post_json(
        api_client,
        openvolt_endpoint,
        openvolt_envelope("hosted_consent.revoked", "about-1", payload=revoked),
    )
    post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "other-1"))

    response = admin_client.get(CHANGELIST, {"q": term})

    assert [d.external_id for d in response.context["cl"].result_list] == ["about-1"]


def test_search_by_subject_uses_the_index(admin_client, deliveries):
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM events_delivery WHERE subjects @> ARRAY['x']::varchar[]"
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "delivery_subjects" in plan
