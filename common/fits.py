"""Text checked against the columns it goes to, before it is written.

A value longer than its column makes PostgreSQL refuse the whole write, and it refuses it the
same way on every retry: checked first, it fails with a message that names the value, as the
sender named it where the caller says how, and says how long it may be.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models


class ValueTooLong(ValueError):
    """A text longer than its column holds: no retry can store it."""

    def __init__(self, name: str, length: int, limit: int) -> None:
        super().__init__(f"{name} is {length} characters long; at most {limit} fit.")
        self.name = name
        self.length = length
        self.limit = limit


def values_fit(
    model: type[models.Model],
    values: Mapping[str, Any],
    *,
    names: Mapping[str, str] | None = None,
) -> None:
    """Raise ValueTooLong for the first text of `values` (field name -> value) longer than its
    field of `model` allows; in a list of texts (an array field), for the first element too
    long. `names` says how the sender names each field (field -> name), for the message;
    a field it leaves out is named `Model.field`. Fields the model lacks, and values that are
    not text, are left to the write."""
    names = names or {}
    for field_name, value in values.items():
        try:
            field = model._meta.get_field(field_name)
        except FieldDoesNotExist:
            continue
        name = names.get(field_name) or f"{model._meta.object_name}.{field_name}"
        if isinstance(value, str):
            _text_fits(name, value, getattr(field, "max_length", None))
        elif isinstance(value, list | tuple) and hasattr(field, "base_field"):
            limit = getattr(field.base_field, "max_length", None)
            for index, element in enumerate(value):
                if isinstance(element, str):
                    _text_fits(f"{name}[{index}]", element, limit)


def _text_fits(name: str, value: str, limit: int | None) -> None:
    if limit is not None and len(value) > limit:
        raise ValueTooLong(name, len(value), limit)
