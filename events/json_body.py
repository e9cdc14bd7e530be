"""A webhook body read as JSON that PostgreSQL's jsonb can hold, or refused with the reason.

Python's json reads more than JSON (NaN, Infinity, 5000-digit numbers) and jsonb stores less
(no NUL character, no lone surrogate): what falls between is refused here, before storing.
"""

import json
import math
from typing import Any

from events.sources.base import InvalidEnvelope


def parse_json(body: bytes) -> Any:
    """The document a body holds, or InvalidEnvelope saying why it cannot be stored."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidEnvelope(
            f"The body is not UTF-8 ({error.reason} at byte {error.start})."
        ) from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise InvalidEnvelope(f"The body is not JSON: {error}.") from None
    except ValueError as error:  # NaN, Infinity, or a number Python will not read
        raise InvalidEnvelope(f"The body holds a number that cannot be stored: {error}.") from None
    except RecursionError:
        raise InvalidEnvelope(_TOO_DEEP) from None
    if _deeper_than(document, MAX_JSON_DEPTH):
        raise InvalidEnvelope(_TOO_DEEP)
    # PostgreSQL's jsonb refuses NUL characters and lone surrogates; JSON allows both.
    if "\\u0000" in text:
        raise InvalidEnvelope("The body contains a \\u0000 character, which cannot be stored.")
    if "\\ud" in text.lower():
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEnvelope("The body contains an unpaired UTF-16 surrogate.") from None
    return document


# Deeper documents are refused: redacting and storing one recurses through it.
MAX_JSON_DEPTH = 100
_TOO_DEEP = f"The body is nested more than {MAX_JSON_DEPTH} levels deep."


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError("a number is too large")
    return number


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels, counted without recursion."""
    level = [document]
    for _ in range(limit):
        level = [
            child
            for value in level
            if isinstance(value, dict | list)
            for child in (value.values() if isinstance(value, dict) else value)
        ]
        if not level:
            return False
    return any(isinstance(value, dict | list) for value in level)
