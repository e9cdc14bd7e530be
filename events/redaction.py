"""Secrets are taken out of what a platform sends before anything is stored or shown.

Openvolt's `api_keys.rotated` carries the account's new `live_api_key` in clear; only its last
four characters may be kept. Signature and credential headers are dropped from receipts.
"""

import re
from typing import Any

SECRET_FIELDS = frozenset({"live_api_key", "test_api_key", "api_key", "password", "secret"})
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "svix-signature",
        "webhook-signature",
    }
)
REDACTED = "[redacted]"
_MASK = "****"
_SECRET_IN_TEXT = re.compile(
    # A body cut off inside the value has no closing quote: mask up to its end.
    r'("(?:' + "|".join(sorted(SECRET_FIELDS)) + r')"\s*:\s*")((?:[^"\\]|\\.)*)("|\\?\Z)'
)


def mask(value: Any) -> str:
    """`****` and the last four characters of a secret string (nothing of a short one)."""
    if isinstance(value, str) and len(value) >= 12:
        return _MASK + value[-4:]
    return REDACTED


def last_four(masked: str) -> str:
    """The last four characters kept by `mask`, or '' when none were kept."""
    return masked[-4:] if masked.startswith(_MASK) else ""


def redact_document(document: Any) -> Any:
    """A copy of a parsed JSON document with every secret field masked, at any depth."""
    if isinstance(document, dict):
        return {
            key: mask(value) if key in SECRET_FIELDS and value else redact_document(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [redact_document(item) for item in document]
    if isinstance(document, str):
        # An Openvolt payload may be a string, and may hold a JSON document in it.
        return redact_text(document)
    return document


def redact_text(text: str) -> str:
    """Mask secret fields in a body that could not be parsed as JSON."""
    return _SECRET_IN_TEXT.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: REDACTED if name.lower() in SECRET_HEADERS else value
        for name, value in headers.items()
    }
