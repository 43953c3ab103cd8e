"""Signed, expiring URLs for tool files (Dify's ``sign_tool_file`` / ``verify_tool_file_signature``).

A tool file is served at ``/files/tools/<id><.ext>?timestamp=&nonce=&sign=`` without a login: the URL is
the credential. ``sign`` is the URL-safe base64 HMAC-SHA256, keyed with ``SECRET_KEY``, of
``file-preview|<id>|<timestamp>|<nonce>`` (Dify's scheme, so URLs Dify would accept are accepted here);
a URL is good for ``FILES_ACCESS_TIMEOUT`` seconds (Dify's default, 300) after it was signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time

from django.conf import settings

DEFAULT_ACCESS_TIMEOUT = 300  # seconds; Dify's FILES_ACCESS_TIMEOUT


def _signature(file_id: str, timestamp: str, nonce: str) -> str:
    message = f"file-preview|{file_id}|{timestamp}|{nonce}".encode()
    digest = hmac.new(str(settings.SECRET_KEY or "").encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def tool_file_path(*, tool_file_id: str, extension: str) -> str:
    """The unsigned path of a tool file (what a ``MessageFile`` row keeps as its ``url``)."""
    extension = extension if not extension or extension.startswith(".") else f".{extension}"
    return f"/files/tools/{tool_file_id}{extension}"


def sign_tool_file(*, tool_file_id: str, extension: str, now: float | None = None) -> str:
    """A URL to the file, good for ``FILES_ACCESS_TIMEOUT`` seconds. Relative unless ``FILES_URL`` is set."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = os.urandom(16).hex()
    sign = _signature(str(tool_file_id), timestamp, nonce)
    base = str(getattr(settings, "FILES_URL", "") or "").rstrip("/")
    path = tool_file_path(tool_file_id=str(tool_file_id), extension=extension)
    return f"{base}{path}?timestamp={timestamp}&nonce={nonce}&sign={sign}"


def verify_tool_file(
    *, file_id: str, timestamp: str, nonce: str, sign: str, now: float | None = None
) -> bool:
    """True for a signature made with our key within the access timeout; never raises."""
    try:
        signed_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    expected = _signature(str(file_id), str(timestamp), str(nonce))
    if not hmac.compare_digest(expected.encode(), str(sign).encode()):
        return False
    timeout = int(getattr(settings, "FILES_ACCESS_TIMEOUT", DEFAULT_ACCESS_TIMEOUT))
    return (time.time() if now is None else now) - signed_at <= timeout


def sign_tool_file_path(path: str) -> str:
    """A signed URL for a stored ``/files/tools/<id><.ext>`` path (a ``MessageFile`` row's ``url``); any
    other URL is answered as it is."""
    prefix = "/files/tools/"
    if not path.startswith(prefix):
        return path
    name = path[len(prefix) :]
    tool_file_id, dot, extension = name.partition(".")
    return sign_tool_file(tool_file_id=tool_file_id, extension=f"{dot}{extension}")
