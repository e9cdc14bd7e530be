"""The dashboard's "not finished after 5 minutes": deliveries still pending or processing
minutes after they arrived (a worker behind or stopped, or a job lost), each figure linked to
exactly the deliveries it counts."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Delivery
from tests.factories import DeliveryFactory
from tests.support.dashboard import attention_panel, listed_deliveries

TITLE = "Deliveries not finished after 5 minutes"
Status = Delivery.Status


def unfinished_panel(client):
    return attention_panel(client, TITLE)


@pytest.mark.django_db
def test_deliveries_unfinished_after_five_minutes_are_counted_and_linked(admin_client):
    now = timezone.now()
    for external_id, status, minutes_ago in [
        ("waiting-long", Status.PENDING, 30),
        ("waiting-longer", Status.PENDING, 600),
        ("waiting-briefly", Status.PENDING, 2),
        ("working-long", Status.PROCESSING, 6),
        ("working-briefly", Status.PROCESSING, 1),
        ("done", Status.PROCESSED, 60),
        ("retrying", Status.FAILED, 60),
    ]:
        DeliveryFactory(
            external_id=external_id, status=status, received_at=now - timedelta(minutes=minutes_ago)
        )

    panel, page = unfinished_panel(admin_client)

    (waiting_label, waiting), (working_label, working) = panel.figures
    assert (waiting_label, waiting.text, waiting.tone) == ("waiting for the worker", "2", "warn")
    assert working_label.startswith("in progress")
    assert (working.text, working.tone) == ("1", "warn")
    assert listed_deliveries(admin_client, waiting.link) == {"waiting-long", "waiting-longer"}
    assert listed_deliveries(admin_client, working.link) == {"working-long"}
    assert panel.empty == ""
    assert "Switchboard queues again, every minute, any whose job was lost" in page


@pytest.mark.django_db
def test_with_nothing_unfinished_the_panel_says_the_worker_keeps_up(admin_client):
    DeliveryFactory(status=Status.PENDING)

    panel, page = unfinished_panel(admin_client)

    assert [figure.text for _, figure in panel.figures] == ["0", "0"]
    assert [figure.tone for _, figure in panel.figures] == ["", ""]
    assert "None: the worker keeps up." in page


@pytest.mark.django_db
def test_the_changelist_filter_offers_deliveries_unfinished_after_five_minutes(admin_client):
    DeliveryFactory(
        external_id="stuck",
        status=Status.PROCESSING,
        received_at=timezone.now() - timedelta(hours=1),
    )
    DeliveryFactory(external_id="fresh", status=Status.PENDING)
    changelist = reverse("admin:events_delivery_changelist")

    page = admin_client.get(changelist).content.decode()

    assert "Over 5 minutes (pending or processing)" in page
    assert listed_deliveries(admin_client, f"{changelist}?waiting=5m") == {"stuck"}
