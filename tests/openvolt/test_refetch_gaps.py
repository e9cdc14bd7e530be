"""Gaps found and filled: the meter page lists a meter's gaps, "Re-fetch the gaps" queues a
fetch of exactly those half-hours as a delivery of the console's own, worked as Openvolt's
are against the stand-in API, and the dashboard counts the meters still missing data."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from console.roles import CUSTOMER_SUCCESS
from events.models import Delivery
from events.refetch import EXTERNAL_ID_PREFIX
from meters.completeness import meter_gaps
from meters.models import Meter
from meters.readings import readings_upsert
from tests.factories import MeterFactory, StaffUserFactory
from tests.support.admin import action_names
from tests.support.fake_openvolt import parse_iso
from tests.support.openvolt import METER_A, METER_B, process, stored

pytestmark = pytest.mark.django_db

METERS = reverse("admin:meters_meter_changelist")
HALF_HOUR = timedelta(minutes=30)


def every_half_hour(start, end):
    moment, starts = start, []
    while moment < end:
        starts.append(moment)
        moment += HALF_HOUR
    return starts


@pytest.fixture
def holes():
    """Three days of METER_A and METER_B up to last midnight UTC; A misses two hours of the
    first day and the whole of the second, B nothing."""
    end = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=3)
    first = (start + timedelta(hours=6), start + timedelta(hours=8))
    second = (start + timedelta(days=1), start + timedelta(days=2))
    meters = {}
    for external_id, number in ((METER_A, "2000012345678"), (METER_B, "2000087654321")):
        meter = MeterFactory(external_id=external_id, meter_number=number)
        missing = set()
        if external_id == METER_A:
            missing = set(every_half_hour(*first)) | set(every_half_hour(*second))
        starts = [s for s in every_half_hour(start, end) if s not in missing]
        readings_upsert(meter=meter, readings=[(s, Decimal("0.5")) for s in starts])
        meters[external_id] = meter
    return meters, [first, second]


def cs_client(client):
    client.force_login(StaffUserFactory(username="cs", groups=[CUSTOMER_SUCCESS]))
    return client


def test_the_meter_page_lists_the_gaps_and_the_completeness(client, holes):
    meters, _ = holes
    page = cs_client(client).get(reverse("admin:meters_meter_change", args=[meters[METER_A].pk]))

    html = page.content.decode()
    # 3 days from the first reading to the latest: 144 half-hours, 52 missing.
    assert "63.89 % complete" in html
    assert "52 half-hours missing" in html
    assert [g.half_hours for g in page.context["gaps"]] == [4, 48]
    assert 'value="refetch_gaps"' in html
    assert "Times in Europe/London" in html


def test_re_fetching_asks_for_exactly_the_missing_half_hours(
    client, holes, openvolt_endpoint, openvolt_api
):
    meters, gaps = holes
    response = cs_client(client).post(
        METERS,
        {
            "action": "refetch_gaps",
            "_selected_action": [str(m.pk) for m in meters.values()],
            "index": 0,
        },
        follow=True,
    )

    (delivery,) = Delivery.objects.filter(external_id__startswith=EXTERNAL_ID_PREFIX)
    message = [str(m) for m in response.context["messages"]]
    change = reverse("admin:events_delivery_change", args=[delivery.pk])
    assert message == [
        "Queued a fetch of 2 gap(s), 52 half-hour(s), of 1 meter(s): "
        f'<a href="{change}">follow it as a delivery</a>.'
    ]
    assert delivery.event_type == "meter_data.received"
    assert delivery.payload["requested_by"] == "cs"
    assert delivery.receipt_count == 0
    page = client.get(change).content.decode()
    assert "asked for in the console: no body was received" in page
    assert "received before bodies were hashed" not in page
    assert [
        (entry["meter_id"], parse_iso(entry["start_interval"]), parse_iso(entry["end_interval"]))
        for entry in delivery.payload["payload"]
    ] == [(METER_A, start, end) for start, end in gaps]

    delivery = process(delivery)

    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.summary == "52 half-hourly readings stored for 1 meter(s)."
    fetched = [r.query for r in openvolt_api.requests if r.path == "/interval-data"]
    assert [(parse_iso(q["start_date"]), parse_iso(q["end_date"])) for q in fetched] == gaps
    meter = Meter.objects.get(external_id=METER_A)
    assert (meter.completeness, meter.half_hours_missing) == (Decimal("100.00"), 0)
    assert meter_gaps(meter=meter) == []
    assert len(stored(METER_A)) == 144


def test_a_selection_without_gaps_queues_nothing(client, holes, openvolt_endpoint):
    meters, _ = holes
    response = cs_client(client).post(
        METERS,
        {"action": "refetch_gaps", "_selected_action": [str(meters[METER_B].pk)], "index": 0},
        follow=True,
    )

    assert not Delivery.objects.exists()
    assert [str(m) for m in response.context["messages"]] == [
        "None of the selected meters has a gap in the last 13 months."
    ]


def test_without_an_openvolt_endpoint_it_says_so(client, holes):
    meters, _ = holes
    response = cs_client(client).post(
        METERS,
        {"action": "refetch_gaps", "_selected_action": [str(meters[METER_A].pk)], "index": 0},
        follow=True,
    )

    assert not Delivery.objects.exists()
    assert [str(m) for m in response.context["messages"]] == [
        "Nothing queued: Add an enabled Openvolt endpoint first."
    ]


def test_only_those_allowed_to_re_fetch_are_offered_it(client, holes):
    meters, _ = holes
    client.force_login(StaffUserFactory(permissions=["view_meter"]))

    assert "refetch_gaps" not in action_names(client.get(METERS))
    page = client.get(reverse("admin:meters_meter_change", args=[meters[METER_A].pk]))
    assert 'value="refetch_gaps"' not in page.content.decode()
    assert "refetch_gaps" in action_names(cs_client(client).get(METERS))


@pytest.mark.usefixtures("holes")
def test_the_dashboard_counts_the_incomplete_meters_and_links_them(client):
    response = cs_client(client).get(reverse("admin:index"))

    (card,) = [c for c in response.context["dashboard"].cards if "complete" in c.title]
    assert card.title == "Meters under 99 % complete"
    assert card.figure.text == "1"
    listed = client.get(card.figure.link)
    assert [m.external_id for m in listed.context["cl"].result_list] == [METER_A]


def test_a_selection_with_too_many_meters_with_gaps_is_refused(
    client, holes, openvolt_endpoint, monkeypatch
):
    monkeypatch.setattr("console.admin.meters.REFETCH_METERS_MAX", 0)
    meters, _ = holes
    response = cs_client(client).post(
        METERS,
        {"action": "refetch_gaps", "_selected_action": [str(m.pk) for m in meters.values()]},
        follow=True,
    )

    assert not Delivery.objects.exists()
    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith("More than 0 of the selected meters have gaps: select fewer")
