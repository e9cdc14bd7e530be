"""The follow-up services (consents/services.py): the moves a follow-up may make and their
refusals, and the history they write with who did what."""

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError

from consents.models import FollowUp, FollowUpNote
from consents.services import (
    follow_up_assign,
    follow_up_due_set,
    follow_up_mark_contacted,
    follow_up_mark_wont_fix,
    follow_up_note_add,
    follow_up_open_for_revocation,
    follow_up_resolve,
)
from tests.factories import HostedConsentFactory
from tests.support.follow_ups import REVOKED_AT, history, open_follow_up

Status = FollowUp.Status
Kind = FollowUpNote.Kind


def test_open_contacted_resolved_writes_a_history_with_who_did_what(db, alice, bob):
    follow_up = open_follow_up()

    follow_up_assign(follow_up=follow_up, assignee=alice, by=bob)
    follow_up_mark_contacted(follow_up=follow_up, by=alice, note="Left a voicemail.")
    assert (follow_up.status, follow_up.closed_at) == (Status.CONTACTED, None)
    follow_up_resolve(follow_up=follow_up, by=alice, note="They consented again.")

    follow_up.refresh_from_db()
    assert follow_up.status == Status.RESOLVED
    assert follow_up.closed_at is not None
    assert history(follow_up) == [
        (Kind.REVOCATION, None, "Opened: the consent was revoked on 01 Mar 2025 at 09:30 UTC."),
        (Kind.ASSIGNMENT, "bob", "Assigned to Alice Archer."),
        (Kind.NOTE, "alice", "Left a voicemail."),
        (Kind.STATUS, "alice", "Marked contacted."),
        (Kind.NOTE, "alice", "They consented again."),
        (Kind.STATUS, "alice", "Marked resolved."),
    ]


def test_open_can_be_resolved_directly(db, alice):
    follow_up = follow_up_resolve(follow_up=open_follow_up(), by=alice)

    assert follow_up.status == Status.RESOLVED
    assert history(follow_up)[-1] == (Kind.STATUS, "alice", "Marked resolved.")


@pytest.mark.parametrize(
    ("status", "move"),
    [
        (Status.RESOLVED, follow_up_mark_contacted),
        (Status.RESOLVED, follow_up_resolve),
        (Status.WONT_FIX, follow_up_mark_contacted),
        (Status.WONT_FIX, follow_up_resolve),
        (Status.CONTACTED, follow_up_mark_contacted),
    ],
)
def test_refused_moves_change_nothing(db, alice, status, move):
    follow_up = open_follow_up()
    FollowUp.objects.filter(pk=follow_up.pk).update(status=status)
    notes_before = follow_up.notes.count()

    with pytest.raises(ValidationError) as refused:
        move(follow_up=follow_up, by=alice)

    follow_up.refresh_from_db()
    assert follow_up.status == status
    assert follow_up.closed_at is None
    assert follow_up.notes.count() == notes_before
    assert f"Follow-up {follow_up.pk} is" in refused.value.messages[0]


def test_a_resolved_one_cannot_be_marked_won_t_fix_either(db, alice):
    follow_up = follow_up_resolve(follow_up=open_follow_up(), by=alice)

    with pytest.raises(ValidationError, match="is resolved: it cannot be marked won't fix"):
        follow_up_mark_wont_fix(follow_up=follow_up, by=alice, reason="No longer a customer.")


def test_won_t_fix_needs_a_reason_and_keeps_it(db, alice):
    follow_up = open_follow_up()

    with pytest.raises(ValidationError, match="Say why"):
        follow_up_mark_wont_fix(follow_up=follow_up, by=alice, reason="   ")
    assert FollowUp.objects.get(pk=follow_up.pk).status == Status.OPEN

    follow_up_mark_wont_fix(follow_up=follow_up, by=alice, reason="Site closed for good.")
    follow_up.refresh_from_db()
    assert follow_up.status == Status.WONT_FIX
    assert follow_up.closed_at is not None
    assert history(follow_up)[-2:] == [
        (Kind.NOTE, "alice", "Site closed for good."),
        (Kind.STATUS, "alice", "Marked won't fix."),
    ]


def test_assignments_are_noted_once_each(db, alice, bob):
    follow_up = open_follow_up()

    follow_up_assign(follow_up=follow_up, assignee=bob, by=bob)
    follow_up_assign(follow_up=follow_up, assignee=bob, by=bob)  # no change, no note
    follow_up_assign(follow_up=follow_up, assignee=alice, by=bob)
    follow_up_assign(follow_up=follow_up, assignee=None, by=alice)

    assert follow_up.assignee is None
    assert [text for kind, _, text in history(follow_up) if kind == Kind.ASSIGNMENT] == [
        "Assigned to bob.",
        "Assigned to Alice Archer (was bob).",
        "Unassigned (was Alice Archer).",
    ]


def test_closed_follow_ups_are_not_reassigned_or_rescheduled(db, alice, bob):
    follow_up = follow_up_resolve(follow_up=open_follow_up(), by=alice)

    with pytest.raises(ValidationError, match="closed follow-up is not assigned"):
        follow_up_assign(follow_up=follow_up, assignee=bob, by=bob)
    with pytest.raises(ValidationError, match="closed follow-up is not given a due date"):
        follow_up_due_set(follow_up=follow_up, due_on=date(2025, 4, 1), by=bob)
    assert FollowUp.objects.get(pk=follow_up.pk).assignee is None


def test_due_date_changes_are_noted(db, alice):
    follow_up = open_follow_up()

    follow_up_due_set(follow_up=follow_up, due_on=date(2025, 4, 1), by=alice)
    follow_up_due_set(follow_up=follow_up, due_on=None, by=alice)

    assert [text for kind, _, text in history(follow_up) if kind == Kind.DUE_DATE] == [
        "Due date set to Tue 01 Apr 2025.",
        "Due date removed.",
    ]


def test_notes_need_text_and_may_be_added_to_closed_ones(db, alice):
    follow_up = follow_up_resolve(follow_up=open_follow_up(), by=alice)

    with pytest.raises(ValidationError):
        follow_up_note_add(follow_up=follow_up, author=alice, text="  \n ")
    follow_up_note_add(follow_up=follow_up, author=alice, text="  Called back to confirm.  ")

    assert history(follow_up)[-1] == (Kind.NOTE, "alice", "Called back to confirm.")


def test_a_new_revocation_reusing_the_open_follow_up_says_so(db, alice):
    consent = HostedConsentFactory(revoked=True, revoked_at=REVOKED_AT)
    follow_up, _ = follow_up_open_for_revocation(consent=consent)
    follow_up_mark_contacted(follow_up=follow_up, by=alice)

    follow_up_open_for_revocation(consent=consent)  # the same revocation again: nothing new
    consent.revoked_at = datetime(2025, 5, 2, 14, 0, tzinfo=UTC)
    consent.save()
    reused, created = follow_up_open_for_revocation(consent=consent)

    assert (reused.pk, created) == (follow_up.pk, False)
    revocations = [text for kind, _, text in history(follow_up) if kind == Kind.REVOCATION]
    assert revocations == [
        "Opened: the consent was revoked on 01 Mar 2025 at 09:30 UTC.",
        "The consent was revoked again on 02 May 2025 at 14:00 UTC. This follow-up, still "
        "contacted, covers that revocation too.",
    ]
