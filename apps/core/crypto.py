"""Symmetric encryption of secrets at rest (endpoint credentials), with key rotation.

``settings.FIELD_ENCRYPTION_KEY`` holds one Fernet key or several, comma-separated.
The first key encrypts; every key decrypts, so a new key is put first and the old
ones kept until :func:`rotate` has re-encrypted what they protect.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["DecryptionError", "decrypt", "encrypt", "rotate"]


class DecryptionError(Exception):
    """A ciphertext none of the configured keys opens (wrong key or tampered)."""


def encrypt(plaintext: str) -> str:
    """Return ``plaintext`` encrypted with the first configured key, as text."""
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Return the plaintext of ``ciphertext``; raise :class:`DecryptionError`."""
    try:
        return (
            _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(ciphertext.encode()).decode()
        )
    except (InvalidToken, ValueError):
        raise DecryptionError("The stored secret cannot be decrypted.") from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt ``ciphertext`` under the first configured key."""
    try:
        return (
            _fernet(settings.FIELD_ENCRYPTION_KEY).rotate(ciphertext.encode()).decode()
        )
    except (InvalidToken, ValueError):
        raise DecryptionError("The stored secret cannot be decrypted.") from None


@functools.lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    parts = [key.strip() for key in keys.split(",") if key.strip()]
    if not parts:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty.")
    try:
        return MultiFernet([Fernet(key) for key in parts])
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), "
            "comma-separated."
        ) from None
