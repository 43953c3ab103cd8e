"""Encryption of secrets at rest (provider keys, secret environment variables, tool credentials).

Fernet (AES-128-CBC + HMAC-SHA256) with a key list: values are encrypted with the first key and
decrypted with any, so a key is rotated by putting a new key first in SECRETS_ENCRYPTION_KEYS and
running ``manage.py rotate_secrets``. With no key configured one is derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

PREFIX = "enc:v1:"


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _derive_key(secret_key: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"dify-secrets-at-rest", info=b"fernet").derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    materials = [k.encode() for k in keys] or [_derive_key(secret_key)]
    return MultiFernet([Fernet(k) for k in materials])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.SECRETS_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(value: str) -> str:
    return PREFIX + _current().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    if not token.startswith(PREFIX):
        raise SecretDecryptionError("value is not an encrypted secret")
    try:
        return _current().decrypt(token[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError("no configured key decrypts this secret") from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (a no-op in meaning, a change in bytes)."""
    return PREFIX + _current().rotate(token[len(PREFIX) :].encode()).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()


def mask(secret: str | None) -> str | None:
    """Dify's obfuscation: enough to recognise a key, never enough to use it."""
    if not secret:
        return secret
    if len(secret) <= 8:
        return "*" * 20
    return secret[:6] + "*" * 12 + secret[-2:]


class EncryptedTextField(models.TextField):
    """A text column whose value is encrypted in the database and plain in Python."""

    def from_db_value(self, value: str | None, expression: object, connection: object) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: object) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
