"""E-mails to subscribers after processing, sent through a real SMTP server (aiosmtpd) by the
notify job, run by a real procrastinate worker."""

from email.message import EmailMessage

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import Delivery, EmailSubscription, Notification
from events.processing import deliveries_reprocess
from events.tasks import notify_subscribers
from meters.models import ApiKeyRotation, Customer, Meter, PlatformUser
from tests.support.openvolt import (
    CONSENT_ID,
    CREATED_METER,
    METER_A,
    load_event,
    process,
    receive,
    revoke_on_platform,
)
from tests.support.smtp import SITE, Inbox, SmtpServer, email_to
from tests.support.workers import run_worker

pytestmark = [pytest.mark.usefixtures("live_database"), pytest.mark.live]

LIVE_KEY = "AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD"


def text(message: EmailMessage) -> str:
    return message.get_content().replace("\r\n", "\n")


@pytest.fixture
def smtp(settings):
    """An SMTP server on 127.0.0.1, not started yet; Switchboard's e-mail settings point at it."""
    server = SmtpServer()
    email_to(server, settings)
    yield server
    server.stop()


@pytest.fixture
def inbox(smtp) -> Inbox:
    smtp.start()
    return smtp.inbox


def subscribe(event_type: str) -> None:
    """One subscriber to the type, one to everything, one to something else."""
    EmailSubscription.objects.create(email="ops@example.org", event_type=event_type)
    EmailSubscription.objects.create(email="all@example.org", event_type="*")
    other = "customer.created" if event_type != "customer.created" else "meter.created"
    EmailSubscription.objects.create(email="other@example.org", event_type=other)
    EmailSubscription.objects.create(
        email="former@example.org", event_type=event_type, active=False
    )


def notify_jobs(delivery) -> list[str]:
    jobs = ProcrastinateJob.objects.filter(
        task_name="events.notify_subscribers", args__delivery_id=delivery.pk
    )
    return list(jobs.order_by("id").values_list("status", flat=True))


def make_due(job: ProcrastinateJob) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = %s", [job.pk])


def admin_url(obj) -> str:
    meta = obj._meta
    return f"{SITE}/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/change/"


# Per event type: what the subject must say, and the object whose admin page is linked.
CASES = {
    "customer.created": (
        "New customer Customer Name (pepper@starkindustries.com).",
        lambda: Customer.objects.get(external_id="6627795d54dc5b0961a08ae5"),
    ),
    "meter.created": (
        "New meter 123456789 for Customer Name: not valid yet (inactive).",
        lambda: Meter.objects.get(external_id=CREATED_METER),
    ),
    "meter_data.received": (
        "94 half-hourly readings stored for 2 meter(s).",
        lambda: Meter.objects.get(external_id=METER_A),
    ),
    "user.created": (
        "New Openvolt user happy.hogan@starkindustries.com.",
        lambda: PlatformUser.objects.get(),
    ),
    "hosted_consent.revoked": (
        f"Customer Name <pepper@starkindustries.com> revoked consent {CONSENT_ID}",
        lambda: Customer.objects.get(external_id="65c361e09ecb86c35d5ef1c5"),
    ),
    "hosted_consent.approved": (
        "Consent approved by Customer Name.",
        lambda: Customer.objects.get(external_id="65c361e09ecb86c35d5ef1c5"),
    ),
    "api_keys.rotated": (
        "The API key of Openvolt account Account Name was rotated. The new key ends in DDDD.",
        lambda: ApiKeyRotation.objects.get(),
    ),
}


@pytest.mark.parametrize("event_type", sorted(CASES))
def test_subscribers_get_one_plain_email_saying_what_happened(
    api_client, openvolt_endpoint, openvolt_api, inbox, event_type
):
    if event_type == "hosted_consent.revoked":
        revoke_on_platform(openvolt_api)
    subscribe(event_type)
    delivery = process(receive(api_client, openvolt_endpoint, load_event(event_type)))
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert inbox.messages == []  # nothing goes before the job runs

    run_worker("notifications")

    assert sorted(m["To"] for m in inbox.messages) == ["all@example.org", "ops@example.org"]
    headline, linked = CASES[event_type]
    for message in inbox.messages:
        assert not message.is_multipart()
        assert message.get_content_type() == "text/plain"
        assert message["From"] == "switchboard@example.org"
        assert message["Subject"].startswith(f"[Switchboard] {event_type}: {headline}")
        body = text(message)
        assert delivery.summary in body
        assert f"Event: {event_type} from Openvolt" in body
        assert f"Delivery: {SITE}/admin/events/delivery/{delivery.pk}/change/" in body
        assert admin_url(linked()) in body
    assert notify_jobs(delivery) == ["succeeded"]
    assert Notification.objects.filter(delivery=delivery, sent_at__isnull=False).count() == 2


def test_warnings_are_listed_in_the_email(api_client, openvolt_endpoint, openvolt_api, inbox):
    subscribe("meter_data.received")
    delivery = process(receive(api_client, openvolt_endpoint, load_event("meter_data.received")))

    run_worker("notifications")

    body = text(inbox.to("ops@example.org")[0])
    assert "Skipped:\n- " + delivery.warnings[0] in body


def test_never_twice_for_one_delivery(api_client, openvolt_endpoint, openvolt_api, inbox):
    subscribe("customer.created")
    delivery = process(receive(api_client, openvolt_endpoint, load_event("customer.created")))
    run_worker("notifications")
    # Reprocessed: processed again, and a second notify job queued; plus a duplicate job.
    deliveries_reprocess(deliveries=Delivery.objects.filter(pk=delivery.pk))
    assert process(delivery).status == Delivery.Status.PROCESSED
    notify_subscribers.defer(delivery_id=delivery.pk)

    run_worker("notifications")

    assert notify_jobs(delivery) == ["succeeded"] * 3
    assert len(inbox.to("ops@example.org")) == len(inbox.to("all@example.org")) == 1
    assert len(inbox.messages) == 2


def test_no_email_without_subscribers(api_client, openvolt_endpoint, openvolt_api, inbox):
    EmailSubscription.objects.create(email="ops@example.org", event_type="meter.created")
    delivery = process(receive(api_client, openvolt_endpoint, load_event("customer.created")))

    run_worker("notifications")

    assert notify_jobs(delivery) == []
    assert inbox.messages == []


def test_rotated_key_is_not_in_the_email(api_client, openvolt_endpoint, openvolt_api, inbox):
    subscribe("api_keys.rotated")
    process(receive(api_client, openvolt_endpoint, load_event("api_keys.rotated")))

    run_worker("notifications")

    assert len(inbox.messages) == 2
    for message in inbox.messages:
        raw = message.as_bytes()
        assert b"DDDD" in raw
        for part in (LIVE_KEY, "AAAAAAA", "BBBBBBB", "CCCCCCC"):
            assert part.encode() not in raw


def test_smtp_down_the_job_fails_and_a_later_run_sends(
    api_client, openvolt_endpoint, openvolt_api, smtp
):
    subscribe("customer.created")
    delivery = process(receive(api_client, openvolt_endpoint, load_event("customer.created")))

    run_worker("notifications")  # nothing listens on the SMTP port yet

    job = ProcrastinateJob.objects.get(task_name="events.notify_subscribers")
    assert (job.status, job.attempts) == ("todo", 1)  # raised; its retry is scheduled
    assert job.scheduled_at is not None
    errors = Notification.objects.filter(delivery=delivery).values_list("last_error", flat=True)
    assert len(errors) == 2 and all("ConnectionRefusedError" in error for error in errors)
    assert not Notification.objects.filter(sent_at__isnull=False).exists()

    smtp.start()
    make_due(job)  # rather than wait for the retry
    run_worker("notifications")

    assert sorted(m["To"] for m in smtp.inbox.messages) == ["all@example.org", "ops@example.org"]
    assert ProcrastinateJob.objects.get(pk=job.pk).status == "succeeded"
    assert set(Notification.objects.values_list("last_error", flat=True)) == {""}
