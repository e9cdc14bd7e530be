"""Secrets are taken out of what a platform sends before anything is stored or shown.

Openvolt's `api_keys.rotated` carries the account's new `live_api_key` in clear; only its last
four characters may be kept. Any field or header whose name is a secret's is masked the same
way, however the sender spells it: names are compared by their words, so `liveApiKey`,
`LIVE_API_KEY`, `live-api-key` and `X-Live-Api-Key` are all `live_api_key` (SECRET_NAMES is
the one list, for payload fields, receipt headers and bodies that are not JSON alike).

A string that holds a JSON document (Openvolt's `payload` may be one) is read and redacted as
a document; text that cannot be read as JSON is searched for `"name": "value"` pairs, with the
names' JSON escapes (`live\\u005fapi_key`) decoded first and JSON held in its strings searched
too.
"""

import functools
import json
import re
from typing import Any

# Written in snake_case; compared after `name_normalised`. A consent's `token` is not here:
# the consent handler keeps it out of the mirror itself (consents/services.py), and the
# stored delivery keeps it.
SECRET_NAMES = frozenset(
    {
        # Openvolt's account keys
        "live_api_key",
        "test_api_key",
        "api_key",
        # Credentials of any platform
        "password",
        "passwd",
        "passphrase",
        "secret",
        "secret_key",
        "private_key",
        "client_secret",
        "webhook_secret",
        "signing_secret",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "bearer_token",
        "session_token",
        # Headers of a request
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "svix_signature",
        "webhook_signature",
    }
)
# Its earlier name, when it listed payload fields only.
SECRET_FIELDS = SECRET_NAMES
REDACTED = "[redacted]"
_MASK = "****"
# A name's words: runs of capitals (an acronym, or a word in capitals), capitalised or lower
# case words, digits. Separators (`-`, `_`, spaces, dots) fall between them.
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Nested JSON held in strings is followed this many levels deep, no further.
_MAX_DEPTH = 200


def name_normalised(name: str) -> str:
    """A field or header name as its lower-case words run together, without the `X-` that
    custom headers were once given: `X-Auth-Token`, `authToken` and `AUTH_TOKEN` are all
    `authtoken`."""
    words = [word.lower() for word in _WORDS.findall(name)]
    if len(words) > 1 and words[0] == "x":
        words = words[1:]
    return "".join(words)


_SECRETS = frozenset(name_normalised(name) for name in SECRET_NAMES)


def is_secret_name(name: object) -> bool:
    return isinstance(name, str) and _is_secret(name)


@functools.lru_cache(maxsize=4096)
def _is_secret(name: str) -> bool:
    # Cached: a long body repeats the same few names.
    return name_normalised(name) in _SECRETS


def mask(value: Any) -> str:
    """`****` and the last four characters of a secret string (nothing of a short one)."""
    if isinstance(value, str) and len(value) >= 12:
        return _MASK + value[-4:]
    return REDACTED


def last_four(masked: str) -> str:
    """The last four characters kept by `mask`, or '' when none were kept."""
    return masked[-4:] if masked.startswith(_MASK) else ""


def redact_document(document: Any, _depth: int = 0) -> Any:
    """A copy of a parsed JSON document with every secret field masked, at any depth."""
    if _depth > _MAX_DEPTH:
        # Nothing this deep is read: redacted whole rather than searched.
        return REDACTED
    if isinstance(document, dict):
        depth = _depth + 1
        return {
            key: mask(value) if value and is_secret_name(key) else redact_document(value, depth)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [redact_document(item, _depth + 1) for item in document]
    if isinstance(document, str):
        # An Openvolt payload may be a string, and may hold a JSON document in it.
        return _redact_string(document, _depth)
    return document


def _redact_string(text: str, depth: int) -> str:
    """A string, redacted as the document it holds when it holds one, else as text; left as
    it was, byte for byte, when there was nothing to redact."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            held = json.loads(text)
        except (ValueError, RecursionError):
            held = None
        if isinstance(held, dict | list):
            redacted = redact_document(held, depth + 1)
            return text if redacted == held else _dumps(redacted)
    return redact_text(text, _depth=depth)


# A JSON string's contents; a body cut off inside one has no closing quote (and may end in
# half an escape).
_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)(?:"|\\?\Z)', re.DOTALL)
# Every string, and a colon after it when it is a field's name. Each match takes a whole
# string, cut off or not, so that the next one starts outside any: none is taken for another's
# inside, and no text is read twice.
_NAME = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)(?:"\s*(:)?|\\?\Z)', re.DOTALL)


def redact_text(text: str, *, _depth: int = 0) -> str:
    """Mask secret fields in a body that could not be parsed as JSON, and in the JSON its
    strings hold."""
    if _depth > _MAX_DEPTH or '"' not in text:
        return text
    # The names are gathered first: the text is then searched for the secret ones only,
    # which is quick however long the body is.
    names = frozenset(
        name
        for name, colon in set(_NAME.findall(text))
        if colon and is_secret_name(_unescaped(name))
    )
    if names:
        text = _secret_fields(names).sub(_field_masked, text)
    if "\\" in text:
        text = _held_documents_redacted(text, _depth)
    return text


@functools.lru_cache(maxsize=256)
def _secret_fields(names: frozenset[str]) -> re.Pattern:
    """`"name": "value"` or `"name": literal`, for these names (as spelt in the text)."""
    return re.compile(
        r'("(?:' + "|".join(re.escape(name) for name in sorted(names)) + r')"\s*:\s*)'
        r'(?:"([^"\\]*(?:\\.[^"\\]*)*)("|\\?\Z)|([^\s,:\]}"{\[]+))',
        re.DOTALL,
    )


def _field_masked(match: re.Match) -> str:
    head, value, close, literal = match.groups()
    if value is not None:
        return head + '"' + _escaped(mask(_unescaped(value))) + close
    if literal in ("null", "true", "false"):
        return match.group(0)
    return head + '"' + mask(literal) + '"'


def _held_documents_redacted(text: str, depth: int) -> str:
    """The text with the secrets of the JSON its strings hold masked. Its strings are read
    one after the other, so that none is taken for another's inside."""
    parts, done = [], 0
    for match in _STRING.finditer(text):
        raw = match.group(1)
        # A field in it needs a colon, and an escaped quote (`\\"` or `\\u0022`) around its name.
        if ":" not in raw or "\\" not in raw:
            continue
        redacted = _held_redacted(raw, depth)
        if redacted != raw:
            parts += [text[done : match.start(1)], redacted]
            done = match.end(1)
    return "".join([*parts, text[done:]]) if parts else text


def _held_redacted(raw: str, depth: int) -> str:
    """A JSON string's raw contents, with the secrets of any JSON it holds masked."""
    text = _unescaped(raw)
    if '"' not in text:
        return raw
    redacted = _redact_string(text, depth + 1)
    return raw if redacted == text else _escaped(redacted)


def _unescaped(raw: str) -> str:
    """A JSON string's contents as the text they stand for, read leniently when they are not
    quite JSON (cut off inside an escape, or with an escape JSON does not have)."""
    if "\\" not in raw:
        return raw
    try:
        return json.loads('"' + raw + '"')
    except ValueError:
        text = _ESCAPE.sub(_unescaped_one, raw)
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.)|\Z)", re.DOTALL)
_ESCAPED_CHARACTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescaped_one(match: re.Match) -> str:
    if match.group(1):
        return chr(int(match.group(1), 16))
    character = match.group(2) or ""
    return _ESCAPED_CHARACTERS.get(character, character)


def _escaped(text: str) -> str:
    """Text as a JSON string's raw contents."""
    if _NOTHING_TO_ESCAPE.fullmatch(text):
        return text
    return _dumps(text)[1:-1]


# Printable ASCII but the quote and the backslash.
_NOTHING_TO_ESCAPE = re.compile(r"[ !#-\[\]-~]*")


def _dumps(value: Any) -> str:
    """JSON text of a value, non-ASCII characters as they are unless one cannot be stored
    (a lone surrogate that a `\\ud800` escape made): then all of them escaped."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: REDACTED if is_secret_name(name) else value for name, value in headers.items()}
