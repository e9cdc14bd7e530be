"""The dashboard on the admin's index: right numbers, each linked to exactly what it counts,
hidden from those who may not view the model, and cheap (summaries, no counts of big tables)."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from common.moments import day_bounds
from consents.models import FollowUp, HostedConsent
from console.selectors import endpoints_silent, silence_allowed
from events.daily_counts import (
    delivery_daily_counts_recount,
    delivery_daily_counts_refresh,
)
from events.models import Delivery, DeliveryDailyCount
from meters.models import Meter, ReadingsReceivedDaily
from meters.readings import (
    readings_received_count,
    readings_received_daily_rebuild,
    readings_upsert,
)
from meters.time_zones import default_meter_time_zone
from tests.factories import (
    CustomerFactory,
    DeliveryFactory,
    FollowUpFactory,
    HostedConsentFactory,
    IntervalReadingFactory,
    MeterFactory,
    OpenvoltEndpointFactory,
    StaffUserFactory,
)

INDEX = reverse("admin:index")
Status = Delivery.Status


@pytest.fixture
def now():
    return timezone.now()


def dashboard_of(client):
    response = client.get(INDEX)
    assert response.status_code == 200
    return response.context["dashboard"], response.content.decode()


def card(dashboard, title):
    (found,) = [c for c in dashboard.cards if c.title == title]
    return found


def panel(dashboard, title):
    (found,) = [p for p in dashboard.attention if p.title == title]
    return found


def listed(client, link):
    """How many rows the changelist behind a dashboard link shows."""
    response = client.get(link)
    assert response.status_code == 200, link
    return response.context["cl"].result_count


def test_the_index_renders_the_dashboard_above_the_models_for_a_superuser(admin_client):
    _, page = dashboard_of(admin_client)

    assert "At a glance" in page
    assert "Needs attention" in page
    assert "Deliveries per day, by outcome" in page
    assert "Half-hourly readings received per day" in page
    assert page.count('<svg class="chart"') == 2
    # The usual list of models is still there, below.
    assert page.index("At a glance") < page.index(reverse("admin:events_delivery_changelist"))
    assert "Customers and meters" in page
    assert "Switchboard" in page


def test_delivery_figures_count_the_right_deliveries_and_link_to_exactly_them(admin_client, now):
    today = timezone.localdate(now)
    for status in [Status.PROCESSED, Status.PROCESSED, Status.FAILED, Status.DEAD]:
        DeliveryFactory(status=status, received_at=now - timedelta(hours=1))
    DeliveryFactory(status=Status.DEAD, received_at=now - timedelta(days=3))
    DeliveryFactory(status=Status.IGNORED, received_at=now - timedelta(days=5))
    DeliveryFactory(status=Status.PROCESSED, received_at=now - timedelta(days=20))
    # "Last 7 days" is today and the 6 days before, whole days: as the daily counts.
    DeliveryFactory(status=Status.PROCESSED, received_at=day_bounds(today - timedelta(days=6))[0])
    DeliveryFactory(
        status=Status.FAILED,
        received_at=day_bounds(today - timedelta(days=6))[0] - timedelta(seconds=1),
    )
    delivery_daily_counts_recount(first_day=today - timedelta(days=30), last_day=today)

    dashboard, _ = dashboard_of(admin_client)

    received = card(dashboard, "Deliveries received, last 24 hours")
    assert (received.figure.text, received.second.text) == ("4", "7")
    failures = card(dashboard, "Processing failures, last 24 hours")
    assert (failures.figure.text, failures.second.text) == ("2", "3")
    assert failures.figure.tone == "alarm"
    assert received.figure.tone == ""
    rows = {
        row.shown.status: (row.last_day.text, row.last_week.text) for row in dashboard.status_rows
    }
    assert rows == {
        "processed": ("2", "3"),
        "ignored": ("0", "1"),
        "rejected": ("0", "0"),
        "pending": ("0", "0"),
        "processing": ("0", "0"),
        "failed": ("1", "1"),
        "dead": ("1", "2"),
    }
    dead_and_failed = dict(panel(dashboard, "Deliveries that failed").figures)
    assert [figure.text for figure in dead_and_failed.values()] == ["2", "2"]

    figures = [received.figure, received.second, failures.figure, failures.second]
    figures += [figure for row in dashboard.status_rows for figure in (row.last_day, row.last_week)]
    figures += dead_and_failed.values()
    for figure in figures:
        assert listed(admin_client, figure.link) == int(figure.text), figure


def test_each_bar_of_the_deliveries_chart_links_to_its_day_and_outcome(admin_client, now):
    today = timezone.localdate(now)
    three_days_ago, _ = day_bounds(today - timedelta(days=3))
    DeliveryFactory(status=Status.FAILED, received_at=three_days_ago + timedelta(hours=2))
    DeliveryFactory(status=Status.FAILED, received_at=three_days_ago + timedelta(hours=23))
    DeliveryFactory(status=Status.FAILED, received_at=three_days_ago - timedelta(minutes=1))
    delivery_daily_counts_recount(first_day=today - timedelta(days=5), last_day=today)

    _, page = dashboard_of(admin_client)

    day = (today - timedelta(days=3)).isoformat()
    link = f"{reverse('admin:events_delivery_changelist')}?received={day}&amp;status__exact=failed"
    assert f'<a href="{link}"><rect' in page
    assert re.search(r"<title>\d+ \w+: 2 failed, retrying</title>", page)
    assert listed(admin_client, link.replace("&amp;", "&")) == 2


def test_the_received_filter_names_a_chart_day_and_ignores_nonsense(admin_client):
    DeliveryFactory(status=Status.PROCESSED, received_at=timezone.now())
    changelist = reverse("admin:events_delivery_changelist")

    response = admin_client.get(changelist, {"received": timezone.localdate().isoformat()})
    assert response.context["cl"].result_count == 1
    assert f"On {timezone.localdate().day} " in response.content.decode()

    response = admin_client.get(changelist, {"received": "<script>"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert "<script>" not in response.content.decode()


def test_daily_counts_follow_a_status_change_after_the_day(db, now):
    today = timezone.localdate(now)
    yesterday_noon = day_bounds(today - timedelta(days=1))[0] + timedelta(hours=12)
    late = DeliveryFactory(status=Status.PENDING, received_at=yesterday_noon)
    DeliveryFactory(status=Status.PROCESSED, received_at=yesterday_noon)
    old = DeliveryFactory(status=Status.FAILED, received_at=yesterday_noon - timedelta(days=10))
    delivery_daily_counts_refresh(at=now.replace(minute=0))

    def counts(day):
        return dict(DeliveryDailyCount.objects.filter(day=day).values_list("status", "count"))

    assert counts(today - timedelta(days=1)) == {"pending": 1, "processed": 1}
    assert counts(today - timedelta(days=11)) == {"failed": 1}

    Delivery.objects.filter(pk=late.pk).update(status=Status.PROCESSED)
    Delivery.objects.filter(pk=old.pk).update(status=Status.PROCESSED)
    # Every minute: today and yesterday only.
    delivery_daily_counts_refresh(at=now.replace(minute=7))
    assert counts(today - timedelta(days=1)) == {"processed": 2}
    assert counts(today - timedelta(days=11)) == {"failed": 1}
    # On the hour: the last 31 days.
    delivery_daily_counts_refresh(at=now.replace(minute=0))
    assert counts(today - timedelta(days=11)) == {"processed": 1}


def test_the_periodic_recount_is_a_registered_task():
    from procrastinate.contrib.django import app

    task = app.tasks["events.recount_delivery_days"]
    assert task.queue == "maintenance"
    periodic = {p.periodic_id for p in app.periodic_registry.periodic_tasks.values()}
    assert "recount_delivery_days" in periodic


@pytest.fixture
def mirror(db, now):
    """Meters fresh, stale and never read; consents valid, revoked, expiring; follow-ups."""
    customer = CustomerFactory(external_id="c-1", name="Acme Bakery", email="a@acme.test")
    for number, latest in [
        ("1000", now - timedelta(hours=3)),
        ("2000", now - timedelta(days=3)),
        ("3000", None),
        ("4000", now - timedelta(hours=1)),
        ("5000", now - timedelta(hours=1)),
    ]:
        MeterFactory(meter_number=number, customer=customer, latest_reading_start=latest)

    # 4000 is on a revoked consent only: invalid. 5000 was revoked, then consented again.
    revoked = HostedConsentFactory(
        external_id="revoked", customer=customer, valid=False, meter_numbers=["4000", "5000"]
    )
    for external_id, numbers, expires_in in [
        ("again", ["5000"], timedelta(days=300)),
        ("soon", ["1000"], timedelta(days=10)),
        ("sooner", ["2000"], timedelta(days=2)),
        ("later", ["3000"], timedelta(days=45)),
        ("expired", [], -timedelta(days=1)),
    ]:
        HostedConsentFactory(
            external_id=external_id,
            customer=customer,
            valid=True,
            meter_numbers=numbers,
            expiry=now + expires_in,
        )

    for status, opened_days_ago, name in [
        (FollowUp.Status.OPEN, 2, "Newer Ltd"),
        (FollowUp.Status.CONTACTED, 9, "Oldest & Sons"),
        (FollowUp.Status.RESOLVED, 30, "Done Ltd"),
    ]:
        FollowUpFactory(
            consent__customer=customer,
            status=status,
            customer_name=name,
            opened_at=now - timedelta(days=opened_days_ago),
        )
    return revoked


def test_meter_consent_and_follow_up_figures_are_right_and_linked(admin_client, mirror):
    dashboard, page = dashboard_of(admin_client)

    expected = {
        "Meters without recent data": "2",
        "Meters without a valid consent": "1",
        "Consents expiring within 30 days": "2",
        "Open follow-ups": "2",
    }
    for title, text in expected.items():
        figure = card(dashboard, title).figure
        assert figure.text == text, title
        assert listed(admin_client, figure.link) == int(text), title

    follow_ups = panel(dashboard, "Follow-ups waiting longest")
    assert [item.text for item in follow_ups.items] == ["Oldest & Sons", "Newer Ltd"]
    assert follow_ups.items[0].detail.startswith("Contacted, opened 1\xa0week")
    assert "Oldest &amp; Sons" in page  # escaped
    consents = panel(dashboard, "Consents expiring soonest")
    assert [item.link for item in consents.items] == [
        reverse("admin:consents_hostedconsent_change", args=[c.pk])
        for c in HostedConsent.objects.filter(external_id__in=["sooner", "soon"]).order_by("expiry")
    ]
    assert consents.items[0].detail.endswith("in 1\xa0day")


def test_parts_are_hidden_from_those_who_may_not_view_their_model(client, mirror):
    DeliveryFactory(status=Status.DEAD)
    client.force_login(StaffUserFactory(permissions=["view_followup"]))

    dashboard, page = dashboard_of(client)

    assert [c.title for c in dashboard.cards] == ["Open follow-ups"]
    assert [p.title for p in dashboard.attention] == ["Follow-ups waiting longest"]
    assert dashboard.status_rows == [] and dashboard.charts == []
    for hidden in ["events_delivery", "meters_meter", "consents_hostedconsent"]:
        model_path = hidden.replace("_", "/", 1)
        assert f"/admin/{model_path}/" not in page
    assert "Deliveries per day" not in page


def test_a_staff_user_without_any_permission_sees_no_dashboard(client, mirror):
    client.force_login(StaffUserFactory())

    dashboard, page = dashboard_of(client)

    assert dashboard.is_empty
    assert "At a glance" not in page


def test_customer_success_sees_every_part(client, mirror):
    DeliveryFactory(status=Status.DEAD)
    client.force_login(StaffUserFactory(groups=["Customer success"]))

    dashboard, _ = dashboard_of(client)

    assert len(dashboard.cards) == 7
    assert len(dashboard.attention) == 6
    assert len(dashboard.charts) == 2


def test_the_index_reads_summaries_and_bounded_ranges_only(admin_client, mirror, openvolt_endpoint):
    for hours in range(0, 200, 5):
        DeliveryFactory(
            endpoint=openvolt_endpoint,
            status=Status.PROCESSED,
            received_at=timezone.now() - timedelta(hours=hours),
        )
    call_command("refresh_dashboard", stdout=io.StringIO())
    admin_client.get(INDEX)  # warm the session and the content types

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(INDEX)

    assert response.status_code == 200
    statements = [query["sql"] for query in queries]
    assert len(statements) <= 20, "\n".join(statements)
    assert not [sql for sql in statements if "meters_intervalreading" in sql]
    for sql in statements:
        if re.search(r"\bevents_delivery\b", sql) and "COUNT(" in sql.upper():
            # A count of deliveries is either over a recent range or capped by a LIMIT.
            assert '"received_at" >=' in sql or "LIMIT" in sql, sql


@pytest.fixture
def endpoints(db):
    return {
        name: OpenvoltEndpointFactory(description=name)
        for name in ["busy", "chatty", "daily", "new"]
    }


def test_endpoints_silent_for_longer_than_usual_are_flagged(endpoints, now):
    # Busy: every 10 minutes for a day, then nothing for 2 hours (allowed: an hour).
    for minutes in range(120, 24 * 60, 10):
        DeliveryFactory(endpoint=endpoints["busy"], received_at=now - timedelta(minutes=minutes))
    # Chatty: the same rhythm, and its latest 20 minutes ago.
    for minutes in range(20, 24 * 60, 10):
        DeliveryFactory(endpoint=endpoints["chatty"], received_at=now - timedelta(minutes=minutes))
    # Daily: once a day, the latest 25 hours ago (allowed: a day).
    for days in range(0, 6):
        DeliveryFactory(
            endpoint=endpoints["daily"], received_at=now - timedelta(hours=25 + 24 * days)
        )
    # New: two deliveries are no rhythm yet.
    for hours in (30, 40):
        DeliveryFactory(endpoint=endpoints["new"], received_at=now - timedelta(hours=hours))

    silent = endpoints_silent(now=now)

    assert [item.endpoint.description for item in silent] == ["daily", "busy"]
    assert silent[1].usual_gap == timedelta(minutes=10)
    assert silent[0].usual_gap == timedelta(days=1)


def test_silent_endpoints_show_on_the_dashboard_with_the_rule(admin_client, endpoints, now):
    for minutes in range(180, 600, 10):
        DeliveryFactory(endpoint=endpoints["busy"], received_at=now - timedelta(minutes=minutes))

    dashboard, page = dashboard_of(admin_client)

    quiet = panel(dashboard, "Endpoints gone quiet")
    assert [item.text for item in quiet.items] == [str(endpoints["busy"])]
    assert quiet.items[0].detail == "nothing for 3\xa0hours; usually every 10 minutes"
    assert listed(admin_client, quiet.items[0].link) == 42
    assert "three times the usual gap" in page


@pytest.mark.parametrize(
    ("usual", "allowed"),
    [
        (timedelta(minutes=1), timedelta(hours=1)),
        (timedelta(hours=2), timedelta(hours=6)),
        (timedelta(hours=12), timedelta(days=1)),
        (timedelta(days=1), timedelta(days=1)),
        (timedelta(days=2), timedelta(days=6)),
    ],
)
def test_how_long_an_endpoint_may_stay_silent(usual, allowed):
    assert silence_allowed(usual) == allowed


def test_readings_received_are_counted_per_day_and_charted(admin_client, mirror):
    meters = list(Meter.objects.order_by("pk")[:2])
    readings_received_count(meter=meters[0], count=48)
    readings_received_count(meter=meters[0], count=2)
    readings_received_count(meter=meters[1], count=100)
    readings_received_count(meter=meters[1], count=0)

    today = timezone.localdate(timezone=default_meter_time_zone())
    assert (
        sum(ReadingsReceivedDaily.objects.filter(day=today).values_list("count", flat=True)) == 150
    )
    _, page = dashboard_of(admin_client)
    assert re.search(r"<title>\d+ \w+: 150 readings</title>", page)


def test_storing_readings_counts_them_as_received_today(mirror):
    meter = Meter.objects.order_by("pk").first()
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=1)

    readings_upsert(
        meter=meter,
        readings=[(start + timedelta(minutes=30 * n), Decimal("1.5")) for n in range(4)],
    )
    readings_upsert(meter=meter, readings=[(start, Decimal("1.5"))])  # a re-fetch counts too
    readings_upsert(meter=meter, readings=[])

    received = ReadingsReceivedDaily.objects.filter(
        day=timezone.localdate(timezone=default_meter_time_zone())
    )
    assert sum(received.values_list("count", flat=True)) == 5


def test_the_command_rebuilds_readings_received_from_when_they_arrived(mirror, now):
    meter = Meter.objects.order_by("pk").first()
    for hours in range(3):
        IntervalReadingFactory(
            meter=meter,
            start=now - timedelta(days=5, hours=hours),
            consumption_kwh=1,
            fetched_at=now - timedelta(days=2),
        )
    readings_received_count(meter=meter, count=7)
    zone = default_meter_time_zone()
    today = timezone.localdate(now, timezone=zone)

    call_command(
        "refresh_dashboard", "--days=3", f"--until={today}", "--readings", stdout=io.StringIO()
    )

    per_day = dict(ReadingsReceivedDaily.objects.values_list("day").annotate(total=Sum("count")))
    assert per_day == {timezone.localdate(now - timedelta(days=2), timezone=zone): 3}
    assert readings_received_daily_rebuild(first_day=today, last_day=today) == 0
