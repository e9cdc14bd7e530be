"""A Dutch meter's page in a real browser (headless Chromium): its days are Amsterdam's, the
page says so, and a day's bar opens that day's half-hours. The screenshot is saved under
tests/artifacts/ to be looked at."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from meters.readings import readings_upsert
from tests.factories import MeterFactory, StaffUserFactory
from tests.support.browser import BROWSER_TEST, CHROMIUM, screenshot

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = BROWSER_TEST

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def dutch_meter(transactional_db):
    meter = MeterFactory(
        external_id="66a1b2c3d4e5f60718293a4b",
        meter_number="871685900012345678",
        data_source="edsn",
        status="active",
        valid=True,
    )
    today = timezone.localdate(timezone=AMSTERDAM)
    # UTC instants, a half-hour apart whatever the clocks do.
    first = datetime.combine(today - timedelta(days=40), time.min, tzinfo=AMSTERDAM).astimezone(UTC)
    until = datetime.combine(today, time.min, tzinfo=AMSTERDAM).astimezone(UTC)
    count = int((until - first) / timedelta(minutes=30))
    readings_upsert(
        meter=meter,
        readings=[
            (first + timedelta(minutes=30 * i), Decimal("0.2") + Decimal(i % 48) / 100)
            for i in range(count)
        ],
    )
    return meter


def test_a_dutch_meter_s_page_counts_amsterdam_days(live_server, dutch_meter, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    StaffUserFactory(username="ops", password="a long test password", is_superuser=True)
    yesterday = timezone.localdate(timezone=AMSTERDAM) - timedelta(days=1)

    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{live_server.url}/admin/")
        page.fill("#id_username", "ops")
        page.fill("#id_password", "a long test password")
        page.click("input[type=submit]")
        page.goto(f"{live_server.url}/admin/meters/meter/{dutch_meter.pk}/change/")

        page.wait_for_selector("text=Days in Europe/Amsterdam time")
        screenshot(page, "meter-local-days")
        card = page.locator("section.sb-card", has_text="Latest half-hour").inner_text()
        assert "23:30 CET" in card or "23:30 CEST" in card
        assert "Europe/Amsterdam" in page.locator("section.sb-card").first.inner_text()

        title = f"{yesterday.day} {yesterday:%b %Y}:"
        page.locator(f"svg.chart a:has(title:text-matches('^{title}'))").click()
        page.wait_for_selector("#result_list")
        rows = page.locator("#result_list tbody tr").count()
        browser.close()

    # The changelist shows 50 rows a page: a whole day of half-hours fits.
    assert rows in (46, 48, 50)
