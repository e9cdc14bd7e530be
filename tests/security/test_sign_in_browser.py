"""A colleague's first login with the second factor, in a real browser (headless Chromium) under
the enforced Content-Security-Policy: password, authenticator app set up from the page's key,
the dashboard with its charts, a follow-up, the API docs; the browser reports no violation.
Screenshots are saved under tests/artifacts/ to be looked at."""

import base64

import pytest
from django.db import transaction
from django_otp.oath import totp

from console.roles import CUSTOMER_SUCCESS, roles_apply
from tests.factories import StaffUserFactory
from tests.support.browser import BROWSER_TEST, CHROMIUM, screenshot
from tests.support.follow_ups import bakery_follow_up

playwright = pytest.importorskip("playwright.sync_api")


pytestmark = BROWSER_TEST


@pytest.fixture
def colleague(transactional_db, settings):
    settings.REQUIRE_2FA = True
    roles_apply()  # a transactional test's flush removed the migration's groups
    with transaction.atomic():
        bakery_follow_up()
    return StaffUserFactory(
        username="sam", password="a long test password", groups=[CUSTOMER_SUCCESS]
    )


@pytest.fixture
def page():
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        browser.close()


def test_first_login_sets_up_the_app_and_every_page_works_under_the_policy(
    live_server, colleague, page, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )

    page.goto(f"{live_server.url}/admin/")
    screenshot(page, "sign-in-1-login")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "a long test password")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Set up your authenticator app")
    assert page.locator(".sign-in-qr svg path").count() == 1
    screenshot(page, "sign-in-2-enrol")

    key = base64.b32decode(page.inner_text(".sign-in-key code").replace(" ", ""))
    page.fill("#id_code", f"{totp(key):06d}")
    page.click("#code-form input[type=submit]")
    page.wait_for_selector("text=Needs attention")
    assert page.locator("svg.chart").count() >= 1
    screenshot(page, "sign-in-3-dashboard")

    page.click("text=Hartley & Sons Bakery")
    page.wait_for_selector("text=Who to contact")
    page.goto(f"{live_server.url}/admin/consents/followup/")
    page.wait_for_selector("#changelist")
    page.goto(f"{live_server.url}/api/docs/")
    page.locator("h1", has_text="Switchboard webhook intake").wait_for()

    page.goto(f"{live_server.url}/admin/")
    page.click("#logout-form button")
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "a long test password")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Enter your code")
    screenshot(page, "sign-in-4-code")
    page.fill("#id_code", f"{totp(key, drift=1):06d}")
    page.click("#code-form input[type=submit]")
    page.wait_for_selector("text=Needs attention")

    # Redoc's footer logo comes from its makers' CDN: refused, as every other site's files.
    assert [line for line in refused if "cdn.redoc.ly" not in line] == []
