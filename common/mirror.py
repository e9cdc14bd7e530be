"""The rule of every mirror of a platform's objects: older news never overwrites newer.

Each upsert takes the platform's own timestamp of the object (`platform_updated_at`); news
dated before what is mirrored changes nothing, so events may arrive in any order and any
number of times.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models

from common.fits import values_fit


def is_stale(stored: datetime | None, incoming: datetime | None) -> bool:
    """Whether news dated `incoming` is older than the mirrored version dated `stored`."""
    return bool(stored and incoming and incoming < stored)


@dataclass(frozen=True)
class ChildRows:
    """Rows that belong to a mirrored object and arrive whole each time (a bill's line items,
    a connection's accounts): replaced as a set whenever the object changes."""

    model: type[models.Model]
    # The child's foreign key to the mirrored object, and the reverse accessor of the rows.
    parent_field: str
    related_name: str
    rows: Iterable[Mapping[str, Any]]


def mirror_upsert(
    *,
    model: type[models.Model],
    external_id: str,
    values: Mapping[str, Any],
    platform_updated_at: datetime | None,
    children: Iterable[ChildRows] = (),
) -> tuple[Any, bool]:
    """Create or update one mirrored object, and its child rows, unless what is stored is
    newer; returns the object and whether it changed.

    An undated event is applied, but the mirror keeps the version it knew, so that older news
    arriving later is still recognised. Takes the object's row lock: run it in a transaction.
    A text too long for its column raises ValueTooLong (common/fits.py) before it is written.
    """
    values_fit(model, {"external_id": external_id, **values})
    values = {**values, "platform_updated_at": platform_updated_at}
    obj, created = model.objects.select_for_update().get_or_create(
        external_id=external_id, defaults=values
    )
    if not created:
        stored = obj.platform_updated_at
        if is_stale(stored, platform_updated_at):
            return obj, False
        values["platform_updated_at"] = platform_updated_at or stored
        for field, value in values.items():
            setattr(obj, field, value)
        obj.save()
    for child in children:
        rows = list(child.rows)
        for row in rows:
            values_fit(child.model, row)
        if not created:
            getattr(obj, child.related_name).all().delete()
        child.model.objects.bulk_create(
            child.model(**{child.parent_field: obj}, **row) for row in rows
        )
    return obj, True
