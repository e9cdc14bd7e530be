"""Staff's second factor (REQUIRE_2FA): an authenticator app set up at the first login, its code
at every login, and nothing of the admin open on a password alone."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from console.roles import CUSTOMER_SUCCESS, INTEGRATION_ADMIN
from tests.factories import StaffUserFactory
from tests.support.sign_in import app_code, enrol, log_in

pytestmark = pytest.mark.django_db

ENROL, VERIFY = "/admin/second-factor/enrol/", "/admin/second-factor/code/"


@pytest.fixture(autouse=True)
def second_factor_required(settings):
    settings.REQUIRE_2FA = True


@pytest.fixture
def sam():
    return StaffUserFactory(username="sam", groups=[CUSTOMER_SUCCESS])


@pytest.fixture
def enrolled(sam):
    """Sam, whose app was set up in an earlier session; returns the app (the device)."""
    first = Client()
    log_in(first, "sam", "pw")
    return enrol(first, sam)


@pytest.fixture
def verified_colleagues(monkeypatch):
    """force_login, then the code: colleagues' sessions as they are after a real login."""
    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
        session = self.session
        session["otp_device_id"] = device.persistent_id
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


STAFF_PAGES = [
    "/admin/",
    "/admin/events/delivery/",
    "/admin/consents/followup/",
    "/admin/otp_totp/totpdevice/",
    "/admin/password_change/",
    "/api/docs/",
]


def test_the_password_leads_to_the_enrolment_page_at_the_first_login(client, sam):
    response = log_in(client, "sam", "pw")

    assert response.status_code == 302
    assert response.url == f"{ENROL}?next=%2Fadmin%2F"


@pytest.mark.parametrize("page", STAFF_PAGES)
def test_no_staff_page_opens_on_a_password_alone(client, sam, page):
    log_in(client, "sam", "pw")

    response = client.get(page)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_a_session_opened_without_the_form_owes_the_code_too(client, sam):
    client.force_login(sam)

    response = client.get("/admin/")

    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_the_login_page_sends_someone_halfway_on_to_their_code(client, sam):
    log_in(client, "sam", "pw")

    response = client.get(reverse("admin:login"), {"next": "/admin/meters/meter/"})

    assert response.status_code == 302
    assert response.url == f"{ENROL}?next=%2Fadmin%2Fmeters%2Fmeter%2F"


def test_the_enrolment_page_shows_a_qr_code_and_the_key_the_same_at_every_visit(client, sam):
    log_in(client, "sam", "pw")

    first = client.get(ENROL)
    again = client.get(ENROL)

    device = TOTPDevice.objects.get(user=sam)
    page = first.content.decode()
    assert first.status_code == 200 and not device.confirmed
    assert '<svg width="' in page and 'id="qr-path"' in page
    assert first.context["key"] == again.context["key"]
    assert first.context["key"].replace(" ", "") in device.config_url
    assert "issuer=Switchboard" in device.config_url
    assert TOTPDevice.objects.filter(user=sam).count() == 1


def test_enrolment_refuses_a_wrong_code_and_confirms_the_right_one(client, sam):
    log_in(client, "sam", "pw")
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=sam)

    wrong = client.post(ENROL, {"code": "000000" if app_code(device) != "000000" else "111111"})
    TOTPDevice.objects.update(throttling_failure_timestamp=timezone.now() - timedelta(minutes=1))
    right = client.post(ENROL, {"code": app_code(device), "next": "/admin/consents/followup/"})

    assert wrong.status_code == 200
    assert "That is not the code the app shows now" in wrong.content.decode()
    assert right.status_code == 302 and right.url == "/admin/consents/followup/"
    assert TOTPDevice.objects.get(user=sam).confirmed
    assert client.get("/admin/").status_code == 200


def test_every_later_login_asks_for_the_code_and_a_used_code_is_refused(enrolled):
    client = Client()

    password = log_in(client, "sam", "pw")
    shut = client.get("/admin/")
    code = app_code(enrolled, steps_ahead=1)
    verified = client.post(VERIFY, {"code": code})
    opened = client.get("/admin/")
    replay = Client()
    log_in(replay, "sam", "pw")
    replayed = replay.post(VERIFY, {"code": code})

    assert password.url == f"{VERIFY}?next=%2Fadmin%2F"
    assert shut.status_code == 302
    assert verified.status_code == 302 and verified.url == "/admin/"
    assert opened.status_code == 200
    assert replayed.status_code == 200 and replay.get("/admin/").status_code == 302


def test_wrong_codes_slow_the_next_ones_down(enrolled):
    client = Client()
    log_in(client, "sam", "pw")

    client.post(VERIFY, {"code": "not a code"})
    too_soon = client.post(VERIFY, {"code": app_code(enrolled, steps_ahead=1)})

    assert too_soon.status_code == 200
    assert "Too many wrong codes in a row: wait 1 s" in too_soon.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_code_does_not_carry_over_to_the_next_password_login(enrolled):
    client = Client()
    log_in(client, "sam", "pw")
    client.post(VERIFY, {"code": app_code(enrolled, steps_ahead=1)})

    again = log_in(client, "sam", "pw")

    assert again.url.startswith(VERIFY)
    assert client.get("/admin/").status_code == 302


def test_leaving_the_code_page_signs_the_half_done_session_out(enrolled):
    client = Client()
    log_in(client, "sam", "pw")

    left = client.post(VERIFY, {"leave": "1"})

    assert left.status_code == 302 and left.url == "/admin/login/"
    assert client.get(VERIFY).url.startswith("/admin/login/")


def test_the_code_pages_send_nobody_elsewhere_than_this_site(enrolled):
    client = Client()
    log_in(client, "sam", "pw")

    response = client.post(
        VERIFY, {"code": app_code(enrolled, steps_ahead=1), "next": "https://example.org/"}
    )

    assert response.url == "/admin/"


def test_an_integration_admin_resets_an_app_and_its_owner_enrols_again(
    enrolled, verified_colleagues
):
    client = Client()
    log_in(client, "sam", "pw")
    client.post(VERIFY, {"code": app_code(enrolled, steps_ahead=1)})
    admin = Client()
    admin.force_login(StaffUserFactory(groups=[INTEGRATION_ADMIN]))
    changelist = reverse("admin:otp_totp_totpdevice_changelist")

    listed = admin.get(changelist)
    reset = admin.post(
        changelist, {"action": "reset", "_selected_action": [enrolled.pk]}, follow=True
    )

    assert listed.status_code == 200 and "sam" in listed.content.decode()
    assert enrolled.key not in listed.content.decode()
    assert "Reset for sam." in reset.content.decode()
    assert not TOTPDevice.objects.filter(user__username="sam").exists()
    assert client.get("/admin/").status_code == 302  # Sam's open session stops counting
    assert log_in(Client(), "sam", "pw").url.startswith(ENROL)


def test_customer_success_cannot_reset_an_app(enrolled, verified_colleagues):
    colleague = Client()
    colleague.force_login(StaffUserFactory(groups=[CUSTOMER_SUCCESS]))
    changelist = reverse("admin:otp_totp_totpdevice_changelist")

    assert colleague.get(changelist).status_code == 403
    colleague.post(changelist, {"action": "reset", "_selected_action": [enrolled.pk]})
    assert TOTPDevice.objects.filter(pk=enrolled.pk).exists()


def test_only_a_superuser_resets_a_superusers_app(verified_colleagues):
    boss = StaffUserFactory(username="boss", is_superuser=True)
    boss_app = TOTPDevice.objects.create(user=boss, name="app", confirmed=True)
    admin = Client()
    admin.force_login(StaffUserFactory(groups=[INTEGRATION_ADMIN]))
    changelist = reverse("admin:otp_totp_totpdevice_changelist")

    refused = admin.post(
        changelist, {"action": "reset", "_selected_action": [boss_app.pk]}, follow=True
    )

    assert "only a superuser can reset those" in refused.content.decode()
    assert TOTPDevice.objects.filter(pk=boss_app.pk).exists()


def test_with_the_second_factor_off_the_password_alone_opens_the_admin(client, sam, settings):
    settings.REQUIRE_2FA = False

    response = log_in(client, "sam", "pw")

    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get(ENROL).url == "/admin/"
