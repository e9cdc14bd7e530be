"""Follow-ups opened as processing opens them, on a revocation, and the history they keep."""

from datetime import UTC, datetime

from consents.models import FollowUp
from consents.services import follow_up_open_for_revocation
from tests.factories import HostedConsentFactory

# When the consent of a follow-up made here was revoked, as its first note says.
REVOKED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def open_follow_up(*, customer=None, meter_numbers=("1200023305967",)) -> FollowUp:
    """A new follow-up of a consent revoked at REVOKED_AT, opened by the service processing
    calls on a revocation."""
    consent = HostedConsentFactory(
        revoked=True, revoked_at=REVOKED_AT, customer=customer, meter_numbers=list(meter_numbers)
    )
    follow_up, created = follow_up_open_for_revocation(consent=consent)
    assert created
    return follow_up


def history(follow_up: FollowUp) -> list[tuple[str, str | None, str]]:
    """(kind, author's username, text) of each of its notes, oldest first."""
    return [
        (note.kind, note.author.username if note.author else None, note.text)
        for note in follow_up.notes.select_related("author").order_by("created_at", "id")
    ]
