"""Writes on hosted consents, follow-ups and utility connections."""

from datetime import date, datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.mirror import ChildRows, mirror_upsert
from common.users import user_display_name
from consents.models import (
    ConnectionAccount,
    FollowUp,
    FollowUpNote,
    HostedConsent,
    UtilityConnection,
)
from meters.models import Customer

# Never mirrored: they let whoever holds them act on the consent.
_CONSENT_SECRETS = ("token", "hosted_consent_link")


def hosted_consent_upsert(
    *,
    external_id: str,
    customer: Customer | None,
    valid: bool,
    account_id: str = "",
    revoked_at: datetime | None = None,
    consented_at: datetime | None = None,
    expiry: datetime | None = None,
    flow_type: str = "",
    consent_method: str = "",
    consentee_email_verified: bool | None = None,
    meter_numbers: list[str] | None = None,
    version: str = "",
    created_on_platform: datetime | None = None,
    platform_updated_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> tuple[HostedConsent, bool]:
    """Mirror a consent; returns it and whether the mirror changed (False for stale news)."""
    values = {
        "customer": customer,
        "valid": valid,
        "account_id": account_id,
        "revoked_at": revoked_at,
        "consented_at": consented_at,
        "expiry": expiry,
        "flow_type": flow_type,
        "consent_method": consent_method,
        "consentee_email_verified": consentee_email_verified,
        "meter_numbers": meter_numbers or [],
        "version": version,
        "created_on_platform": created_on_platform,
        "raw": {k: v for k, v in (raw or {}).items() if k not in _CONSENT_SECRETS},
    }
    return mirror_upsert(
        model=HostedConsent,
        external_id=external_id,
        values=values,
        platform_updated_at=platform_updated_at,
    )


def follow_up_open_for_revocation(*, consent: HostedConsent) -> tuple[FollowUp, bool]:
    """The follow-up for the consent's revocation; returns (it, created).

    One per revocation, however often it is delivered; and while a follow-up of the consent is
    still being worked, a new revocation is added to it rather than opening another.
    """
    revoked_at = consent.revoked_at
    if revoked_at is not None:
        handled = FollowUp.objects.filter(consent=consent, revoked_at__gte=revoked_at).first()
        if handled:
            return handled, False
    contact = _contact_details(consent)
    open_one = FollowUp.objects.filter(consent=consent, status__in=FollowUp.OPEN_STATUSES).first()
    if open_one:
        open_one.revoked_at = revoked_at
        for field, value in contact.items():
            setattr(open_one, field, value)
        open_one.save()
        _note_reuse(open_one, revoked_at=revoked_at)
        return open_one, False
    try:
        with transaction.atomic():
            follow_up = FollowUp.objects.create(
                consent=consent,
                reason="Consent revoked: contact the customer",
                revoked_at=revoked_at,
                opened_at=timezone.now(),
                **contact,
            )
            FollowUpNote.objects.create(
                follow_up=follow_up,
                kind=FollowUpNote.Kind.REVOCATION,
                text=f"Opened: the consent was revoked{_on(revoked_at)}.",
                created_at=follow_up.opened_at,
            )
    except IntegrityError:
        # Another job opened one for this consent at the same moment: use that.
        open_one = FollowUp.objects.get(consent=consent, status__in=FollowUp.OPEN_STATUSES)
        _note_reuse(open_one, revoked_at=revoked_at)
        return open_one, False
    return follow_up, True


def _note_reuse(follow_up: FollowUp, *, revoked_at: datetime | None) -> None:
    FollowUpNote.objects.create(
        follow_up=follow_up,
        kind=FollowUpNote.Kind.REVOCATION,
        text=f"The consent was revoked again{_on(revoked_at)}. This follow-up, still "
        f"{follow_up.get_status_display().lower()}, covers that revocation too.",
    )


def _on(moment: datetime | None) -> str:
    return f" on {timezone.localtime(moment):%d %b %Y at %H:%M %Z}" if moment else ""


def _contact_details(consent: HostedConsent) -> dict[str, Any]:
    customer = consent.customer
    return {
        "customer_name": customer.name if customer else "",
        "customer_email": customer.email if customer else "",
        "customer_address": customer.address if customer else "",
        "meter_numbers": list(consent.meter_numbers),
    }


# The work on a follow-up. Every change is written to its history as a note, with who made it.
# Each locks the follow-up's row: two people clicking at once act one after the other, and the
# second sees what the first did.


def follow_up_note_add(*, follow_up: FollowUp, author: AbstractBaseUser, text: str) -> FollowUpNote:
    """Add what a person wrote to the follow-up's history, closed ones included."""
    text = text.strip()
    if not text:
        raise ValidationError("A note needs some text.")
    return FollowUpNote.objects.create(
        follow_up=follow_up, author=author, kind=FollowUpNote.Kind.NOTE, text=text
    )


def follow_up_assign(
    *, follow_up: FollowUp, assignee: AbstractBaseUser | None, by: AbstractBaseUser
) -> FollowUp:
    """Give the follow-up to `assignee` (None: to nobody). Only while it is being worked."""
    with transaction.atomic():
        current = _locked_while_open(follow_up, doing="assigned")
        if current.assignee_id == (assignee.pk if assignee else None):
            return _refreshed(follow_up, current)
        previous = current.assignee
        current.assignee = assignee
        current.save(update_fields=["assignee"])
        if assignee is None:
            text = f"Unassigned (was {_person(previous)})."
        elif previous is None:
            text = f"Assigned to {_person(assignee)}."
        else:
            text = f"Assigned to {_person(assignee)} (was {_person(previous)})."
        _event(current, by=by, kind=FollowUpNote.Kind.ASSIGNMENT, text=text)
    return _refreshed(follow_up, current)


def follow_up_due_set(
    *, follow_up: FollowUp, due_on: date | None, by: AbstractBaseUser
) -> FollowUp:
    """Set (or, with None, remove) the date by which it should be done."""
    with transaction.atomic():
        current = _locked_while_open(follow_up, doing="given a due date")
        if current.due_on == due_on:
            return _refreshed(follow_up, current)
        current.due_on = due_on
        current.save(update_fields=["due_on"])
        text = f"Due date set to {due_on:%a %d %b %Y}." if due_on else "Due date removed."
        _event(current, by=by, kind=FollowUpNote.Kind.DUE_DATE, text=text)
    return _refreshed(follow_up, current)


def follow_up_mark_contacted(
    *, follow_up: FollowUp, by: AbstractBaseUser, note: str = ""
) -> FollowUp:
    """The customer has been reached; the follow-up stays open until resolved."""
    return _follow_up_move(follow_up, to=FollowUp.Status.CONTACTED, by=by, note=note)


def follow_up_resolve(*, follow_up: FollowUp, by: AbstractBaseUser, note: str = "") -> FollowUp:
    """Done: closes the follow-up."""
    return _follow_up_move(follow_up, to=FollowUp.Status.RESOLVED, by=by, note=note)


def follow_up_mark_wont_fix(*, follow_up: FollowUp, by: AbstractBaseUser, reason: str) -> FollowUp:
    """Closes the follow-up without a fix; the reason is required and kept in the history."""
    if not reason.strip():
        raise ValidationError("Say why it won't be fixed: the reason is kept in its history.")
    return _follow_up_move(follow_up, to=FollowUp.Status.WONT_FIX, by=by, note=reason)


def _follow_up_move(follow_up: FollowUp, *, to: str, by: AbstractBaseUser, note: str) -> FollowUp:
    target = FollowUp.Status(to)
    with transaction.atomic():
        current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if current.status == target:
            raise ValidationError(
                f"Follow-up {current.pk} is already {target.label.lower()}.", code="unchanged"
            )
        if not current.can_become(target):
            raise ValidationError(
                f"Follow-up {current.pk} is {current.get_status_display().lower()}: "
                f"it cannot be marked {target.label.lower()}.",
                code="transition_refused",
            )
        current.status = target
        if target not in FollowUp.OPEN_STATUSES:
            current.closed_at = timezone.now()
        current.save(update_fields=["status", "closed_at"])
        # What they wrote first, then what they did: the order a reader expects.
        if note.strip():
            follow_up_note_add(follow_up=current, author=by, text=note)
        _event(
            current, by=by, kind=FollowUpNote.Kind.STATUS, text=f"Marked {target.label.lower()}."
        )
    return _refreshed(follow_up, current)


def _locked_while_open(follow_up: FollowUp, *, doing: str) -> FollowUp:
    current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if not current.is_open:
        raise ValidationError(
            f"Follow-up {current.pk} is {current.get_status_display().lower()}: "
            f"a closed follow-up is not {doing}.",
            code="closed",
        )
    return current


def _event(follow_up: FollowUp, *, by: AbstractBaseUser, kind: str, text: str) -> None:
    FollowUpNote.objects.create(follow_up=follow_up, author=by, kind=kind, text=text)


def _refreshed(follow_up: FollowUp, current: FollowUp) -> FollowUp:
    """The caller's instance, brought up to date with the row as it now is."""
    for field in ("status", "closed_at", "assignee_id", "due_on"):
        # Setting assignee_id also drops a cached assignee that no longer matches.
        setattr(follow_up, field, getattr(current, field))
    return follow_up


def _person(user: AbstractBaseUser | None) -> str:
    if user is None:
        return "nobody"
    return user_display_name(user)


def utility_connection_upsert(
    *,
    external_id: str,
    values: dict[str, Any],
    accounts: list[dict[str, Any]],
    platform_updated_at: datetime | None,
    validated_at: datetime | None = None,
) -> tuple[UtilityConnection, bool]:
    """Mirror a Nectar connection and its accounts; returns (connection, changed).

    An update older than the mirrored one changes nothing, but for when the connection was
    validated; the accounts are replaced as a whole, since Nectar sends the complete list.
    """
    connection, changed = mirror_upsert(
        model=UtilityConnection,
        external_id=external_id,
        values={**values, **({"validated_at": validated_at} if validated_at else {})},
        platform_updated_at=platform_updated_at,
        children=[
            ChildRows(
                model=ConnectionAccount,
                parent_field="connection",
                related_name="accounts",
                rows=accounts,
            )
        ],
    )
    # Old news, but the validation happened: keep when, whatever the order of arrival.
    if (
        not changed
        and validated_at
        and (not connection.validated_at or validated_at > connection.validated_at)
    ):
        connection.validated_at = validated_at
        connection.save(update_fields=["validated_at", "mirrored_at"])
    return connection, changed
