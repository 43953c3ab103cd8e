"""Dify's encryption of knowledge-retrieval ``dataset_ids`` in exported files: AES-CBC with the SHA-256 of
the workspace id as key and its first 16 bytes as IV, PKCS7 padding, base64. Only the exporting workspace
can read them back; an import elsewhere drops them, as Dify does."""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def _cipher(tenant_id: str) -> Cipher:
    key = hashlib.sha256(str(tenant_id).encode()).digest()
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt_dataset_id(dataset_id: str, tenant_id: str) -> str:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(str(dataset_id).encode()) + padder.finalize()
    encryptor = _cipher(tenant_id).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def decrypt_dataset_id(value: str, tenant_id: str) -> str | None:
    """The plain id, or None when ``value`` was not encrypted for this workspace."""
    try:
        raw = base64.b64decode(value, validate=True)
        decryptor = _cipher(tenant_id).decryptor()
        padded = decryptor.update(raw) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
