"""What PostgreSQL will store of whatever a sender sent: text without the characters its
text and jsonb refuse, a body as text with its secrets masked, an address its inet takes."""

import ipaddress

from events.redaction import redact_text


def storable(text: str) -> str:
    """`text` without what PostgreSQL's text and jsonb refuse: NUL and lone surrogates."""
    text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def body_as_text(body: bytes) -> str:
    """A body as text that PostgreSQL stores, whatever its bytes, with secrets masked."""
    return redact_text(storable(body.decode("utf-8", errors="backslashreplace")))


def is_ip_address(address: str | None) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return "%" not in address  # a zoned IPv6 address, which PostgreSQL's inet refuses
