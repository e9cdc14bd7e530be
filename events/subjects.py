"""What a delivery is about, as exact search keys: the ids, meter numbers and e-mail addresses
its body names (and, once processed, those of the objects it changed).

Stored on the delivery in an indexed array, so that staff find every delivery about a meter,
customer or consent with one index lookup instead of a scan of a million payloads.
"""

from typing import Any

SUBJECT_KEYS = frozenset(
    {
        # Openvolt
        "id",
        "_id",
        "meter_id",
        "meter_number",
        "meter_numbers",
        "customer_id",
        "hosted_consent_id",
        "email",
        # Nectar
        "externalId",
        "publicId",
        "accountNumber",
        "invoiceId",
        "meterId",
        "accountId",
    }
)
MAX_SUBJECTS = 200
MAX_LENGTH = 255


def normalized(value: str) -> str:
    """The form a subject is stored and searched in: e-mail addresses are case-blind."""
    value = value.strip()
    return value.lower() if "@" in value else value


def subjects_of(document: Any) -> list[str]:
    """The search keys a parsed body names, in the order found, without repeats."""
    found: dict[str, None] = {}
    pending = [document]
    while pending and len(found) < MAX_SUBJECTS:
        value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key in SUBJECT_KEYS:
                    for text in item if isinstance(item, list) else [item]:
                        key_text = normalized(text) if isinstance(text, str) else ""
                        # Measured after normalising: lower() may lengthen a string
                        # ("İ" becomes two characters), and the column holds MAX_LENGTH.
                        if 0 < len(key_text) <= MAX_LENGTH:
                            found[key_text] = None
                if isinstance(item, dict | list):
                    pending.append(item)
        elif isinstance(value, list):
            pending.extend(value)
    return list(found)[:MAX_SUBJECTS]
