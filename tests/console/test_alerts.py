"""Alerts that reach a person: each rule opens its alert, the alert is told once by e-mail
(a local SMTP server) and once to a chat webhook (a local HTTP receiver), by jobs a real
worker runs, and resolves by itself when the condition clears, which is told once too."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from console.alerts import web
from console.alerts.notify import alert_notice_send
from console.alerts.rules import Finding, endpoint_subject
from console.alerts.services import (
    alert_open,
    alert_rules_claim,
    alert_rules_evaluate,
    alerts_resolve,
)
from console.models import Alert, AlertNotice
from events.models import Delivery
from events.sources.openvolt_budget import openvolt_key_refused_record
from tests.factories import OpenvoltEndpointFactory
from tests.support.openvolt import receive
from tests.support.smtp import free_port
from tests.support.waiting import wait_for
from tests.support.webhooks import openvolt_envelope
from tests.support.workers import heartbeat, run_worker

pytestmark = pytest.mark.live


# Each rule: how to bring its condition about, and how to clear it. Each returns the subject.


def dead_delivery(client):
    heartbeat()
    delivery = receive(
        client, OpenvoltEndpointFactory(), openvolt_envelope("customer.created", "dead-1")
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.DEAD, error="Openvolt answered 500\nTraceback …", attempt_count=7
    )
    return f"delivery:{delivery.pk}"


def dead_delivery_reprocessed(client):
    Delivery.objects.update(status=Delivery.Status.PROCESSED)


def silent_endpoint(client):
    """Every 10 minutes for an hour, then nothing for three hours."""
    heartbeat()
    endpoint = OpenvoltEndpointFactory()
    for number in range(6):
        receive(client, endpoint, openvolt_envelope("customer.created", f"rhythm-{number}"))
    last = timezone.now() - timedelta(hours=3)
    for number, delivery in enumerate(Delivery.objects.order_by("-id")):
        Delivery.objects.filter(pk=delivery.pk).update(
            received_at=last - timedelta(minutes=10 * number)
        )
    return endpoint_subject(endpoint)


def silent_endpoint_hears_again(client):
    receive(
        client, Delivery.objects.first().endpoint, openvolt_envelope("customer.created", "back")
    )


def no_worker(client):
    return "workers"


def worker_back(client):
    heartbeat()


def failing_endpoint(client):
    heartbeat()
    endpoint = OpenvoltEndpointFactory()
    for number in range(10):
        receive(client, endpoint, openvolt_envelope("customer.created", f"rate-{number}"))
    failing = Delivery.objects.order_by("id").values_list("pk", flat=True)[:3]
    Delivery.objects.filter(pk__in=list(failing)).update(status=Delivery.Status.FAILED)
    return endpoint_subject(endpoint)


def failures_retried(client):
    Delivery.objects.update(status=Delivery.Status.PROCESSED)


def old_job(client):
    heartbeat()
    receive(client, OpenvoltEndpointFactory(), openvolt_envelope("customer.created", "slow-1"))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - interval '700 seconds' "
            "WHERE type = 'deferred'"
        )
    return "queue:deliveries"


def job_done(client):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'succeeded' WHERE queue_name = 'deliveries'"
        )


def openvolt_refuses_the_key(client):
    heartbeat()
    openvolt_key_refused_record(status=401)
    return "openvolt_api_key"


def openvolt_accepts_the_key(client):
    openvolt_key_refused_record(status=None)


RULES = {
    Alert.Kind.DELIVERY_DEAD: (dead_delivery, dead_delivery_reprocessed),
    Alert.Kind.ENDPOINT_SILENT: (silent_endpoint, silent_endpoint_hears_again),
    Alert.Kind.WORKER_MISSING: (no_worker, worker_back),
    Alert.Kind.FAILURE_RATE: (failing_endpoint, failures_retried),
    Alert.Kind.QUEUE_AGE: (old_job, job_done),
    Alert.Kind.OPENVOLT_KEY_REFUSED: (openvolt_refuses_the_key, openvolt_accepts_the_key),
}


def evaluate() -> None:
    """Run the rules as the periodic job or /health/ready would, claiming their turn: the
    periodic job that a test's worker queues then finds it taken, and leaves it."""
    assert alert_rules_claim(interval=0)
    alert_rules_evaluate()


def notice_jobs() -> list[str]:
    jobs = ProcrastinateJob.objects.filter(task_name="console.send_alert_notice")
    return list(jobs.order_by("id").values_list("status", flat=True))


@pytest.mark.parametrize("kind", RULES)
def test_each_rule_opens_tells_once_and_resolves_by_itself(
    client,
    committed,
    told,
    kind,
):
    inbox, hook = told
    bring_about, clear = RULES[kind]
    subject = bring_about(client)

    evaluate()

    alert = Alert.objects.get(kind=kind)
    assert (alert.subject, alert.status) == (subject, Alert.Status.OPEN)
    assert alert.detail and alert.subject_label
    assert sorted(alert.notices.values_list("event", "channel")) == [
        ("opened", "email"),
        ("opened", "webhook"),
    ]

    run_worker("alerts")
    evaluate()  # still holds: nothing new to tell
    run_worker("alerts")

    assert Alert.objects.filter(kind=kind).count() == 1
    assert inbox.subjects == [
        f"[Switchboard] Alert: {alert.get_kind_display()} ({alert.subject_label})"
    ]
    assert inbox.messages[0]["To"] == "oncall@example.org"
    body = inbox.messages[0].get_content()
    assert f"https://switchboard.example.org/admin/console/alert/{alert.pk}/change/" in body
    assert [body["switchboard"]["event"] for body in hook.bodies] == ["opened"]
    assert hook.bodies[0]["text"].startswith("[Switchboard] Alert: ")
    assert hook.bodies[0]["switchboard"]["kind"] == kind
    assert notice_jobs() == ["succeeded", "succeeded"]

    clear(client)
    evaluate()
    run_worker("alerts")

    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED and alert.resolved_at
    assert alert.resolved_by is None and not alert.suppressed
    assert inbox.subjects[1].startswith("[Switchboard] Resolved: ")
    assert [body["switchboard"]["event"] for body in hook.bodies] == ["opened", "resolved"]
    assert hook.bodies[1]["switchboard"]["resolved_at"]
    assert AlertNotice.objects.filter(alert=alert, sent_at__isnull=False).count() == 4


def test_a_condition_that_returns_opens_a_new_alert(db):
    evaluate()
    heartbeat()
    evaluate()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_workers")
        cursor.execute("UPDATE console_alertcheck SET worker_seen_at = now() - interval '1 hour'")
    evaluate()

    assert list(Alert.objects.order_by("id").values_list("kind", "status")) == [
        ("worker_missing", "resolved"),
        ("worker_missing", "open"),
    ]


def test_a_notice_goes_once_however_often_its_job_runs(committed, told):
    inbox, hook = told
    assert alert_rules_claim(interval=0)
    alert = _alert_opened()
    notice = alert.notices.get(channel="email")

    assert alert_notice_send(notice_id=notice.pk) is True
    assert alert_notice_send(notice_id=notice.pk) is False
    run_worker("alerts")  # the queued job finds it sent

    assert len(inbox.messages) == 1
    assert len(hook.bodies) == 1


def test_a_receiver_that_is_down_is_tried_again(committed, told, settings, smtp):
    inbox, hook = told
    hook.status = 503
    settings.EMAIL_PORT = free_port()  # nothing listens there
    assert alert_rules_claim(interval=0)
    alert = _alert_opened()

    run_worker("alerts")

    notices = {notice.channel: notice for notice in alert.notices.all()}
    assert all(notice.sent_at is None for notice in notices.values())
    assert notices["webhook"].last_error == "NoticeNotSent: The webhook answered 503."
    assert "Connection refused" in notices["email"].last_error
    assert notice_jobs() == ["todo", "todo"]  # each retried later
    assert inbox.messages == [] and hook.bodies == []

    hook.status = 200
    settings.EMAIL_PORT = smtp.port
    with connection.cursor() as cursor:  # their retries fall due
        cursor.execute("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")
    run_worker("alerts")

    assert notice_jobs() == ["succeeded", "succeeded"]
    assert len(inbox.messages) == 1
    assert [body["switchboard"]["alert"] for body in hook.bodies] == [alert.pk]
    assert all(notice.attempts == 2 for notice in alert.notices.all())


def test_the_web_side_notices_a_missing_worker_and_tells_without_one(
    client,
    committed,
    told,
    monkeypatch,
):
    """No worker runs: /health/ready gives the rules their turn in a thread, which opens
    worker_missing and sends its messages itself."""
    inbox, hook = told
    monkeypatch.setattr(web, "_next_turn", 0.0)

    assert client.get("/health/ready").status_code == 503

    wait_for(
        lambda: len(inbox.messages) == 1 and len(hook.bodies) == 1,
        timeout=15,
        what="the worker_missing e-mail and webhook",
    )
    alert = Alert.objects.get()
    assert alert.kind == Alert.Kind.WORKER_MISSING
    assert inbox.subjects == ["[Switchboard] Alert: No background worker (Background workers)"]
    # Throttled: a second probe within the interval starts nothing.
    assert web.alert_rules_poke() is False


def test_the_rules_run_once_per_interval_across_processes(committed):
    assert alert_rules_claim(interval=30) is True
    assert alert_rules_claim(interval=30) is False
    assert alert_rules_claim(interval=0) is True


def test_one_unresolved_alert_per_kind_and_subject(db):
    finding = Finding(subject="queue:deliveries", subject_label="q", detail="old")
    alert_open(kind=Alert.Kind.QUEUE_AGE, finding=finding)

    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind=Alert.Kind.QUEUE_AGE, subject="queue:deliveries", detail="x")
    Alert.objects.update(status=Alert.Status.RESOLVED)
    Alert.objects.create(kind=Alert.Kind.QUEUE_AGE, subject="queue:deliveries", detail="again")


def test_resolved_by_hand_it_stays_quiet_until_the_condition_clears(client, db, django_user_model):
    heartbeat()
    delivery = receive(
        client, OpenvoltEndpointFactory(), openvolt_envelope("customer.created", "d-9")
    )
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.DEAD)
    evaluate()
    person = django_user_model.objects.create_user("oncall")

    assert alerts_resolve(alerts=Alert.objects.all(), user=person) == 1
    evaluate()
    assert list(Alert.objects.values_list("status", "suppressed")) == [("resolved", True)]

    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.PROCESSED)
    evaluate()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.DEAD)
    evaluate()
    assert sorted(Alert.objects.values_list("status", "suppressed")) == [
        ("open", False),
        ("resolved", False),
    ]


def test_an_openvolt_endpoint_id_goes_into_no_alert(client, db, settings):
    settings.ALERT_FAILURE_RATE = 0.0
    heartbeat()
    endpoint = OpenvoltEndpointFactory()
    for number in range(10):
        receive(client, endpoint, openvolt_envelope("customer.created", f"r-{number}"))
    Delivery.objects.update(status=Delivery.Status.DEAD)

    evaluate()

    assert Alert.objects.filter(kind=Alert.Kind.FAILURE_RATE).exists()
    for row in Alert.objects.values():
        assert str(endpoint.pk) not in str(row)
        assert endpoint.pk.hex not in str(row)


def _alert_opened() -> Alert:
    finding = Finding(subject="queue:deliveries", subject_label="The deliveries queue", detail="d")
    with transaction.atomic():
        return alert_open(kind=Alert.Kind.QUEUE_AGE, finding=finding)
