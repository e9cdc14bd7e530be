"""The meter page (daily consumption, freshness, consents, deliveries) and the customer page
(meters, consents, follow-ups, bills matched by company)."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from common.moments import day_bounds
from consents.services import follow_up_open_for_revocation, follow_up_resolve
from console.pages.meters import LATEST_DELIVERIES, consumption_chart
from events.models import Delivery
from meters.models import IntervalReading, Meter
from meters.readings import readings_upsert
from meters.selectors import meter_daily_consumption, meter_freshness
from tests.factories import (
    CustomerFactory,
    DeliveryFactory,
    HostedConsentFactory,
    MeterFactory,
    StaffUserFactory,
    UtilityBillFactory,
)

NOW = datetime(2025, 6, 18, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
# The meter's days: its number is an MPAN (meters/time_zones.py).
LONDON = ZoneInfo("Europe/London")


def meter_url(meter):
    return reverse("admin:meters_meter_change", args=[meter.pk])


def customer_url(customer):
    return reverse("admin:meters_customer_change", args=[customer.pk])


@pytest.fixture
def customer(db):
    return CustomerFactory(
        external_id="65c361e09ecb86c35d5ef1c5",
        name="Hartley & Sons Bakery",
        email="accounts@hartley.example",
        address="1 Mill Lane\nLeeds",
    )


@pytest.fixture
def meter(customer):
    return MeterFactory(
        external_id="5rgh7884a9c14daf2a8u7f4e",
        meter_number="1200023305967",
        customer=customer,
        status="active",
        valid=True,
    )


def half_hours(first: datetime, count: int, kwh: str):
    return [(first + timedelta(minutes=30 * i), Decimal(kwh) + i % 3) for i in range(count)]


# Daily consumption


def test_daily_consumption_is_the_sum_of_the_readings_of_each_day(meter):
    readings = [
        *half_hours(datetime(2025, 6, 1, 0, 0, tzinfo=LONDON), 48, "0.125"),  # a whole day
        *half_hours(datetime(2025, 6, 2, 22, 0, tzinfo=LONDON), 6, "1.5"),  # across midnight
        *half_hours(datetime(2025, 6, 18, 0, 0, tzinfo=LONDON), 3, "2.000001"),  # today
        *half_hours(datetime(2024, 5, 31, 23, 30, tzinfo=LONDON), 1, "9"),  # before the 13 months
        *half_hours(datetime(2024, 6, 1, 0, 0, tzinfo=LONDON), 2, "0.5"),  # the first of them
    ]
    readings_upsert(meter=meter, readings=readings)
    other = MeterFactory(meter_number="1999999999999")
    readings_upsert(meter=other, readings=half_hours(datetime(2025, 6, 1, tzinfo=UTC), 4, "7"))
    expected = defaultdict(Decimal)
    for start, kwh in readings:
        if start >= datetime(2024, 6, 1, tzinfo=LONDON):
            expected[start.date()] += kwh

    days = meter_daily_consumption(meter=meter, today=TODAY)

    assert days[0][0] == date(2024, 6, 1)
    assert days[-1][0] == TODAY
    assert len(days) == (TODAY - date(2024, 6, 1)).days + 1
    assert {day: kwh for day, kwh in days if kwh} == dict(expected)
    assert dict(days)[date(2025, 6, 3)] == expected[date(2025, 6, 3)] != 0
    assert dict(days)[date(2025, 6, 10)] == 0


def test_a_new_meter_s_chart_starts_at_the_month_of_its_first_data(meter):
    readings_upsert(meter=meter, readings=half_hours(datetime(2025, 5, 20, tzinfo=UTC), 4, "1"))

    days = meter_daily_consumption(meter=meter, today=TODAY)

    assert days[0] == (date(2025, 5, 1), Decimal(0))
    assert dict(days)[date(2025, 5, 20)] == Decimal("7")  # 1 + 2 + 3 + 1


def test_no_readings_no_chart(meter):
    assert meter_daily_consumption(meter=meter, today=TODAY) == []
    assert consumption_chart(meter=meter) is None


def label(day):
    return f"{day.day} {day:%b %Y}"


def test_the_chart_shows_each_day_s_sum(meter):
    today = timezone.localdate(timezone=LONDON)
    first, second = (day_bounds(today - timedelta(days=back), zone=LONDON)[0] for back in (2, 1))
    # 20 hours of half-hours: within the day, whatever the clocks do that day.
    readings_upsert(
        meter=meter,
        readings=[(first + timedelta(minutes=30 * i), Decimal("0.25")) for i in range(40)],
    )
    readings_upsert(meter=meter, readings=[(second, Decimal("3.5"))])

    chart = consumption_chart(meter=meter, link_readings=True)

    assert chart.total_kwh == Decimal("13.5")
    assert (chart.peak_day, chart.peak_kwh) == (today - timedelta(days=2), Decimal("10"))
    assert chart.days_with_data == 2
    assert chart.average_kwh == Decimal("6.75")
    assert f"{label(today - timedelta(days=2))}: 10 kWh used" in chart.svg
    assert f"{label(today - timedelta(days=1))}: 3.5 kWh used" in chart.svg
    readings = reverse("admin:meters_intervalreading_changelist")
    assert f'href="{readings}?meter={meter.pk}&amp;start__gte=' in chart.svg


# Freshness


@pytest.mark.parametrize(
    ("latest", "text", "level"),
    [
        (None, "no data yet", "none"),
        (NOW - timedelta(hours=3), "latest half-hour 3\xa0hours ago", "fresh"),
        (NOW - timedelta(hours=47), "latest half-hour 1\xa0day ago", "fresh"),
        (NOW - timedelta(days=5, hours=2), "no data for 5\xa0days", "stale"),
        (NOW - timedelta(days=70), "no data for 2\xa0months", "stale"),
    ],
)
def test_freshness_in_words(latest, text, level):
    freshness = meter_freshness(meter=Meter(latest_reading_start=latest), now=NOW)
    assert (freshness.text, freshness.level) == (text, level)


# The meter page


@pytest.fixture
def deliveries(meter):
    def delivery(external_id, subjects, minutes_ago):
        return DeliveryFactory(
            external_id=external_id,
            event_type="meter_data.received",
            status=Delivery.Status.PROCESSED,
            received_at=timezone.now() - timedelta(minutes=minutes_ago),
            payload={"secret-ish": "payload-not-shown"},
            subjects=subjects,
            summary=f"Summary of {external_id}",
        )

    return {
        "by_id": delivery("by-id", [meter.external_id, "someone@example.com"], 10),
        "by_number": delivery("by-number", ["x", meter.meter_number], 5),
        "other": delivery("other-meter", ["1999999999999"], 1),
    }


def test_meter_page_shows_data_consents_and_deliveries(admin_client, meter, deliveries):
    meter.latest_reading_start = timezone.now() - timedelta(hours=3)
    meter.save()
    readings_upsert(
        meter=meter, readings=half_hours(meter.latest_reading_start - timedelta(hours=1), 3, "1")
    )
    naming = HostedConsentFactory(
        external_id="consent-valid",
        valid=True,
        meter_numbers=["1200023305967", "1300000000000"],
        expiry=datetime(2026, 1, 31, tzinfo=UTC),
    )
    revoked = HostedConsentFactory(
        external_id="consent-revoked",
        valid=False,
        revoked_at=datetime(2025, 4, 30, 13, 26, tzinfo=UTC),
        meter_numbers=["1200023305967"],
    )
    HostedConsentFactory(external_id="consent-elsewhere", meter_numbers=["1300000000000"])

    response = admin_client.get(meter_url(meter))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Latest half-hour 3\xa0hours ago" in body
    assert '<svg class="chart"' in body and "kWh used" in body
    for consent in (naming, revoked):
        assert reverse("admin:consents_hostedconsent_change", args=[consent.pk]) in body
    assert "consent-elsewhere" not in body
    assert "revoked 30 Apr 2025" in body and "expires 31 Jan 2026" in body
    assert [delivery.external_id for delivery, _ in response.context["deliveries"]] == [
        "by-number",
        "by-id",
    ]
    assert reverse("admin:events_delivery_change", args=[deliveries["by_id"].pk]) in body
    assert "Summary of other-meter" not in body
    assert "payload-not-shown" not in body
    assert reverse("admin:meters_customer_change", args=[meter.customer_id]) in body


def test_meter_page_lists_the_latest_deliveries_only_without_payloads(
    admin_client, meter, openvolt_endpoint
):
    Delivery.objects.bulk_create(
        Delivery(
            endpoint=openvolt_endpoint,
            source="openvolt",
            external_id=f"d-{minute:02}",
            received_at=timezone.now() - timedelta(minutes=minute),
            subjects=[meter.meter_number],
        )
        for minute in range(LATEST_DELIVERIES + 5)
    )

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(meter_url(meter))

    shown = [delivery.external_id for delivery, _ in response.context["deliveries"]]
    assert shown == [f"d-{minute:02}" for minute in range(LATEST_DELIVERIES)]
    assert f"{reverse('admin:events_delivery_changelist')}?q=1200023305967" in (
        response.content.decode()
    )
    delivery_query = next(q["sql"] for q in captured if 'FROM "events_delivery"' in q["sql"])
    assert '"payload"' not in delivery_query
    assert "&&" in delivery_query  # the array overlap the GIN index serves


def test_meter_page_for_a_meter_without_anything(admin_client):
    bare = MeterFactory(meter_number="")

    body = admin_client.get(meter_url(bare)).content.decode()

    assert "No data yet" in body
    assert "No readings in the last 13 months." in body
    assert "No consent names this meter." in body
    assert "No delivery names this meter." in body


def test_meter_and_customer_stay_read_only(admin_client, meter, customer):
    admin_client.post(meter_url(meter), {"meter_number": "changed", "status": "changed"})
    admin_client.post(customer_url(customer), {"name": "changed"})

    meter.refresh_from_db()
    customer.refresh_from_db()
    assert (meter.meter_number, customer.name) == ("1200023305967", "Hartley & Sons Bakery")


def test_links_only_to_what_the_user_may_see(client, meter, deliveries):
    client.force_login(StaffUserFactory(permissions=["view_meter"]))

    response = client.get(meter_url(meter))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Summary of by-number" in body
    assert reverse("admin:events_delivery_change", args=[deliveries["by_id"].pk]) not in body
    assert reverse("admin:meters_customer_change", args=[meter.customer_id]) not in body
    assert "Hartley &amp; Sons Bakery" in body


# The customer page


@pytest.fixture
def customer_world(customer, meter, admin_user):
    stale = MeterFactory(
        meter_number="1300000000000",
        customer=customer,
        latest_reading_start=timezone.now() - timedelta(days=5, hours=1),
    )
    MeterFactory(meter_number="1400000000000")
    consent = HostedConsentFactory(
        external_id="consent-of-hartley",
        customer=customer,
        valid=False,
        revoked_at=datetime(2025, 4, 30, 13, 26, tzinfo=UTC),
        meter_numbers=[meter.meter_number, stale.meter_number],
    )
    HostedConsentFactory(external_id="consent-of-someone-else", valid=True)
    follow_up, _ = follow_up_open_for_revocation(consent=consent)
    closed = HostedConsentFactory(
        external_id="older-consent",
        customer=customer,
        valid=False,
        revoked_at=datetime(2024, 1, 2, tzinfo=UTC),
    )
    closed_follow_up, _ = follow_up_open_for_revocation(consent=closed)
    follow_up_resolve(follow_up=closed_follow_up, by=admin_user)

    def bill(external_id, **fields):
        return UtilityBillFactory(
            external_id=external_id,
            company_nectar_id="nectar-company",
            invoice_id=f"INV-{external_id}",
            **fields,
        )

    return {
        "stale": stale,
        "consent": consent,
        "follow_up": follow_up,
        "closed_follow_up": closed_follow_up,
        "bill_by_id": bill(
            "by-id", company_external_id=customer.external_id, company_name="Hartley Ltd"
        ),
        "bill_by_name": bill(
            "by-name",
            company_name="HARTLEY & SONS BAKERY",
            total_charges=Decimal("1234.5"),
            total_charges_units="GBP",
        ),
        "bill_other": bill("other", company_name="Pennine Cold Storage"),
        "bill_prefix": bill("prefix", company_name="Hartley & Sons Bakery (Leeds)"),
    }


def test_customer_page_lists_meters_consents_follow_ups_and_bills(
    admin_client, customer, meter, customer_world
):
    response = admin_client.get(customer_url(customer))

    assert response.status_code == 200
    body = response.content.decode()
    context = response.context
    assert [line.meter for line in context["meter_lines"]] == [meter, customer_world["stale"]]
    assert "no data for 5\xa0days" in body and "no data yet" in body
    assert reverse("admin:meters_meter_change", args=[meter.pk]) in body
    assert "1400000000000" not in body
    assert {consent.external_id for consent, _ in context["consents"]} == {
        "consent-of-hartley",
        "older-consent",
    }
    assert "consent-of-someone-else" not in body
    assert [follow_up for follow_up, _ in context["follow_ups"]] == [
        customer_world["follow_up"],
        customer_world["closed_follow_up"],
    ]
    assert reverse("admin:consents_followup_change", args=[customer_world["follow_up"].pk]) in body
    assert {bill.external_id for bill, _ in context["bills"]} == {"by-id", "by-name"}
    assert "bills matched by company" in body
    assert "1,234.50 GBP" in body
    assert "INV-other" not in body and "INV-prefix" not in body
    assert 'href="mailto:accounts@hartley.example"' in body
    assert "1 Mill Lane<br>Leeds" in body


def test_a_customer_without_a_name_matches_bills_by_id_only(admin_client):
    nameless = CustomerFactory(external_id="nameless-1")
    UtilityBillFactory(external_id="blank", company_name="")
    UtilityBillFactory(external_id="theirs", company_external_id="nameless-1")

    response = admin_client.get(customer_url(nameless))

    assert [bill.external_id for bill, _ in response.context["bills"]] == ["theirs"]


def test_customer_page_queries_do_not_grow_with_what_it_lists(admin_client, customer):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(customer_url(customer)).status_code == 200
        return len(captured)

    def add_some(n):
        meter = MeterFactory(meter_number=f"13{n:011}", customer=customer)
        consent = HostedConsentFactory(customer=customer, meter_numbers=[meter.meter_number])
        follow_up_open_for_revocation(consent=consent)
        UtilityBillFactory(company_name=customer.name)

    add_some(1)
    few = queries()
    for n in range(2, 7):
        add_some(n)
    assert queries() == few


def test_readings_of_the_chart_are_the_stored_ones(meter):
    """The numbers come from IntervalReading, as stored (a revised value replaces the old)."""
    start = datetime(2025, 6, 17, 10, 0, tzinfo=LONDON)
    readings_upsert(meter=meter, readings=[(start, Decimal("1"))])
    readings_upsert(meter=meter, readings=[(start, Decimal("4.25"))])

    assert IntervalReading.objects.get(meter=meter).consumption_kwh == Decimal("4.25")
    assert dict(meter_daily_consumption(meter=meter, today=TODAY))[start.date()] == Decimal("4.25")
