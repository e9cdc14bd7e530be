"""The dashboard's "sent again with another body": deliveries whose id came again with a
different body in the last 7 days, counted from the partial index and linked to exactly
them."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from common.moments import day_bounds
from tests.factories import DeliveryFactory, StaffUserFactory
from tests.support.dashboard import attention_panel, listed_deliveries
from tests.support.webhooks import body_of, openvolt_envelope, post_json

INDEX = reverse("admin:index")
TITLE = "Deliveries sent again with another body"


def conflicts_panel(client):
    return attention_panel(client, TITLE)


def test_deliveries_with_a_later_body_that_differed_are_counted_and_linked(
    admin_client, api_client, openvolt_endpoint
):
    # One through the real intake: its id sent again with another body.
    post_json(api_client, openvolt_endpoint, body_of(openvolt_envelope(delivery_id="now")))
    post_json(
        api_client,
        openvolt_endpoint,
        body_of(openvolt_envelope(delivery_id="now", payload={"id": "another"})),
    )
    now = timezone.now()
    # "Last 7 days" is today and the 6 days before, whole days: as the other 7-day figures.
    first_day_start, _ = day_bounds(timezone.localdate(now) - timedelta(days=6))
    for external_id, conflict_at in [
        ("3-days", now - timedelta(days=3)),
        ("week-start", first_day_start),
        ("before-the-week", first_day_start - timedelta(seconds=1)),
        ("never", None),
    ]:
        DeliveryFactory(
            external_id=external_id,
            received_at=now - timedelta(days=20),
            last_conflict_at=conflict_at,
        )
    # A duplicate with the same body is no conflict.
    post_json(api_client, openvolt_endpoint, body_of(openvolt_envelope(delivery_id="same")))
    post_json(api_client, openvolt_endpoint, body_of(openvolt_envelope(delivery_id="same")))

    panel, page = conflicts_panel(admin_client)

    ((label, figure),) = panel.figures
    assert (label, figure.text, figure.tone) == ("in the last 7 days", "3", "warn")
    assert "conflict=7d" in figure.link
    assert listed_deliveries(admin_client, figure.link) == {"now", "3-days", "week-start"}
    assert panel.empty == ""
    assert "Switchboard kept the first body and answered the later one as a duplicate" in page


@pytest.mark.django_db
def test_with_no_conflict_the_panel_says_so(admin_client):
    DeliveryFactory(last_conflict_at=timezone.now() - timedelta(days=30))

    panel, page = conflicts_panel(admin_client)

    ((_, figure),) = panel.figures
    assert (figure.text, figure.tone) == ("0", "")
    assert "None: every id sent again came with the same body." in page


@pytest.mark.django_db
def test_the_count_is_capped(admin_client):
    DeliveryFactory(last_conflict_at=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        conflicts_panel(admin_client)

    (count,) = [q["sql"] for q in queries if '"last_conflict_at" >=' in q["sql"]]
    assert "COUNT(" in count and "LIMIT" in count


def test_those_who_may_not_view_deliveries_do_not_see_it(client, db):
    client.force_login(StaffUserFactory(permissions=["view_followup"]))

    response = client.get(INDEX)

    assert TITLE not in response.content.decode()
