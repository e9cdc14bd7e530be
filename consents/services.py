"""Writes on hosted consents, follow-ups and utility connections."""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from consents.models import ConnectionAccount, FollowUp, HostedConsent, UtilityConnection
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
        "platform_updated_at": platform_updated_at,
        "raw": {k: v for k, v in (raw or {}).items() if k not in _CONSENT_SECRETS},
    }
    consent, created = HostedConsent.objects.select_for_update().get_or_create(
        external_id=external_id, defaults=values
    )
    if created:
        return consent, True
    stored = consent.platform_updated_at
    if stored and platform_updated_at and platform_updated_at < stored:
        return consent, False
    for field, value in values.items():
        setattr(consent, field, value)
    consent.save()
    return consent, True


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
    except IntegrityError:
        # Another job opened one for this consent at the same moment: use that.
        return FollowUp.objects.get(consent=consent, status__in=FollowUp.OPEN_STATUSES), False
    return follow_up, True


def _contact_details(consent: HostedConsent) -> dict[str, Any]:
    customer = consent.customer
    return {
        "customer_name": customer.name if customer else "",
        "customer_email": customer.email if customer else "",
        "customer_address": customer.address if customer else "",
        "meter_numbers": list(consent.meter_numbers),
    }


def utility_connection_upsert(
    *,
    external_id: str,
    values: dict[str, Any],
    accounts: list[dict[str, Any]],
    platform_updated_at: datetime | None,
    validated_at: datetime | None = None,
) -> tuple[UtilityConnection, bool]:
    """Mirror a Nectar connection and its accounts; returns (connection, changed).

    An update older than the mirrored one changes nothing; the accounts are replaced as a
    whole, since Nectar sends the complete list each time.
    """
    connection = (
        UtilityConnection.objects.select_for_update().filter(external_id=external_id).first()
    )
    stored = connection.platform_updated_at if connection else None
    if stored and platform_updated_at and platform_updated_at < stored:
        # The rest is old news, but the validation happened: keep when, whatever the order.
        if validated_at and (not connection.validated_at or validated_at > connection.validated_at):
            connection.validated_at = validated_at
            connection.save(update_fields=["validated_at", "mirrored_at"])
        return connection, False
    # An undated event is applied, but the mirror keeps the version it knew.
    values = {**values, "platform_updated_at": platform_updated_at or stored}
    if validated_at:
        values["validated_at"] = validated_at
    if connection is None:
        connection = UtilityConnection.objects.create(external_id=external_id, **values)
    else:
        for field, value in values.items():
            setattr(connection, field, value)
        connection.save()
        connection.accounts.all().delete()
    ConnectionAccount.objects.bulk_create(
        ConnectionAccount(connection=connection, **account) for account in accounts
    )
    return connection, True
