"""Writes on the mirror of Openvolt's customers, meters, users and key rotations.

Readings are in meters/readings.py, Nectar's bills in meters/bills.py. Every upsert follows
the mirror rule (common/mirror.py): news older than what is mirrored is dropped.
"""

from datetime import datetime
from typing import Any

from common.mirror import mirror_upsert
from meters.models import ApiKeyRotation, Customer, Meter, PlatformUser


def customer_upsert(
    *,
    external_id: str,
    account_id: str = "",
    name: str = "",
    email: str = "",
    address: str = "",
    logo_url: str = "",
    created_on_platform: datetime | None = None,
    platform_updated_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> Customer:
    customer, _ = mirror_upsert(
        model=Customer,
        external_id=external_id,
        platform_updated_at=platform_updated_at,
        values={
            "account_id": account_id,
            "name": name,
            "email": email,
            "address": address,
            "logo_url": logo_url,
            "created_on_platform": created_on_platform,
            "raw": raw or {},
        },
    )
    return customer


def meter_upsert(
    *,
    external_id: str,
    meter_number: str,
    customer: Customer | None,
    account_id: str = "",
    enabled: bool = True,
    valid: bool | None = None,
    status: str = "",
    data_source: str = "",
    update_frequency: str = "",
    validity_state: dict[str, Any] | None = None,
    created_on_platform: datetime | None = None,
    platform_updated_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> Meter:
    meter, _ = mirror_upsert(
        model=Meter,
        external_id=external_id,
        platform_updated_at=platform_updated_at,
        values={
            "meter_number": meter_number,
            "customer": customer,
            "account_id": account_id,
            "enabled": enabled,
            "valid": valid,
            "status": status,
            "data_source": data_source,
            "update_frequency": update_frequency,
            "validity_state": validity_state or {},
            "created_on_platform": created_on_platform,
            "raw": raw or {},
        },
    )
    return meter


def platform_user_upsert(
    *,
    external_id: str,
    account_id: str = "",
    name: str = "",
    email: str = "",
    created_on_platform: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> PlatformUser:
    user, _ = PlatformUser.objects.update_or_create(
        external_id=external_id,
        defaults={
            "account_id": account_id,
            "name": name,
            "email": email,
            "created_on_platform": created_on_platform,
            "raw": raw or {},
        },
    )
    return user


def api_key_rotation_record(
    *,
    account_id: str,
    account_name: str = "",
    account_email: str = "",
    key_last_four: str = "",
    readonly: bool | None = None,
    rotated_at: datetime,
) -> tuple[ApiKeyRotation, bool]:
    """Record a key rotation once, however often it is delivered; returns (it, created)."""
    return ApiKeyRotation.objects.get_or_create(
        account_id=account_id,
        rotated_at=rotated_at,
        defaults={
            "account_name": account_name,
            "account_email": account_email,
            "key_last_four": key_last_four,
            "readonly": readonly,
        },
    )
