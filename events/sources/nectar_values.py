"""Nectar's values, read strictly: a charge that is not a number, a date that is not a date, a
text too long for its column fails the delivery with an error that names the field, rather
than storing something wrong.
"""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models

from common.fits import values_fit
from common.moments import parse_timestamp
from events.dispatch import PayloadError

# Readers of one value. Each takes (value, path) and returns the value to store; an absent or
# null value is read as the field's empty value before a reader sees it.


def text(value: Any, path: str) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise PayloadError(f"{path}: expected text, got {value!r}.")


def amount(value: Any, path: str) -> Decimal:
    if isinstance(value, bool):
        raise PayloadError(f"{path}: {value!r} is not a number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{path}: {value!r} is not a number.") from None
    if not number.is_finite():
        raise PayloadError(f"{path}: {value!r} is not a number.")
    return number


def day(value: Any, path: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise PayloadError(f"{path}: {value!r} is not a date (YYYY-MM-DD).") from None


def moment(value: Any, path: str) -> datetime:
    parsed = parse_timestamp(value)
    if parsed is None:
        raise PayloadError(f"{path}: {value!r} is not a timestamp.")
    return parsed


def flag(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    raise PayloadError(f"{path}: expected true or false, got {value!r}.")


def whole(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PayloadError(f"{path}: expected a whole number, got {value!r}.")


def texts(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise PayloadError(f"{path}: expected a list, got {value!r}.")
    return [text(item, f"{path}[{i}]") for i, item in enumerate(value)]


def amounts(value: Any, path: str) -> list[Decimal]:
    if not isinstance(value, list):
        raise PayloadError(f"{path}: expected a list, got {value!r}.")
    return [amount(item, f"{path}[{i}]") for i, item in enumerate(value)]


def mapping(value: Any, path: str) -> dict:
    if isinstance(value, dict):
        return value
    raise PayloadError(f"{path}: expected an object, got {value!r}.")


_EMPTY = {text: "", texts: [], amounts: [], mapping: {}}

Spec = dict[str, tuple[str, Callable[[Any, str], Any]]]


def read(obj: dict[str, Any], spec: Spec, path: str, model: type[models.Model]) -> dict[str, Any]:
    """Our field name -> value, read from Nectar's camelCase keys with the spec's readers; each
    text checked against its field of `model` (ValueTooLong names it as the event does)."""
    values = {}
    for field, (key, reader) in spec.items():
        value = obj.get(key)
        values[field] = _EMPTY.get(reader) if value is None else reader(value, f"{path}.{key}")
    return fitting(model, values, {field: f"{path}.{key}" for field, (key, _) in spec.items()})


def fitting(
    model: type[models.Model], values: dict[str, Any], names: dict[str, str]
) -> dict[str, Any]:
    """The values, once each text fits its field of `model` (`names`: field -> where it is in
    the event, for the message)."""
    values_fit(model, values, names=names)
    return values
