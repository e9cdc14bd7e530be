"""Writes on the mirror of Nectar's documents: utility bills with their line items and usage."""

from datetime import datetime
from typing import Any

from common.mirror import ChildRows, mirror_upsert
from meters.models import BillLineItem, BillMeterUsage, UtilityBill


def utility_bill_upsert(
    *,
    external_id: str,
    values: dict[str, Any],
    line_items: list[dict[str, Any]],
    meter_usages: list[dict[str, Any]],
    platform_updated_at: datetime | None,
) -> tuple[UtilityBill, bool]:
    """Mirror a Nectar document with its line items and meter usage; returns (bill, changed).

    An update older than the mirrored one changes nothing. Line items and usage records are
    replaced as a whole: Nectar sends the complete document each time.
    """
    starts = [usage["start_date"] for usage in meter_usages if usage.get("start_date")]
    ends = [usage["end_date"] for usage in meter_usages if usage.get("end_date")]
    return mirror_upsert(
        model=UtilityBill,
        external_id=external_id,
        values={
            **values,
            "period_start": min(starts, default=None),
            "period_end": max(ends, default=None),
        },
        platform_updated_at=platform_updated_at,
        children=[
            ChildRows(
                model=BillLineItem,
                parent_field="bill",
                related_name="line_items",
                rows=[
                    {"position": position, **item}
                    for position, item in enumerate(line_items, start=1)
                ],
            ),
            ChildRows(
                model=BillMeterUsage,
                parent_field="bill",
                related_name="meter_usages",
                rows=meter_usages,
            ),
        ],
    )


def utility_bill_mark_deleted(
    *, external_id: str, deleted_at: datetime, values: dict[str, Any]
) -> UtilityBill:
    """Mark a Nectar document deleted, keeping what is known of it.

    A deletion that arrives before the document itself leaves a record, so that the late
    creation (older than the deletion) cannot bring it back: it fills the record in, and the
    bill stays deleted. `platform_updated_at` stays that of the version whose values the bill
    holds: the deletion's values are not applied, so it must not make a newer version look old.
    """
    bill, _ = UtilityBill.objects.select_for_update().get_or_create(
        external_id=external_id, defaults=values
    )
    if bill.deleted_at is None or deleted_at < bill.deleted_at:
        bill.deleted_at = deleted_at
    bill.save(update_fields=["deleted_at", "mirrored_at"])
    return bill
