"""The dashboard's line on retention: how long deliveries are kept, how many are (the table's
estimate, never a count of millions), and when the next prune runs."""

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from events.models import Delivery
from tests.factories import DeliveryFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


def retention_line(client):
    response = client.get(INDEX)
    assert response.status_code == 200
    page = response.content.decode()
    (line,) = re.findall(r'<p class="dash-second" id="dash-retention">([^<]*)</p>', page)
    return response.context["dashboard"].retention, line


def test_the_dashboard_says_how_long_and_how_many_deliveries_are_kept(admin_client, settings):
    settings.DELIVERY_RETENTION_DAYS = 30
    for status in [Delivery.Status.PROCESSED, Delivery.Status.DEAD, Delivery.Status.REJECTED]:
        DeliveryFactory(status=status)

    text, shown = retention_line(admin_client)

    assert text == shown
    assert text.startswith(
        "Deliveries are kept 30 days after they end (failed and dead ones until a person "
        "acts): 3 kept (estimate), next prune at "
    )
    at = datetime.strptime(text.removesuffix(".")[-5:], "%H:%M")
    now = timezone.localtime()
    assert at.minute == timezone.localtime(datetime(2026, 1, 1, 0, 17, tzinfo=UTC)).minute
    assert at.hour in {now.hour, (now.hour + 1) % 24}


@pytest.mark.usefixtures("live_database")
def test_on_a_large_table_the_estimate_is_read_not_counted(admin_client):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_delivery (endpoint_id, source, external_id, event_type, status, "
            "payload, unparsed_body, subjects, error, error_traceback, summary, links, warnings, "
            "receipt_count, attempt_count, consecutive_failures) "
            "SELECT %s, 'openvolt', 'bulk-' || n, 'customer.created', 'processed', NULL, '', "
            "'{}', '', '', '', '[]', '[]', 1, 0, 0 FROM generate_series(1, 12000) AS n",
            [DeliveryFactory().endpoint_id],
        )
        cursor.execute("ANALYZE events_delivery")
    DeliveryFactory.create_batch(5)  # not counted: the estimate is as of the ANALYZE

    text, _ = retention_line(admin_client)

    assert "12,001 kept (estimate)" in text
    assert Delivery.objects.count() == 12_006


def test_the_line_is_left_out_for_those_who_may_not_view_deliveries(client):
    client.force_login(StaffUserFactory(permissions=["view_followup"]))

    response = client.get(INDEX)

    assert response.context["dashboard"].retention == ""
    assert 'id="dash-retention"' not in response.content.decode()
