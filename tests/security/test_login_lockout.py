"""Failed logins lock a user name and address pair out (LOGIN_FAILURE_LIMIT, LOGIN_LOCKOUT_MINUTES):
then even the right password is refused, until the lockout ends or a colleague unlocks it."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from console.roles import CUSTOMER_SUCCESS, INTEGRATION_ADMIN
from tests.factories import StaffUserFactory
from tests.support.sign_in import log_in

pytestmark = pytest.mark.django_db

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def sam():
    return StaffUserFactory(username="sam", groups=[CUSTOMER_SUCCESS])


def signed_in(client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def lock_out(client, username: str, limit: int):
    for _ in range(limit - 1):
        refused = log_in(client, username, "not the password")
        assert refused.status_code == 200 and refused.context["form"].errors
    return log_in(client, username, "not the password")


def test_after_the_failure_limit_the_right_password_is_refused(client, sam, settings):
    assert (settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_LOCKOUT_MINUTES) == (5, 15)

    last_failure = lock_out(client, "sam", settings.LOGIN_FAILURE_LIMIT)
    right_password = log_in(client, "sam", "pw")

    assert last_failure.status_code == 429
    assert right_password.status_code == 429
    page = right_password.content.decode()
    assert "5 failed logins for this user name from your address" in page
    assert "locked for 15 minutes" in page
    assert not signed_in(client)


def test_thirty_wrong_passwords_then_the_right_one_stay_locked_out(client, sam):
    for _ in range(30):
        log_in(client, "sam", "not the password")

    assert log_in(client, "sam", "pw").status_code == 429
    assert not signed_in(client)


def test_the_lockout_holds_the_pair_only(client, sam, settings):
    other = StaffUserFactory(username="kim")
    lock_out(client, "sam", settings.LOGIN_FAILURE_LIMIT)

    # The same person from another address, and another person from the same one, sign in.
    assert log_in(Client(), "sam", "pw", **ELSEWHERE).status_code == 302
    assert log_in(Client(), other.username, "pw").status_code == 302


def test_failures_below_the_limit_are_forgotten_after_a_good_login(client, sam, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        log_in(client, "sam", "not the password")
    assert log_in(client, "sam", "pw").status_code == 302

    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        log_in(Client(), "sam", "not the password")

    assert log_in(Client(), "sam", "pw").status_code == 302


def test_the_lockout_ends_after_the_lockout_minutes(client, sam, settings):
    lock_out(client, "sam", settings.LOGIN_FAILURE_LIMIT)
    attempt = AccessAttempt.objects.get(username="sam")
    ended = attempt.attempt_time - timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES, seconds=1)
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=ended)

    assert log_in(client, "sam", "pw").status_code == 302
    assert signed_in(client)


@pytest.mark.parametrize("role", [CUSTOMER_SUCCESS, INTEGRATION_ADMIN])
def test_a_colleague_unlocks_a_locked_out_person_in_the_admin(client, sam, settings, role):
    lock_out(client, "sam", settings.LOGIN_FAILURE_LIMIT)
    colleague = Client()
    colleague.force_login(StaffUserFactory(groups=[role]))
    changelist = reverse("admin:axes_accessattempt_changelist")

    listed = colleague.get(changelist, {"q": "sam"})
    unlocked = colleague.post(
        changelist,
        {"action": "unlock", "_selected_action": [AccessAttempt.objects.get(username="sam").pk]},
        follow=True,
    )

    assert listed.status_code == 200 and "Locked Out" in listed.content.decode()
    assert "Unlocked 1: sam from 127.0.0.1." in unlocked.content.decode()
    assert not AccessAttempt.objects.exists()
    assert log_in(client, "sam", "pw").status_code == 302
    assert signed_in(client)


def test_staff_in_no_role_cannot_unlock(client, sam, settings):
    lock_out(client, "sam", settings.LOGIN_FAILURE_LIMIT)
    nobody = Client()
    nobody.force_login(StaffUserFactory())
    changelist = reverse("admin:axes_accessattempt_changelist")

    response = nobody.post(
        changelist,
        {"action": "unlock", "_selected_action": [AccessAttempt.objects.get().pk]},
    )

    assert response.status_code == 403
    assert AccessAttempt.objects.filter(username="sam").exists()
