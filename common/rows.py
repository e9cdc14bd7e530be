"""Rows that a statement written by hand returns (… RETURNING), read as the ORM reads them.

`Model.objects.raw()` does the same, but works out on every call which column is which field
and how each value converts (about a millisecond of CPU for a row of twenty-five columns);
here the columns are the fields named, in order, and the converters are looked up once.
"""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.db import connection, connections, models


def columns_of(fields: Sequence[models.Field], table: str) -> str:
    """The columns of `fields`, qualified by `table` (an alias of the statement), for a
    SELECT list or RETURNING clause whose row values_from_row then reads."""
    quote = connection.ops.quote_name
    return ", ".join(f"{quote(table)}.{quote(field.column)}" for field in fields)


def values_from_row(fields: Sequence[models.Field], row: Sequence[Any], *, using: str) -> list:
    """The values of `row` (one per field of `fields`, in order) as the fields hold them: a
    JSON document read, for one."""
    db = connections[using]
    values = list(row)
    for index, (col, converters) in _converters(tuple(fields), using):
        for converter in converters:
            values[index] = converter(values[index], col, db)
    return values


def instance_from_row(model: type[models.Model], row: Sequence[Any], *, using: str) -> models.Model:
    """An instance of `model` from a row of its concrete fields, in their order."""
    fields = model._meta.concrete_fields
    values = values_from_row(fields, row, using=using)
    return model.from_db(using, [field.attname for field in fields], values)


@lru_cache
def _converters(fields: tuple[models.Field, ...], using: str) -> list[tuple[int, tuple]]:
    """(index, (column expression, converters)) of the fields whose values need converting."""
    db = connections[using]
    found = []
    for index, field in enumerate(fields):
        col = field.get_col(field.model._meta.db_table)
        converters = db.ops.get_db_converters(col) + col.get_db_converters(db)
        if converters:
            found.append((index, (col, converters)))
    return found
