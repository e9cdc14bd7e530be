from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import Delivery

pytestmark = pytest.mark.django_db

Status = Delivery.Status


@pytest.fixture
def deliveries(openvolt_endpoint):
    def make(external_id, status, received_at, event_type="customer.created"):
        delivery = Delivery.objects.create(
            endpoint=openvolt_endpoint,
            source="openvolt",
            external_id=external_id,
            event_type=event_type,
            status=status,
            payload={},
        )
        Delivery.objects.filter(pk=delivery.pk).update(received_at=received_at)
        return delivery

    return {
        "old-failed": make("old-failed", Status.FAILED, datetime(2026, 11, 1, tzinfo=UTC)),
        "new-failed": make("new-failed", Status.FAILED, datetime(2026, 11, 20, tzinfo=UTC)),
        "new-dead": make("new-dead", Status.DEAD, datetime(2026, 11, 21, tzinfo=UTC)),
        "new-processed": make(
            "new-processed", Status.PROCESSED, datetime(2026, 11, 21, tzinfo=UTC)
        ),
        "meter-failed": make(
            "meter-failed", Status.FAILED, datetime(2026, 11, 22, tzinfo=UTC), "meter.created"
        ),
    }


def reprocess(*args):
    out = StringIO()
    call_command("reprocess_deliveries", *args, stdout=out)
    return out.getvalue().strip()


def pending():
    return set(Delivery.objects.filter(status=Status.PENDING).values_list("external_id", flat=True))


@pytest.mark.parametrize(
    ("args", "queued"),
    [
        (["--status", "failed", "--since", "2026-11-15"], {"new-failed", "meter-failed"}),
        ([], {"old-failed", "new-failed", "new-dead", "meter-failed"}),
        (["--since", "2026-11-15", "--until", "2026-11-22"], {"new-failed", "new-dead"}),
        (["--status", "processed"], {"new-processed"}),
        (["--event-type", "meter.created"], {"meter-failed"}),
        (["--since", "2026-11-20T12:00:00+00:00"], {"new-dead", "meter-failed"}),
    ],
)
def test_reprocesses_exactly_the_selected_deliveries(deliveries, args, queued):
    output = reprocess(*args)

    assert pending() == queued
    assert output.startswith(f"{len(queued)} deliveries queued")


def test_dry_run_queues_nothing(deliveries):
    assert reprocess("--dry-run") == "4 deliveries would be queued."
    assert pending() == set()


def test_a_bad_date_is_a_clear_error(deliveries):
    with pytest.raises(CommandError, match="not a date"):
        reprocess("--since", "last tuesday")
