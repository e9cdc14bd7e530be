"""Alerts in the console: the list and its actions for the staff roles, the test alert, and
the open alerts at the top of the dashboard."""

import pytest
from django.urls import reverse

from console.alerts.rules import Finding
from console.alerts.services import alert_open
from console.models import Alert
from console.roles import CUSTOMER_SUCCESS, INTEGRATION_ADMIN
from tests.factories import StaffUserFactory
from tests.support.admin import action_names

CHANGELIST = reverse("admin:console_alert_changelist")


def opened(subject="queue:deliveries", kind=Alert.Kind.QUEUE_AGE) -> Alert:
    finding = Finding(subject=subject, subject_label=f"The {subject}", detail="Waited 700 s.")
    return alert_open(kind=kind, finding=finding)


@pytest.mark.parametrize("role", [CUSTOMER_SUCCESS, INTEGRATION_ADMIN])
def test_both_roles_see_acknowledge_and_resolve_alerts(client, db, role):
    first, second = opened("queue:deliveries"), opened("queue:notifications")
    user = StaffUserFactory(groups=[role])
    client.force_login(user)

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert action_names(response) == {"acknowledge", "resolve"}
    assert client.get(reverse("admin:console_alert_change", args=[first.pk])).status_code == 200

    client.post(CHANGELIST, {"action": "acknowledge", "_selected_action": [first.pk]})
    client.post(CHANGELIST, {"action": "resolve", "_selected_action": [second.pk]})

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.acknowledged_by) == (Alert.Status.ACKNOWLEDGED, user)
    assert (second.status, second.resolved_by, second.suppressed) == ("resolved", user, True)


def test_nobody_adds_or_deletes_an_alert(admin_client, db):
    alert = opened()

    assert admin_client.get(reverse("admin:console_alert_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:console_alert_delete", args=[alert.pk])).status_code == 403
    )


def test_a_user_in_no_group_sees_no_alert(client, db):
    client.force_login(StaffUserFactory())

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:console_alert_send_test")).status_code == 403


@pytest.mark.live
def test_send_a_test_alert_reaches_both_channels(client, db, told):
    inbox, hook = told
    client.force_login(StaffUserFactory(groups=[CUSTOMER_SUCCESS]))

    page = client.get(reverse("admin:console_alert_send_test"))
    assert page.status_code == 200 and b"oncall@example.org" in page.content
    response = client.post(reverse("admin:console_alert_send_test"), follow=True)

    messages = [str(message) for message in response.context["messages"]]
    assert messages == ["E-mail sent to oncall@example.org.", "Webhook answered 200."]
    assert inbox.subjects == ["[Switchboard] Test alert"]
    assert hook.bodies[0]["text"] == "[Switchboard] Test alert: nothing is wrong."
    assert not Alert.objects.exists()


def test_send_a_test_alert_says_when_nobody_is_configured(client, db, settings):
    settings.ALERT_EMAILS, settings.ALERT_WEBHOOK_URL = [], ""
    client.force_login(StaffUserFactory(groups=[INTEGRATION_ADMIN]))

    response = client.post(reverse("admin:console_alert_send_test"), follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "Neither ALERT_EMAILS nor ALERT_WEBHOOK_URL is set: nobody to tell."
    ]


def test_the_dashboard_opens_with_the_open_alerts(client, db):
    alert = opened()
    Alert.objects.filter(pk=opened("queue:old").pk).update(status="resolved")
    client.force_login(StaffUserFactory(groups=[CUSTOMER_SUCCESS]))

    response = client.get(reverse("admin:index"))

    alerts = response.context["dashboard"].alerts
    assert [line.link for line in alerts] == [
        reverse("admin:console_alert_change", args=[alert.pk])
    ]
    page = response.content.decode()
    assert page.index('id="dash-alerts"') < page.index("At a glance")
    assert "Waited 700 s." in page


def test_the_dashboard_says_when_no_alert_is_open(client, db):
    client.force_login(StaffUserFactory(groups=[CUSTOMER_SUCCESS]))

    response = client.get(reverse("admin:index"))

    assert response.context["dashboard"].alerts == []
    assert "No alert is open." in response.content.decode()
