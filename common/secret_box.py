"""Secrets kept at rest, encrypted: Fernet (AES-128-CBC with an HMAC-SHA256 over it) under the
keys of SECRETS_ENCRYPTION_KEY. The first key encrypts; every key decrypts, so a key is rotated
by putting a new one first, re-encrypting what is stored, then dropping the old one.

Without SECRETS_ENCRYPTION_KEY, the key is derived from SECRET_KEY (HKDF-SHA256), so that a
development checkout needs no setting of its own; `manage.py check --deploy` warns of it, since
anyone holding SECRET_KEY then holds this key too, and changing SECRET_KEY loses the secrets.
"""

import base64
import functools
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Every Fernet token starts so: its version byte (0x80), then a timestamp below 2**32.
TOKEN_PREFIX = "gAAAAA"
_DERIVATION_INFO = b"switchboard: secrets encryption key, derived from SECRET_KEY"


class Undecryptable(Exception):
    """No key opens the token: it was written under a key since removed, or is damaged."""


@functools.lru_cache(maxsize=4)
def key_from_secret_key(secret_key: str) -> str:
    """The Fernet key used while SECRETS_ENCRYPTION_KEY is unset."""
    derivation = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DERIVATION_INFO)
    return base64.urlsafe_b64encode(derivation.derive(secret_key.encode())).decode()


def invalid_key_positions(keys: Sequence[str]) -> list[int]:
    """The positions (from 1) of the keys that are not Fernet keys, for a message that must
    not quote them."""
    invalid = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            invalid.append(position)
    return invalid


def encrypt(text: str) -> str:
    return _box(_keys()).encrypt(text.encode()).decode()


def decrypt(token: str, *, with_secret_key: bool = False) -> str:
    """The text of a token, or Undecryptable. `with_secret_key` also tries the key derived
    from SECRET_KEY, which SECRETS_ENCRYPTION_KEY replaces once set."""
    try:
        return _box(_keys(with_secret_key)).decrypt(token).decode()
    # A key that is not one (manage.py check refuses it) decrypts nothing either.
    except (InvalidToken, ImproperlyConfigured, ValueError, TypeError):
        raise Undecryptable("No key of SECRETS_ENCRYPTION_KEY decrypts this token.") from None


def reencrypt(token: str, *, with_secret_key: bool = False) -> str | None:
    """The token encrypted again under the first key, or None when it already is (or
    Undecryptable)."""
    keys = _keys()
    try:
        _box(keys[:1]).decrypt(token)
        return None
    except (InvalidToken, ValueError, TypeError):
        pass
    return encrypt(decrypt(token, with_secret_key=with_secret_key))


def _keys(with_secret_key: bool = False) -> tuple[str, ...]:
    derived = key_from_secret_key(settings.SECRET_KEY)
    configured = tuple(settings.SECRETS_ENCRYPTION_KEY)
    if not configured:
        return (derived,)
    return (*configured, derived) if with_secret_key else configured


@functools.lru_cache(maxsize=8)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "SECRETS_ENCRYPTION_KEY holds a key that is not a Fernet key (manage.py check "
            "says which)."
        ) from None
