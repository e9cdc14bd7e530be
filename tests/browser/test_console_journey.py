"""A customer-success colleague's morning, in a real browser (headless Chromium).

Logs in, opens the dashboard, follows a "needs attention" link to the oldest follow-up, works
it to resolved and exports the follow-ups as CSV. Screenshots of each step are saved under
tests/artifacts/ to be looked at.
"""

import csv
import io
import time
from pathlib import Path

import pytest
from django.db import transaction

from consents.models import FollowUp
from console.models import ExportLog
from console.roles import CUSTOMER_SUCCESS, roles_apply
from tests.factories import StaffUserFactory
from tests.support.browser import BROWSER_TEST, CHROMIUM, screenshot
from tests.support.follow_ups import bakery_follow_up

playwright = pytest.importorskip("playwright.sync_api")


pytestmark = BROWSER_TEST


@pytest.fixture
def colleague(transactional_db):
    # The groups come from a data migration, which a transactional test's flush removes.
    roles_apply()
    return StaffUserFactory(
        username="sam",
        password="a long test password",
        first_name="Sam",
        groups=[CUSTOMER_SUCCESS],
    )


@pytest.fixture
def revoked_consent(transactional_db):
    with transaction.atomic():
        return bakery_follow_up()


@pytest.fixture
def browser_page():
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        yield context.new_page()
        browser.close()


def test_customer_success_works_a_follow_up_to_resolved_and_exports(
    live_server, colleague, revoked_consent, browser_page, monkeypatch
):
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are still
    # plain synchronous calls made between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    page = browser_page

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "a long test password")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Needs attention")
    screenshot(page, "1-dashboard")

    page.click("text=Hartley & Sons Bakery")
    page.wait_for_selector("text=Who to contact")
    assert "accounts@hartleybakery.co.uk" in page.content()
    screenshot(page, "2-follow-up-open")

    page.click("button[value=assign_me]")
    page.fill("textarea[name=note]", "Called Jane Hartley: revoked by mistake, will re-consent.")
    page.click("button[value=contacted]")
    page.wait_for_selector("text=Called Jane Hartley")
    page.click("button[value=resolved]")
    page.wait_for_selector(".sb-history >> text=resolved")
    screenshot(page, "3-follow-up-resolved")

    follow_up = FollowUp.objects.get(pk=revoked_consent.pk)
    assert follow_up.status == FollowUp.Status.RESOLVED
    assert follow_up.assignee == colleague
    assert follow_up.closed_at is not None

    page.goto(f"{live_server.url}/admin/consents/followup/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "export_csv")
    with page.expect_download() as download:
        page.click("button[name=index]")
    screenshot(page, "4-follow-ups-exported")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))

    assert rows[0][:3] == ["id", "status", "reason"]
    assert [row[1] for row in rows[1:]] == ["resolved"]
    assert rows[1][5] == "accounts@hartleybakery.co.uk"
    # The server logs the export once the stream ends, just after the browser has it all.
    log = _wait_for(lambda: ExportLog.objects.filter(finished_at__isnull=False).first())
    assert (log.user, log.model_label, log.row_count, log.complete) == (
        colleague,
        "consents.followup",
        1,
        True,
    )


def _wait_for(find, seconds=10.0):
    deadline = time.monotonic() + seconds
    while (found := find()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert found is not None, "timed out"
    return found
