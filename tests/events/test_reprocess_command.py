from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import Delivery
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db

Status = Delivery.Status


@pytest.fixture
def deliveries(db):
    """Received in November 2026, on the day each says."""
    return {
        external_id: DeliveryFactory(
            external_id=external_id,
            status=status,
            received_at=datetime(2026, 11, day, tzinfo=UTC),
            event_type=event_type,
        )
        for external_id, status, day, event_type in [
            ("old-failed", Status.FAILED, 1, "customer.created"),
            ("new-failed", Status.FAILED, 20, "customer.created"),
            ("new-dead", Status.DEAD, 21, "customer.created"),
            ("new-processed", Status.PROCESSED, 21, "customer.created"),
            ("meter-failed", Status.FAILED, 22, "meter.created"),
        ]
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
