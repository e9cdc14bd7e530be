"""The rule of every mirror of a platform's objects: older news never overwrites newer.

Each upsert takes the platform's own timestamp of the object (`platform_updated_at`); news
dated before what is mirrored changes nothing, so events may arrive in any order and any
number of times.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import connections, models, router

from common.fits import values_fit
from common.rows import columns_of, values_from_row


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
    arriving later is still recognised. Takes the object's row lock, stale news or not: run it
    in a transaction. A text too long for its column raises ValueTooLong (common/fits.py)
    before it is written.
    """
    values_fit(model, {"external_id": external_id, **values})
    obj, created = _upsert(model, external_id, values, platform_updated_at)
    if obj is None:
        # Stale news. The statement locked the row but, reading as of its start, may not see a
        # version committed while it waited for that lock: this one does.
        return model.objects.get(external_id=external_id), False
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


def _upsert(
    model: type[models.Model],
    external_id: str,
    values: Mapping[str, Any],
    platform_updated_at: datetime | None,
) -> tuple[Any, bool]:
    """Insert the object, or update it unless stale, in one statement; (it, created), or
    (None, False) for stale news, which writes nothing.

    The object returned holds the values as the caller gave them (a related object, a JSON
    document), as a save leaves them, and the stored values of the other fields."""
    db = connections[router.db_for_write(model)]
    statement = _statement(model, tuple(values), db.alias)
    obj = model(external_id=external_id, platform_updated_at=platform_updated_at, **values)
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in statement.inserted]
    with db.cursor() as cursor:
        cursor.execute(statement.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None, False
    *stored, created = row
    stored = values_from_row(statement.returned, stored, using=db.alias)
    for field, value in zip(statement.returned, stored, strict=True):
        setattr(obj, field.attname, value)
    obj._state.adding, obj._state.db = False, db.alias
    return obj, created


@dataclass(frozen=True)
class _Statement:
    sql: str
    # The fields the INSERT sets, in the order of its parameters.
    inserted: list[models.Field]
    # The fields RETURNING reads back: the key, the platform's date, the fields nobody gave.
    returned: list[models.Field]


@lru_cache
def _statement(model: type[models.Model], given: tuple[str, ...], alias: str) -> _Statement:
    """INSERT … ON CONFLICT DO UPDATE of `model`: on conflict, the fields `given`, the
    platform's date (the stored one kept when the news is undated) and the auto_now fields
    are written, unless the stored version is newer.

    The conflicting row is locked even when that condition leaves it as it is. A row the
    statement inserted has no xmax; one it updated has its own transaction's.
    """
    db = connections[alias]
    quote = db.ops.quote_name
    meta = model._meta
    table = quote(meta.db_table)
    stamp = meta.get_field("platform_updated_at")
    inserted = [field for field in meta.concrete_fields if not field.primary_key]
    named = {meta.get_field(name) for name in given}
    written = [f for f in inserted if (f in named or getattr(f, "auto_now", False)) and f != stamp]
    returned = [f for f in meta.concrete_fields if f not in written and f.name != "external_id"]
    assignments = [f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in written]
    column = quote(stamp.column)
    assignments.append(f"{column} = COALESCE(EXCLUDED.{column}, {table}.{column})")
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(f.column) for f in inserted)})"
        f" VALUES ({', '.join(['%s'] * len(inserted))})"
        f" ON CONFLICT ({quote(meta.get_field('external_id').column)})"
        f" DO UPDATE SET {', '.join(assignments)}"
        f" WHERE (EXCLUDED.{column} < {table}.{column}) IS NOT TRUE"
        f" RETURNING {columns_of(returned, meta.db_table)},"
        f" {table}.xmax = 0"
    )
    return _Statement(sql=sql, inserted=inserted, returned=returned)
