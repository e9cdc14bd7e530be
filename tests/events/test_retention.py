"""Retention (events/retention.py): deliveries that ended processed, ignored or rejected more
than DELIVERY_RETENTION_DAYS ago go, with every row of theirs and nothing else; failed and dead
ones stay; batches pass over rows someone else holds; a sender's retry within its window is
still a duplicate; the daily counts stay as they were."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.checks import ERROR
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django import app

from consents.models import FollowUp, HostedConsent
from events.checks import delivery_retention_check
from events.daily_counts import delivery_daily_counts_recount, delivery_daily_counts_refresh
from events.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryDailyCount,
    DeliveryItem,
    DeliveryReceipt,
    DeliveryRequeue,
    Notification,
)
from events.retention import _children, deliveries_prune, next_prune_at
from events.tasks import PRUNE_CRON
from meters.models import IntervalReading
from meters.readings import readings_upsert
from tests.factories import DeliveryFactory, FollowUpFactory, MeterFactory
from tests.support.webhooks import body_of, delivery_of, nectar_event, post_signed

pytestmark = pytest.mark.django_db

Status = Delivery.Status
DAY = timedelta(days=1)


def finished(status, *, ended_days_ago, received_days_ago=None, **fields):
    """A delivery received and ended that many days ago (90 is the default retention)."""
    now = timezone.now()
    ended = now - ended_days_ago * DAY
    received = now - (received_days_ago or ended_days_ago) * DAY
    return DeliveryFactory(
        status=status,
        received_at=received,
        last_received_at=fields.pop("last_received_at", received),
        processed_at=ended if status == Status.PROCESSED else None,
        **fields,
    )


def existing(*deliveries):
    return set(Delivery.objects.filter(pk__in=[d.pk for d in deliveries]))


@pytest.mark.parametrize(
    "status, days, removed",
    [
        (Status.PROCESSED, 91, True),
        (Status.IGNORED, 91, True),
        (Status.REJECTED, 91, True),
        (Status.PROCESSED, 89, False),
        (Status.IGNORED, 89, False),
        (Status.REJECTED, 89, False),
        (Status.FAILED, 400, False),
        (Status.DEAD, 400, False),
        (Status.PENDING, 400, False),
        (Status.PROCESSING, 400, False),
    ],
)
def test_finished_deliveries_older_than_the_retention_go_and_the_rest_stay(status, days, removed):
    delivery = finished(status, ended_days_ago=days)

    pruned = deliveries_prune()

    assert Delivery.objects.filter(pk=delivery.pk).exists() is not removed
    assert dict(pruned.deliveries) == ({status: 1} if removed else {})


def test_a_delivery_ends_when_last_processed_or_received_not_when_first_received():
    reprocessed = finished(Status.PROCESSED, ended_days_ago=10, received_days_ago=200)
    retried = finished(
        Status.REJECTED,
        ended_days_ago=200,
        last_received_at=timezone.now() - 10 * DAY,
    )
    old = finished(Status.PROCESSED, ended_days_ago=91, received_days_ago=200)

    deliveries_prune()

    assert existing(reprocessed, retried, old) == {reprocessed, retried}


def test_the_retention_setting_moves_the_cutoff(settings):
    settings.DELIVERY_RETENTION_DAYS = 10
    recent, older = (finished(Status.PROCESSED, ended_days_ago=days) for days in (9, 11))

    deliveries_prune()

    assert existing(recent, older) == {recent}


def with_children(delivery):
    DeliveryReceipt.objects.create(
        delivery=delivery, verdict="accepted", response_status=202, headers={}
    )
    DeliveryReceipt.objects.create(
        delivery=delivery, verdict="duplicate", response_status=200, headers={}
    )
    DeliveryAttempt.objects.create(delivery=delivery, result="processed")
    for position in range(3):
        DeliveryItem.objects.create(delivery=delivery, position=position, kind="test.kind")
    DeliveryRequeue.objects.create(delivery=delivery, reason="lost")
    Notification.objects.create(delivery=delivery, email="ops@example.org")
    return delivery


def rows_of(delivery):
    return [
        model.objects.filter(delivery=delivery).count()
        for model in (DeliveryReceipt, DeliveryAttempt, DeliveryItem, DeliveryRequeue, Notification)
    ]


def test_the_rows_of_a_removed_delivery_go_with_it_and_nothing_else_does():
    old = with_children(finished(Status.PROCESSED, ended_days_ago=100))
    kept = with_children(finished(Status.DEAD, ended_days_ago=100))
    meter = MeterFactory()
    readings_upsert(meter=meter, readings=[(datetime(2026, 1, 1, tzinfo=UTC), Decimal("1.5"))])
    FollowUpFactory()
    delivery_daily_counts_recount(
        first_day=timezone.localdate() - timedelta(days=5), last_day=timezone.localdate()
    )
    others = (IntervalReading, HostedConsent, FollowUp, DeliveryDailyCount)
    before = [model.objects.count() for model in others]

    pruned = deliveries_prune()

    assert rows_of(old) == [0, 0, 0, 0, 0]
    assert rows_of(kept) == [2, 1, 3, 1, 1]
    assert dict(pruned.children) == {
        "events_deliveryreceipt": 2,
        "events_deliveryattempt": 1,
        "events_deliveryitem": 3,
        "events_deliveryrequeue": 1,
        "events_notification": 1,
    }
    assert [model.objects.count() for model in others] == before
    assert existing(old, kept) == {kept}


def test_every_model_linked_to_a_delivery_is_one_pruning_removes():
    assert sorted(_children()) == [
        ("events_deliveryattempt", "delivery_id"),
        ("events_deliveryitem", "delivery_id"),
        ("events_deliveryreceipt", "delivery_id"),
        ("events_deliveryrequeue", "delivery_id"),
        ("events_notification", "delivery_id"),
    ]


def test_the_daily_counts_of_pruned_days_stay_as_they_were(settings):
    settings.DELIVERY_RETENTION_DAYS = 2
    now = timezone.now()
    for days in (5, 5, 6, 1):
        finished(Status.PROCESSED, ended_days_ago=days)
    finished(Status.DEAD, ended_days_ago=6)
    today = timezone.localdate(now)
    settings.DELIVERY_RETENTION_DAYS = 90
    delivery_daily_counts_recount(first_day=today - timedelta(days=10), last_day=today)
    settings.DELIVERY_RETENTION_DAYS = 2
    before = list(DeliveryDailyCount.objects.values_list("day", "status", "count"))

    assert deliveries_prune().total == 3
    # The hourly recount covers 31 days; the command any range: neither touches pruned days.
    delivery_daily_counts_refresh(at=now.replace(minute=0))
    call_command("refresh_dashboard", "--days=20", stdout=io.StringIO())

    assert list(DeliveryDailyCount.objects.values_list("day", "status", "count")) == before
    assert sum(count for _, _, count in before) == 5


def test_the_dry_run_counts_by_status_and_removes_nothing():
    for status in (Status.PROCESSED, Status.PROCESSED, Status.REJECTED, Status.DEAD):
        with_children(finished(status, ended_days_ago=100))
    finished(Status.PROCESSED, ended_days_ago=1)
    out = io.StringIO()

    call_command("prune_deliveries", "--dry-run", stdout=out)

    assert out.getvalue().startswith(
        "3 deliveries would be removed (2 processed, 0 ignored, 1 rejected), ended before "
    )
    assert Delivery.objects.count() == 5
    assert DeliveryReceipt.objects.count() == 8
    assert dict(deliveries_prune(dry_run=True).deliveries) == {"processed": 2, "rejected": 1}


def test_the_command_says_what_it_removed():
    for status in (Status.PROCESSED, Status.IGNORED, Status.DEAD):
        with_children(finished(status, ended_days_ago=100))
    out = io.StringIO()

    call_command("prune_deliveries", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("2 deliveries removed (1 processed, 1 ignored, 0 rejected), ")
    assert lines[0].endswith("(DELIVERY_RETENTION_DAYS=90).")
    assert lines[1] == (
        "With their rows: 2 events_deliveryattempt, 6 events_deliveryitem, "
        "4 events_deliveryreceipt, 2 events_deliveryrequeue, 2 events_notification."
    )
    assert Delivery.objects.get().status == Status.DEAD


def test_deliveries_go_in_batches_of_the_size_given():
    old = [finished(Status.PROCESSED, ended_days_ago=100 + n) for n in range(5)]
    old += [finished(Status.IGNORED, ended_days_ago=100 + n) for n in range(2)]

    pruned = deliveries_prune(batch_size=2)

    assert pruned.batches == 4  # 2 + 2 + 2 + 1, oldest first, whatever the status
    assert (pruned.total, pruned.finished) == (7, True)
    assert not existing(*old)


def test_a_run_stops_after_its_time_and_the_next_goes_on():
    for n in range(5):
        finished(Status.PROCESSED, ended_days_ago=100 + n)

    first = deliveries_prune(batch_size=2, seconds=0)

    assert (first.batches, first.total, first.finished) == (1, 2, False)
    assert deliveries_prune(batch_size=2).total == 3


@pytest.mark.usefixtures("live_database")
def test_rows_someone_else_holds_are_passed_over_not_waited_for():
    held, free = (finished(Status.PROCESSED, ended_days_ago=100 + n) for n in range(2))
    other = connection.copy()  # another session: the intake counting a receipt, say
    try:
        with other.cursor() as theirs, connection.cursor() as ours:
            theirs.execute("BEGIN")
            theirs.execute("SELECT FROM events_delivery WHERE id = %s FOR UPDATE", [held.pk])
            # Were pruning to wait for the lock, it would fail here instead of hanging.
            ours.execute("SET lock_timeout = '5s'")
            pruned = deliveries_prune(batch_size=1)
            theirs.execute("ROLLBACK")
            ours.execute("RESET lock_timeout")
    finally:
        other.close()

    assert (pruned.total, pruned.finished) == (1, True)
    assert existing(held, free) == {held}
    assert deliveries_prune().total == 1


def test_a_retry_within_the_senders_window_is_still_a_duplicate(
    api_client, nectar_endpoint, settings
):
    settings.DELIVERY_RETENTION_DAYS = 2  # the least the check allows
    body = body_of(nectar_event())
    first = delivery_of(post_signed(api_client, nectar_endpoint, body, message_id="msg_27h"))
    aged = timezone.now() - timedelta(hours=27)
    Delivery.objects.filter(pk=first.pk).update(
        status=Status.PROCESSED, received_at=aged, last_received_at=aged, processed_at=aged
    )

    assert deliveries_prune().total == 0
    retry = post_signed(api_client, nectar_endpoint, body, message_id="msg_27h")

    assert (retry.status_code, retry.json()["duplicate"]) == (200, True)
    assert delivery_of(retry) == first
    assert list(first.receipts.values_list("verdict", flat=True)) == ["accepted", "duplicate"]


@pytest.mark.parametrize(
    "days, errors", [(90, []), (2, []), (1, ["events.E003"]), (0, ["events.E003"])]
)
def test_a_retention_shorter_than_a_senders_retries_is_refused(settings, days, errors):
    settings.DELIVERY_RETENTION_DAYS = days

    found = delivery_retention_check()

    assert [(error.id, error.level) for error in found] == [(e, ERROR) for e in errors]


def test_the_prune_is_an_hourly_periodic_task():
    task = app.tasks["events.prune_deliveries"]
    periodic = {p.periodic_id: p for p in app.periodic_registry.periodic_tasks.values()}

    assert task.queue == "maintenance"
    assert periodic["prune_deliveries"].cron == PRUNE_CRON == "17 * * * *"
    at = datetime(2026, 3, 1, 10, 17, tzinfo=UTC)
    assert next_prune_at(now=at) == datetime(2026, 3, 1, 11, 17, tzinfo=UTC)
    assert next_prune_at(now=at - timedelta(minutes=1)) == at
