"""Days as the customer lives them: the meter page's chart, its day links and latest half-hour,
the daily export and the dashboard's readings chart count days in the meter's time zone
(meters/time_zones.py), so a clock-change day has 46 or 50 half-hours."""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from console.dashboard.charts import readings_chart
from console.models import ExportLog
from console.pages.meters import consumption_chart
from console.roles import CUSTOMER_SUCCESS
from meters.models import ReadingsReceivedDaily
from meters.readings import (
    readings_received_count,
    readings_received_daily_rebuild,
    readings_upsert,
)
from meters.selectors import meter_daily_consumption, meter_days
from tests.factories import IntervalReadingFactory, MeterFactory, StaffUserFactory
from tests.support.admin import action_names

LONDON, AMSTERDAM = ZoneInfo("Europe/London"), ZoneInfo("Europe/Amsterdam")
METERS = reverse("admin:meters_meter_changelist")


@pytest.fixture
def london(db):
    return MeterFactory(external_id="gb-1", meter_number="1200023305967", data_source="dcc")


@pytest.fixture
def amsterdam(db):
    return MeterFactory(external_id="nl-1", meter_number="871685900012345678", data_source="edsn")


def every_half_hour(since: datetime, until: datetime, kwh: str = "1"):
    """One reading a half-hour, UTC instants from `since` up to `until`."""
    count = int((until - since) / timedelta(minutes=30))
    return [(since + timedelta(minutes=30 * i), Decimal(kwh)) for i in range(count)]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def day_links(svg: str) -> dict[date, tuple[datetime, datetime]]:
    """Each bar's link to the readings changelist: the day (its label) and the bounds."""
    links = {}
    for href, title in re.findall(
        r'<a href="([^"]+)">\s*<rect[^>]*>\s*<title>([^<]+)</title>', svg
    ):
        query = parse_qs(urlsplit(unescape(href)).query)
        day = datetime.strptime(title.split(":")[0], "%d %b %Y").date()
        links[day] = (parse_datetime(query["start__gte"][0]), parse_datetime(query["start__lt"][0]))
    return links


# The days of one meter


@pytest.mark.parametrize(
    ("day", "starts", "ends", "half_hours"),
    [
        # Clocks go forward at 01:00 UTC: the day starts at midnight GMT and has 23 hours.
        (date(2026, 3, 29), utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 23, 0), 46),
        # A BST day starts at 23:00 UTC the day before.
        (date(2026, 7, 1), utc(2026, 6, 30, 23, 0), utc(2026, 7, 1, 23, 0), 48),
        # Clocks go back at 01:00 UTC: 25 hours, from 23:00 UTC the day before.
        (date(2026, 10, 25), utc(2026, 10, 24, 23, 0), utc(2026, 10, 26, 0, 0), 50),
        (date(2026, 12, 1), utc(2026, 12, 1, 0, 0), utc(2026, 12, 2, 0, 0), 48),
    ],
)
def test_a_london_meter_s_days_are_london_days(london, day, starts, ends, half_hours):
    readings_upsert(meter=london, readings=every_half_hour(starts - timedelta(hours=3), ends))
    readings_upsert(meter=london, readings=[(ends, Decimal("100"))])

    days = {found: (count, kwh) for found, count, kwh in meter_days(meter=london)}

    assert days[day] == (half_hours, Decimal(half_hours))
    assert days[day + timedelta(days=1)] == (1, Decimal("100"))
    assert days[day - timedelta(days=1)] == (6, Decimal(6))
    assert list(meter_days(meter=london, first_day=day, last_day=day)) == [
        (day, half_hours, Decimal(half_hours))
    ]


def test_a_dutch_meter_s_summer_day_starts_at_22_utc(amsterdam):
    readings_upsert(
        meter=amsterdam,
        readings=every_half_hour(utc(2026, 6, 30, 21, 0), utc(2026, 7, 1, 23, 0)),
    )

    assert list(meter_days(meter=amsterdam)) == [
        (date(2026, 6, 30), 2, Decimal(2)),  # 21:00 and 21:30 UTC
        (date(2026, 7, 1), 48, Decimal(48)),  # from 22:00 UTC
        (date(2026, 7, 2), 2, Decimal(2)),  # 22:00 and 22:30 UTC
    ]


def test_the_chart_counts_and_links_the_meter_s_days(london, amsterdam):
    for meter in (london, amsterdam):
        readings_upsert(
            meter=meter, readings=every_half_hour(utc(2026, 10, 24, 21, 0), utc(2026, 10, 26, 2, 0))
        )

    gb = consumption_chart(meter=london, link_readings=True, today=date(2026, 10, 31))
    nl = consumption_chart(meter=amsterdam, link_readings=True, today=date(2026, 10, 31))

    assert dict(meter_daily_consumption(meter=london, today=date(2026, 10, 31)))[
        date(2026, 10, 25)
    ] == Decimal(50)
    assert "25 Oct 2026: 50 kWh used" in gb.svg and "24 Oct 2026: 4 kWh used" in gb.svg
    assert "26 Oct 2026: 4 kWh used" in gb.svg
    assert day_links(gb.svg)[date(2026, 10, 25)] == (
        utc(2026, 10, 24, 23, 0),
        utc(2026, 10, 26, 0, 0),
    )
    # Amsterdam's clocks went back at the same instant: CEST until 01:00 UTC, CET after.
    assert "25 Oct 2026: 50 kWh used" in nl.svg and "24 Oct 2026: 2 kWh used" in nl.svg
    assert day_links(nl.svg)[date(2026, 10, 25)] == (
        utc(2026, 10, 24, 22, 0),
        utc(2026, 10, 25, 23, 0),
    )
    assert set(day_links(nl.svg)) == {date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)}


def test_a_day_link_opens_the_half_hours_of_that_local_day(admin_client, london):
    readings_upsert(
        meter=london, readings=every_half_hour(utc(2026, 3, 28, 23, 0), utc(2026, 3, 30, 1, 0))
    )
    chart = consumption_chart(meter=london, link_readings=True, today=date(2026, 3, 31))
    (href,) = [
        unescape(href)
        for href, title in re.findall(
            r'<a href="([^"]+)">\s*<rect[^>]*>\s*<title>([^<]+)', chart.svg
        )
        if title.startswith("29 Mar 2026")
    ]

    response = admin_client.get(href)

    shown = list(response.context["cl"].queryset)
    assert len(shown) == 46
    assert min(reading.start for reading in shown) == utc(2026, 3, 29, 0, 0)
    assert max(reading.start for reading in shown) == utc(2026, 3, 29, 22, 30)


# The meter page


@pytest.mark.parametrize(
    ("meter_of", "latest", "shown"),
    [
        ("london", utc(2026, 10, 25, 0, 30), "Sun 25 Oct 2026, 01:30 BST"),
        ("london", utc(2026, 10, 25, 1, 30), "Sun 25 Oct 2026, 01:30 GMT"),
        ("london", utc(2026, 6, 30, 23, 30), "Wed 1 Jul 2026, 00:30 BST"),
        ("amsterdam", utc(2026, 7, 1, 22, 0), "Thu 2 Jul 2026, 00:00 CEST"),
    ],
)
def test_the_latest_half_hour_is_shown_in_the_meter_s_time(
    request, admin_client, meter_of, latest, shown
):
    meter = request.getfixturevalue(meter_of)
    meter.latest_reading_start = latest
    meter.save()

    body = admin_client.get(reverse("admin:meters_meter_change", args=[meter.pk])).content.decode()

    assert f"<dt>Latest half-hour</dt>\n      <dd>{shown}</dd>" in body


@pytest.mark.parametrize(("meter_of", "zone"), [("london", LONDON), ("amsterdam", AMSTERDAM)])
def test_the_meter_page_says_which_zone_its_days_are_in(request, admin_client, meter_of, zone):
    meter = request.getfixturevalue(meter_of)
    yesterday = timezone.localdate(timezone=zone) - timedelta(days=1)
    readings_upsert(
        meter=meter,
        readings=[(datetime.combine(yesterday, datetime.min.time(), tzinfo=zone), Decimal("2"))],
    )

    response = admin_client.get(reverse("admin:meters_meter_change", args=[meter.pk]))

    body = response.content.decode()
    assert f"<dt>Time zone</dt><dd>{zone.key}</dd>" in body
    assert f"Days in {zone.key} time; a day without a bar had no readings." in body
    assert f"{yesterday.day} {yesterday:%b %Y}: 2 kWh used" in body


# The daily export


def test_the_daily_export_has_a_row_per_meter_and_local_day(
    admin_client, london, amsterdam, settings
):
    settings.METER_TIME_ZONE = "America/New_York"
    elsewhere = MeterFactory(external_id="us-1", meter_number="123456789")
    for meter in (london, amsterdam, elsewhere):
        readings_upsert(
            meter=meter, readings=every_half_hour(utc(2026, 3, 28, 22, 0), utc(2026, 3, 30, 0, 0))
        )
    MeterFactory(external_id="quiet", meter_number="1200000000999")

    response = admin_client.post(
        METERS, {"action": "export_daily_csv", "select_across": "1", "_selected_action": ["0"]}
    )

    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="daily-consumption-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["meter_number", "meter_openvolt_id", "day", "time_zone", "half_hours", "consumption_kwh"],
        ["1200023305967", "gb-1", "2026-03-28", "Europe/London", "4", "4.000000"],
        # Clocks forward: 00:00 to 23:00 UTC.
        ["1200023305967", "gb-1", "2026-03-29", "Europe/London", "46", "46.000000"],
        ["1200023305967", "gb-1", "2026-03-30", "Europe/London", "2", "2.000000"],
        # New York's clocks went forward on 8 March: its days start at 04:00 UTC.
        ["123456789", "us-1", "2026-03-28", "America/New_York", "12", "12.000000"],
        ["123456789", "us-1", "2026-03-29", "America/New_York", "40", "40.000000"],
        # Amsterdam's clocks went forward at the same instant (02:00 CET): a 23-hour day from
        # 23:00 UTC, then days from 22:00 UTC.
        ["871685900012345678", "nl-1", "2026-03-28", "Europe/Amsterdam", "2", "2.000000"],
        ["871685900012345678", "nl-1", "2026-03-29", "Europe/Amsterdam", "46", "46.000000"],
        ["871685900012345678", "nl-1", "2026-03-30", "Europe/Amsterdam", "4", "4.000000"],
    ]
    (log,) = ExportLog.objects.all()
    assert (log.model_label, log.format, log.row_count, log.complete) == (
        "meters.meter",
        "csv",
        8,
        True,
    )


def test_the_daily_export_of_a_selection_and_who_may(admin_client, client, london, amsterdam):
    client.force_login(StaffUserFactory(permissions=["view_meter"]))
    assert "export_daily_csv" not in action_names(client.get(METERS))
    client.force_login(StaffUserFactory(username="cs", groups=[CUSTOMER_SUCCESS]))
    assert "export_daily_csv" in action_names(client.get(METERS))

    readings_upsert(
        meter=london, readings=every_half_hour(utc(2026, 10, 24, 23, 0), utc(2026, 10, 26, 0, 0))
    )
    readings_upsert(meter=amsterdam, readings=[(utc(2026, 10, 25, 12, 0), Decimal("1"))])

    response = admin_client.post(
        METERS, {"action": "export_daily_csv", "_selected_action": [str(london.pk)]}
    )

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1:] == [["1200023305967", "gb-1", "2026-10-25", "Europe/London", "50", "50.000000"]]


# The dashboard's readings chart: every meter together, days in METER_TIME_ZONE


def test_readings_received_are_counted_on_the_day_of_meter_time_zone(db, london, monkeypatch):
    late_on_30_june = utc(2026, 6, 30, 23, 30)  # 1 July in London
    monkeypatch.setattr(timezone, "now", lambda: late_on_30_june)

    readings_received_count(meter=london, count=48)
    IntervalReadingFactory(
        meter=london, start=utc(2026, 6, 29), consumption_kwh=1, fetched_at=late_on_30_june
    )

    assert list(ReadingsReceivedDaily.objects.values_list("day", "count")) == [
        (date(2026, 7, 1), 48)
    ]
    assert (
        readings_received_daily_rebuild(first_day=date(2026, 7, 1), last_day=date(2026, 7, 1)) == 1
    )
    assert list(ReadingsReceivedDaily.objects.values_list("day", "count")) == [
        (date(2026, 7, 1), 1)
    ]


@pytest.mark.parametrize(
    ("zone", "last_bar"),
    [("Europe/London", "1 Jul: 70 readings"), ("America/New_York", "30 Jun: 30 readings")],
)
def test_the_dashboard_chart_s_days_are_in_meter_time_zone(db, settings, zone, last_bar):
    settings.METER_TIME_ZONE = zone
    for day, count in [(date(2026, 6, 30), 30), (date(2026, 7, 1), 70)]:
        ReadingsReceivedDaily.objects.create(day=day, slot=0, count=count)

    chart = readings_chart(now=utc(2026, 6, 30, 23, 30))

    titles = re.findall(r"<title>([^<]+)</title>", str(chart.svg))
    assert titles[-1] == last_bar
    assert "30 Jun: 30 readings" in titles
    assert chart.note.endswith(f"Days in {zone} time.")


def test_the_dashboard_says_which_zone_its_readings_chart_counts_in(admin_client):
    body = admin_client.get(reverse("admin:index")).content.decode()

    assert "re-fetches included. Days in Europe/London time." in body
