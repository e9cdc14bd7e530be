"""Follow-ups opened as processing opens them, on a revocation, and the history they keep."""

from datetime import UTC, datetime

from django.utils import timezone

from consents.models import FollowUp
from consents.services import follow_up_open_for_revocation, hosted_consent_upsert
from meters.services import customer_upsert
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


def bakery_follow_up() -> FollowUp:
    """The follow-up of a real-looking customer whose consent was revoked two days ago, as the
    browser tests show it to staff."""
    customer = customer_upsert(
        external_id="65c361e09ecb86c35d5ef1c5",
        name="Hartley & Sons Bakery",
        email="accounts@hartleybakery.co.uk",
        address="14 Mill Lane, Leeds LS6 3AB",
    )
    consent, _ = hosted_consent_upsert(
        external_id="6630f047feb1f65bad24870a",
        customer=customer,
        valid=False,
        revoked_at=timezone.now() - timezone.timedelta(days=2),
        meter_numbers=["1200050123421"],
    )
    follow_up, _ = follow_up_open_for_revocation(consent=consent)
    return follow_up


def history(follow_up: FollowUp) -> list[tuple[str, str | None, str]]:
    """(kind, author's username, text) of each of its notes, oldest first."""
    return [
        (note.kind, note.author.username if note.author else None, note.text)
        for note in follow_up.notes.select_related("author").order_by("created_at", "id")
    ]
