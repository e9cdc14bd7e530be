"""seed_demo_data: demo data made by PostgreSQL, realistic enough to try the console on."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Max, Min
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from consents.models import FollowUp, HostedConsent, UtilityConnection
from demo import loading
from events.models import Delivery, DeliveryAttempt, DeliveryReceipt, WebhookEndpoint
from meters.models import Customer, IntervalReading, Meter, UtilityBill

pytestmark = pytest.mark.django_db

DELIVERIES, READINGS, CUSTOMERS = 3000, 6000, 20


def seed(**counts):
    out = StringIO()
    options = {"deliveries": DELIVERIES, "readings": READINGS, "customers": CUSTOMERS} | counts
    call_command("seed_demo_data", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def seeded():
    return seed()


def test_it_makes_what_was_asked(seeded):
    assert Delivery.objects.count() == DELIVERIES
    assert IntervalReading.objects.count() == READINGS
    assert Customer.objects.count() == CUSTOMERS
    assert Meter.objects.count() == CUSTOMERS * 8 // 5
    assert HostedConsent.objects.count() == CUSTOMERS
    assert UtilityBill.objects.count() == CUSTOMERS // 6
    assert UtilityConnection.objects.count() == CUSTOMERS // 10
    assert WebhookEndpoint.objects.count() == 3
    assert "deliveries 3,000 of 3,000" in seeded and "readings 6,000 of 6,000" in seeded


def test_statuses_event_types_and_sources_are_spread_like_real_traffic(seeded):
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    assert statuses["processed"] > 0.9 * DELIVERIES
    for rare in ("failed", "dead", "ignored", "rejected"):
        assert 0 < statuses[rare] < 0.05 * DELIVERIES, rare
    types = Counter(Delivery.objects.values_list("event_type", flat=True))
    assert types.most_common(1)[0][0] == "meter_data.received"
    assert len(types) >= 10
    assert set(Delivery.objects.values_list("source", flat=True)) == {"openvolt", "nectar"}
    assert Delivery.objects.values("endpoint").distinct().count() == 3


def test_deliveries_spread_over_ninety_days_with_their_receipts_and_attempts(seeded):
    span = Delivery.objects.aggregate(first=Min("received_at"), last=Max("received_at"))
    now = timezone.now()
    assert now - timedelta(days=91) < span["first"] < now - timedelta(days=85)
    assert span["last"] <= now
    # Failed ones are recent and scheduled; dead ones used up every attempt.
    for failed in Delivery.objects.filter(status="failed"):
        assert failed.received_at > now - timedelta(days=2)
        assert failed.next_attempt_at > failed.received_at and failed.error
    assert set(Delivery.objects.filter(status="dead").values_list("attempt_count", flat=True)) == {
        7
    }
    # The counters on each delivery match its rows.
    receipts = dict(
        DeliveryReceipt.objects.values("delivery")
        .annotate(n=Count("id"))
        .values_list("delivery", "n")
    )
    attempts = dict(
        DeliveryAttempt.objects.values("delivery")
        .annotate(n=Count("id"))
        .values_list("delivery", "n")
    )
    for pk, receipt_count, attempt_count in Delivery.objects.values_list(
        "pk", "receipt_count", "attempt_count"
    ):
        assert receipts[pk] == receipt_count
        assert attempts.get(pk, 0) == attempt_count
    assert DeliveryReceipt.objects.filter(verdict="duplicate").exists()
    assert (
        not DeliveryReceipt.objects.filter(headers__has_key="svix-signature")
        .exclude(headers__contains={"svix-signature": "[redacted]"})
        .exists()
    )


def test_waiting_deliveries_have_their_jobs(seeded):
    waiting = Delivery.objects.filter(status__in=["pending", "processing", "failed"]).count()

    assert waiting
    assert ProcrastinateJob.objects.filter(task_name="events.process_delivery").count() == waiting


def test_readings_run_up_to_yesterday_and_some_meters_went_quiet(seeded):
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    latest = IntervalReading.objects.values("meter").annotate(last=Max("start"))
    last_starts = Counter(row["last"] for row in latest)
    assert last_starts.most_common(1)[0][0] == today - timedelta(minutes=30)
    assert min(last_starts) < today - timedelta(days=2)  # stale meters
    for meter in Meter.objects.filter(readings__isnull=False).distinct():
        assert meter.latest_reading_start == meter.readings.aggregate(Max("start"))["start__max"]
    assert Meter.objects.filter(readings__isnull=True).exists()  # not read yet


def test_consents_and_follow_ups_cover_the_cases_staff_work_on(seeded):
    assert HostedConsent.objects.filter(revoked_at__isnull=False, valid=False).exists()
    soon = timezone.now() + timedelta(days=30)
    assert HostedConsent.objects.filter(valid=True, expiry__lt=soon).exists()
    assert HostedConsent.objects.filter(valid=True, expiry__gt=soon).exists()
    revoked = HostedConsent.objects.filter(revoked_at__isnull=False).count()
    assert FollowUp.objects.count() == revoked
    assert FollowUp.objects.filter(status="open").exists()


def test_deliveries_are_found_by_what_they_are_about(admin_client, seeded):
    revoked = Delivery.objects.filter(event_type="hosted_consent.revoked").first()
    meter_number = revoked.payload["payload"]["meter_numbers"][0]
    email = revoked.payload["payload"]["customer"]["email"]

    for term in (meter_number, email.upper(), revoked.external_id):
        response = admin_client.get(reverse("admin:events_delivery_changelist"), {"q": term})
        assert revoked in response.context["cl"].result_list, term


def test_a_second_run_adds_nothing(seeded):
    counts = (Delivery.objects.count(), IntervalReading.objects.count(), FollowUp.objects.count())

    output = seed()

    assert (Delivery.objects.count(), IntervalReading.objects.count()) == counts[:2]
    assert FollowUp.objects.count() == counts[2]
    assert "Nothing to add" in output


def test_a_larger_run_tops_up(seeded):
    seed(deliveries=DELIVERIES + 500, readings=READINGS + 320)

    assert Delivery.objects.count() == DELIVERIES + 500
    assert IntervalReading.objects.count() == READINGS + 320


def test_a_bulk_load_puts_every_index_and_foreign_key_back(monkeypatch):
    def definitions():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename IN "
                "('events_delivery', 'events_deliveryreceipt', 'events_deliveryattempt', "
                "'meters_intervalreading') UNION ALL SELECT pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE conrelid IN ('events_delivery'::regclass, "
                "'events_deliveryreceipt'::regclass, 'events_deliveryattempt'::regclass, "
                "'meters_intervalreading'::regclass) ORDER BY 1"
            )
            return [row[0] for row in cursor.fetchall()]

    before = definitions()
    monkeypatch.setattr(loading, "BULK_LOAD_ROWS", 1)

    output = seed(deliveries=500, readings=1000)

    assert "indexes and foreign keys rebuilt after the load" in output
    assert definitions() == before
    assert Delivery.objects.count() == 500 and IntervalReading.objects.count() == 1000


def test_negative_counts_are_refused():
    with pytest.raises(CommandError, match="negative"):
        seed(deliveries=-1)


@pytest.mark.parametrize(
    "changelist",
    [
        "events_delivery",
        "events_webhookendpoint",
        "meters_intervalreading",
        "meters_meter",
        "meters_customer",
        "meters_utilitybill",
        "consents_hostedconsent",
        "consents_followup",
        "consents_utilityconnection",
    ],
)
def test_the_admin_changelists_render_with_it(admin_client, seeded, changelist):
    response = admin_client.get(reverse(f"admin:{changelist}_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) > 0


def test_the_readings_list_is_newest_first_and_finds_a_meter_by_its_id(admin_client, seeded):
    meter = Meter.objects.filter(readings__isnull=False).order_by("pk").first()
    changelist = reverse("admin:meters_intervalreading_changelist")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(changelist, {"q": meter.meter_number})

    rows = list(response.context["cl"].result_list)
    assert {row.meter_id for row in rows} == {meter.pk}
    assert rows[0].start == meter.latest_reading_start
    assert [row.start for row in rows] == sorted((row.start for row in rows), reverse=True)
    listing = [q["sql"] for q in queries if 'FROM "meters_intervalreading"' in q["sql"]]
    # By meter id (an index range), not by a condition on the joined meter; counted unsorted.
    assert listing and not any("UPPER(" in sql for sql in listing)
    counts = [sql for sql in listing if "COUNT(" in sql]
    assert counts and not any("ORDER BY" in sql for sql in counts)
    newest = IntervalReading.objects.aggregate(newest=Max("start"))["newest"]
    assert admin_client.get(changelist).context["cl"].result_list[0].start == newest


def test_the_delivery_and_meter_pages_render_with_it(admin_client, seeded):
    for delivery in (
        Delivery.objects.filter(status="dead").first(),
        Delivery.objects.filter(status="processed", event_type="meter_data.received").first(),
        Delivery.objects.filter(status="rejected").first(),
    ):
        response = admin_client.get(reverse("admin:events_delivery_change", args=[delivery.pk]))
        assert response.status_code == 200
    processed = Delivery.objects.filter(status="processed", event_type="meter.created").first()
    page = admin_client.get(
        reverse("admin:events_delivery_change", args=[processed.pk])
    ).content.decode()
    meter = Meter.objects.get(external_id=processed.payload["payload"]["_id"])
    assert reverse("admin:meters_meter_change", args=[meter.pk]) in page  # its "changed" link
    assert (
        admin_client.get(reverse("admin:meters_meter_change", args=[meter.pk])).status_code == 200
    )
    assert admin_client.get(reverse("admin:index")).status_code == 200
