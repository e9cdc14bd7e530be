"""What every response tells the browser: an enforced Content-Security-Policy with no inline
script (nor inline style, but on the API docs page), HSTS and HTTPS only, and a session that
lasts a working day."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CustomerFactory, FollowUpFactory, MeterFactory, StaffUserFactory
from tests.support.sign_in import log_in

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: rest for name, *rest in (part.split() for part in header.split(";"))}


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(StaffUserFactory(is_superuser=True))
    return client


def test_the_policy_is_enforced_and_allows_scripts_from_this_site_only(client):
    response = client.get(reverse("admin:login"))

    directives = policy(response)
    assert "Content-Security-Policy-Report-Only" not in response.headers
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]


def test_the_console_pages_hold_no_inline_script_or_style(superuser_client):
    meter = MeterFactory(customer=CustomerFactory())
    follow_up = FollowUpFactory()
    pages = [
        reverse("admin:index"),
        reverse("admin:events_delivery_changelist"),
        reverse("admin:consents_followup_changelist"),
        reverse("admin:consents_followup_change", args=[follow_up.pk]),
        reverse("admin:meters_meter_change", args=[meter.pk]),
        reverse("admin:meters_customer_change", args=[meter.customer.pk]),
        reverse("admin:console_alert_changelist"),
        reverse("admin:otp_totp_totpdevice_changelist"),
        reverse("admin:axes_accessattempt_changelist"),
    ]

    for page in pages:
        response = superuser_client.get(page)
        html = response.content.decode()
        assert response.status_code == 200, page
        assert policy(response)["script-src"] == ["'self'"], page
        assert not INLINE_SCRIPT.findall(html), page
        assert not INLINE_STYLE.findall(html), (page, INLINE_STYLE.findall(html))


def test_the_dashboard_charts_are_svg_with_no_style_attribute(superuser_client):
    html = superuser_client.get(reverse("admin:index")).content.decode()

    assert '<svg class="chart"' in html
    assert '<svg class="dash-swatch"' in html
    assert " style=" not in html


def test_the_sign_in_pages_hold_no_inline_script_or_style(settings):
    settings.REQUIRE_2FA = True
    client = Client()
    StaffUserFactory(username="sam")
    pages = {"login": client.get(reverse("admin:login"))}
    log_in(client, "sam", "pw")
    pages["enrol"] = client.get(reverse("admin:sign_in_enrol"))

    for name, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, name
        assert not INLINE_SCRIPT.findall(html) and not INLINE_STYLE.findall(html), name


def test_the_api_docs_allow_inline_styles_but_still_no_inline_script(superuser_client):
    response = superuser_client.get(reverse("api-docs"))

    html = response.content.decode()
    directives = policy(response)
    assert response.status_code == 200
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in directives["style-src"]
    assert not INLINE_SCRIPT.findall(html)
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in html
    assert "googleapis" not in html and "https://" not in html


def test_secure_responses_carry_hsts_for_a_year_with_subdomains(client):
    response = client.get(reverse("health-live"), secure=True)

    assert (
        response.headers["Strict-Transport-Security"]
        == "max-age=31536000; includeSubDomains; preload"
    )


def test_plain_http_is_redirected_to_https_but_for_probes(settings, openvolt_endpoint):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()

    admin = client.get("/admin/login/")
    webhook = client.post(openvolt_endpoint.path, b"{}", content_type="application/json")

    assert admin.status_code == 301 and admin.url == "https://testserver/admin/login/"
    assert webhook.status_code == 301
    assert client.get("/health/live").status_code == 200
    assert client.get("/metrics").status_code == 404  # exempt; answers 404 without a token


def test_a_login_lasts_eight_hours(client, settings):
    StaffUserFactory(username="sam")

    response = log_in(client, "sam", "pw")

    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 8 * 60 * 60
