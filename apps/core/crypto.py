"""Symmetric encryption of secrets at rest (endpoint credentials), with key rotation.

``settings.FIELD_ENCRYPTION_KEY`` holds one Fernet key or several, comma-separated.
The first key encrypts; every key decrypts, so a new key is put first and the old
ones kept until :func:`rotate` has re-encrypted what they protect
(``manage.py rotate_secrets`` does it for every stored secret).

A stored secret lives in a model field whose name ends in ``_encrypted``: that is
how ``rotate_secrets`` finds them all (:func:`encrypted_fields`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

__all__ = [
    "DecryptionError",
    "decrypt",
    "encrypt",
    "encrypted_fields",
    "is_current",
    "rotate",
]

ENCRYPTED_SUFFIX = "_encrypted"


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


def is_current(ciphertext: str) -> bool:
    """Whether ``ciphertext`` is already encrypted under the first configured key."""
    try:
        _fernets(settings.FIELD_ENCRYPTION_KEY)[0].decrypt(ciphertext.encode())
    except (InvalidToken, ValueError):
        return False
    return True


def encrypted_fields() -> Iterator[tuple[type[Model], str]]:
    """Every ``(model, field name)`` of the installed apps that holds a secret."""
    for model in django_apps.get_models():
        for field in model._meta.concrete_fields:
            if field.name.endswith(ENCRYPTED_SUFFIX):
                yield model, field.name


@functools.lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet(_fernets(keys))


@functools.lru_cache(maxsize=4)
def _fernets(keys: str) -> list[Fernet]:
    parts = [key.strip() for key in keys.split(",") if key.strip()]
    if not parts:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty.")
    try:
        return [Fernet(key) for key in parts]
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), "
            "comma-separated."
        ) from None
