"""The delivery changelist for people who chase problems: filters, search, retrying failed
deliveries since a moment, and delivery pages that stay short however often it was retried."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from events import admin_retry
from events.models import Delivery, DeliveryAttempt, DeliveryReceipt
from tests.factories import DeliveryFactory, OpenvoltEndpointFactory, StaffUserFactory
from tests.support.webhooks import openvolt_envelope, post_json

CHANGELIST = reverse("admin:events_delivery_changelist")
RETRY = reverse("admin:events_delivery_retry_failed")
Status = Delivery.Status


def shown(response):
    assert response.status_code == 200, response
    return {delivery.external_id for delivery in response.context["cl"].result_list}


# Filters


@pytest.fixture
def assorted(openvolt_endpoint, nectar_endpoint):
    """Deliveries that differ in one thing each, at known times."""
    return {
        "failed": DeliveryFactory(
            endpoint=openvolt_endpoint,
            external_id="failed",
            status=Status.FAILED,
            received_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
            event_type="meter.created",
        ),
        "dead": DeliveryFactory(
            endpoint=openvolt_endpoint,
            external_id="dead",
            status=Status.DEAD,
            received_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
        ),
        "processed": DeliveryFactory(
            endpoint=openvolt_endpoint,
            external_id="processed",
            status=Status.PROCESSED,
            received_at=datetime(2026, 11, 22, 9, tzinfo=UTC),
        ),
        "nectar": DeliveryFactory(
            endpoint=nectar_endpoint,
            external_id="nectar",
            status=Status.PROCESSED,
            received_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
            event_type="document.created.v2",
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"source__exact": "nectar"}, {"nectar"}),
        ({"source__exact": "openvolt"}, {"failed", "dead", "processed"}),
        ({"event_type": "meter.created"}, {"failed"}),
        ({"event_type": "document.created.v2"}, {"nectar"}),
        ({"status__exact": "failed"}, {"failed"}),
        ({"status__exact": "dead"}, {"dead"}),
        ({"received_at__gte": "2026-11-21"}, {"dead", "processed", "nectar"}),
        ({"received_at__lt": "2026-11-21"}, {"failed"}),
        (
            {"received_at__gte": "2026-11-21", "received_at__lt": "2026-11-23"},
            {"dead", "processed"},
        ),
        ({"received_at__gte": "2026-11-21T09:00:01"}, {"processed", "nectar"}),
        ({"received_at__gte": "2026-11-21T10:00+01:00"}, {"dead", "processed", "nectar"}),
        ({"received_at__gte": "2026-11-20T12:00", "status__exact": "dead"}, {"dead"}),
        ({"received_at__gte": ""}, {"failed", "dead", "processed", "nectar"}),
    ],
)
def test_each_filter_narrows_the_list(admin_client, assorted, query, expected):
    assert shown(admin_client.get(CHANGELIST, query)) == expected


def test_the_endpoint_filter_lists_endpoints_by_description(
    admin_client, assorted, openvolt_endpoint, nectar_endpoint
):
    spare = OpenvoltEndpointFactory(description="Openvolt staging")

    response = admin_client.get(CHANGELIST)

    page = response.content.decode()
    for endpoint in (openvolt_endpoint, nectar_endpoint, spare):
        assert f"?endpoint={endpoint.pk}" in page
    assert "Openvolt: Openvolt staging" in page and "Nectar: Nectar test" in page
    assert shown(admin_client.get(CHANGELIST, {"endpoint": nectar_endpoint.pk})) == {"nectar"}
    assert shown(admin_client.get(CHANGELIST, {"endpoint": openvolt_endpoint.pk})) == {
        "failed",
        "dead",
        "processed",
    }
    assert shown(admin_client.get(CHANGELIST, {"endpoint": spare.pk})) == set()


@pytest.mark.parametrize(
    "query",
    [
        {"received_at__gte": "last tuesday"},
        {"received_at__lt": "2026-13-40"},
        {"endpoint": "not-a-uuid"},
    ],
)
def test_a_malformed_filter_value_is_an_error_not_a_crash(admin_client, assorted, query):
    response = admin_client.get(CHANGELIST, query)

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_date_range_filter_is_two_date_inputs_keeping_the_other_parameters(
    admin_client, assorted
):
    response = admin_client.get(
        CHANGELIST,
        {"received_at__gte": "2026-11-21", "status__exact": "dead", "q": '"><script>x</script>'},
    )

    page = response.content.decode()
    assert '<input type="date" id="received-from" name="received_at__gte" value="2026-11-21">' in (
        page
    )
    assert 'name="received_at__lt" value=""' in page
    assert '<input type="hidden" name="status__exact" value="dead">' in page
    assert "&quot;&gt;&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in page
    assert "from 2026-11-21 00:00" in page
    assert "date_hierarchy" not in page


# Search: every key a delivery can be found by


@pytest.fixture
def about(api_client, openvolt_endpoint):
    """Deliveries through the real intake, which works out their subjects."""
    post_json(
        api_client,
        openvolt_endpoint,
        openvolt_envelope(
            "hosted_consent.revoked",
            "consent-delivery",
            payload={
                "id": "6630f047feb1f65bad24870a",
                "customer": {"id": "65c361e09ecb86c35d5ef1c5", "email": "Ada@Example.com"},
                "meter_numbers": ["1200012345678"],
            },
        ),
    )
    post_json(
        api_client,
        openvolt_endpoint,
        openvolt_envelope(
            "meter_data.received",
            "readings-delivery",
            payload=[
                {
                    "meter_id": "5rgh7884a9c14daf2a8u7f4e",
                    "start_interval": "2024-04-27T00:30:00.000Z",
                    "end_interval": "2024-04-28T00:00:00.000Z",
                }
            ],
        ),
    )
    post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", "unrelated"))


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("readings-delivery", {"readings-delivery"}),
        ("5rgh7884a9c14daf2a8u7f4e", {"readings-delivery"}),
        ("1200012345678", {"consent-delivery"}),
        ("ada@example.com", {"consent-delivery"}),
        ("  ADA@example.COM ", {"consent-delivery"}),
        ("6630f047feb1f65bad24870a", {"consent-delivery"}),
        ("65c361e09ecb86c35d5ef1c5", {"consent-delivery"}),
        ("1200012345", set()),  # exact keys only: no LIKE scan over a million rows
        ("readings", set()),
    ],
    ids=[
        "external id",
        "meter id",
        "meter number",
        "customer e-mail",
        "e-mail in another case, with spaces",
        "consent id",
        "customer id",
        "part of a meter number",
        "part of an external id",
    ],
)
def test_search_finds_a_delivery_by_each_key(admin_client, about, term, expected):
    assert shown(admin_client.get(CHANGELIST, {"q": term})) == expected


def test_search_finds_what_processing_added_to_the_subjects(admin_client):
    # A meter_data.received payload names the meter id only; processing adds its number.
    DeliveryFactory(
        external_id="processed-readings",
        status=Status.PROCESSED,
        event_type="meter_data.received",
        subjects=["5rgh7884a9c14daf2a8u7f4e", "1200099999999"],
    )

    assert shown(admin_client.get(CHANGELIST, {"q": "1200099999999"})) == {"processed-readings"}


# Retry everything failed since …


@pytest.fixture
def failures(db):
    now = timezone.now()
    return {
        external_id: DeliveryFactory(
            external_id=external_id, status=status, received_at=now - ago, event_type=event_type
        )
        for external_id, status, ago, event_type in [
            ("old-failed", Status.FAILED, timedelta(days=3), "customer.created"),
            ("failed", Status.FAILED, timedelta(hours=5), "customer.created"),
            ("dead", Status.DEAD, timedelta(hours=4), "meter.created"),
            ("processed", Status.PROCESSED, timedelta(hours=3), "customer.created"),
            ("rejected", Status.REJECTED, timedelta(hours=2), "customer.created"),
        ]
    }


def _since(hours_ago):
    moment = timezone.localtime() - timedelta(hours=hours_ago)
    return moment.strftime("%Y-%m-%dT%H:%M")


def pending():
    return set(Delivery.objects.filter(status=Status.PENDING).values_list("external_id", flat=True))


def test_the_changelist_links_to_the_retry_page_for_those_who_may_reprocess(admin_client, client):
    assert f'href="{RETRY}"' in admin_client.get(CHANGELIST).content.decode()

    client.force_login(StaffUserFactory(permissions=["view_delivery"]))
    page = client.get(CHANGELIST).content.decode()
    assert "Retry everything failed" not in page


def test_the_retry_page_starts_with_a_form(admin_client, failures):
    response = admin_client.get(RETRY)

    page = response.content.decode()
    assert response.status_code == 200
    assert 'type="datetime-local"' in page and 'name="event_type"' in page
    assert 'id="retry-confirm"' not in page  # nothing to confirm before counting


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ({"since": _since(6)}, 2),
        ({"since": _since(72 + 1)}, 3),
        ({"since": _since(6), "event_type": "meter.created"}, 1),
        ({"since": _since(1)}, 0),
    ],
)
def test_the_retry_page_counts_before_confirming(admin_client, failures, query, count):
    response = admin_client.get(RETRY, query)

    page = response.content.decode()
    assert response.context["count"] == count
    if count:
        assert f"<strong>{count}</strong> failed or dead deliver" in page
        assert 'id="retry-confirm"' in page
    else:
        assert "nothing to retry" in page
        assert 'id="retry-confirm"' not in page
    assert pending() == set()  # counting queues nothing


def test_confirming_queues_the_failed_and_dead_deliveries_since_then(admin_client, failures):
    jobs_before = ProcrastinateJob.objects.count()

    response = admin_client.post(RETRY, {"since": _since(6)}, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    assert "2 failed deliveries queued for processing." in response.content.decode()
    assert pending() == {"failed", "dead"}
    assert ProcrastinateJob.objects.count() == jobs_before + 2


def test_confirming_with_an_event_type_queues_only_that_type(admin_client, failures):
    admin_client.post(RETRY, {"since": _since(72 + 1), "event_type": "meter.created"})

    assert pending() == {"dead"}


def test_the_retry_page_refuses_a_time_in_the_future(admin_client, failures):
    response = admin_client.post(RETRY, {"since": _since(-2)})

    assert response.status_code == 200
    assert "in the future" in response.content.decode()
    assert pending() == set()


def test_too_many_points_to_the_command_instead(admin_client, failures, monkeypatch):
    monkeypatch.setattr(admin_retry, "RETRY_LIMIT", 1)

    preview = admin_client.get(RETRY, {"since": _since(6)}).content.decode()
    admin_client.post(RETRY, {"since": _since(6)})

    assert "python manage.py reprocess_deliveries --since" in preview
    assert 'id="retry-confirm"' not in preview
    assert pending() == set()


@pytest.mark.parametrize("codenames", [(), ("view_delivery",)])
def test_retrying_needs_the_reprocess_permission(client, failures, codenames):
    client.force_login(StaffUserFactory(permissions=codenames))

    assert client.get(RETRY, {"since": _since(6)}).status_code == 403
    assert client.post(RETRY, {"since": _since(6)}).status_code == 403
    assert pending() == set()


def test_the_reprocess_permission_alone_is_enough(client, failures):
    client.force_login(StaffUserFactory(permissions=["view_delivery", "reprocess_delivery"]))

    client.post(RETRY, {"since": _since(6)})

    assert pending() == {"failed", "dead"}


def test_the_retry_page_needs_a_staff_login(client, failures):
    response = client.get(RETRY)

    assert response.status_code == 302
    assert "/login/" in response["Location"]


# The delivery page stays bounded


def test_a_delivery_retried_ten_thousand_times_shows_its_latest_fifty(admin_client):
    delivery = DeliveryFactory(
        external_id="retried", status=Status.DEAD, attempt_count=10_000, receipt_count=60
    )
    start = timezone.now() - timedelta(days=30)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=delivery,
            started_at=start + timedelta(minutes=n),
            result="failed",
            error=f"attempt number {n}",
        )
        for n in range(10_000)
    )
    DeliveryReceipt.objects.bulk_create(
        DeliveryReceipt(
            delivery=delivery,
            received_at=start + timedelta(hours=n),
            verdict="duplicate",
            response_status=200,
            remote_addr="192.0.2.1",
        )
        for n in range(60)
    )

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    formsets = {f.formset.prefix: f.formset for f in response.context["inline_admin_formsets"]}
    assert formsets["attempts"].initial_form_count() == 50
    assert formsets["receipts"].initial_form_count() == 50
    assert "showing the latest 50 of 10000" in page
    assert "showing the latest 50 of 60" in page
    assert "attempt number 9999" in page and "attempt number 9950" in page
    assert "attempt number 9949" not in page
    attempt_reads = [q["sql"] for q in queries if 'FROM "events_deliveryattempt"' in q["sql"]]
    assert all("LIMIT 50" in sql or "COUNT(" in sql for sql in attempt_reads)


def test_a_delivery_with_few_attempts_shows_them_all_without_a_note(admin_client):
    delivery = DeliveryFactory(external_id="once", status=Status.PROCESSED)
    DeliveryAttempt.objects.create(delivery=delivery, result="processed")

    response = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))

    assert "showing the latest" not in response.content.decode()
