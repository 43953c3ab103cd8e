"""Named, non-blocking locks that hold across processes: for scheduled work that must not run twice at once.

Scaled mode: the shared cache (Redis), ``add`` with an expiry, so a lock outlives no crashed holder for
longer than its timeout. Embedded mode: the local-memory cache is per process, and Celery's prefork
children and beat are separate processes, so the lock is an ``flock`` on a file under ``var/locks`` (the
kernel drops it when the holder dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.cache import cache


def _shared_cache() -> bool:
    return not settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")


@contextlib.contextmanager
def named_lock(name: str, *, timeout: int = 3600) -> Iterator[bool]:
    """Try to take the lock ``name``; yields True when held (released on exit), False when another holds it.

    Never waits: a second caller learns at once that the work is under way and skips it.
    """
    if _shared_cache():
        key = f"lock:{name}"
        token = secrets.token_hex(8)
        acquired = cache.add(key, token, timeout)
        try:
            yield acquired
        finally:
            # Only the holder releases (a lock that expired and was re-taken belongs to someone else).
            if acquired and cache.get(key) == token:
                cache.delete(key)
        return
    folder = Path(settings.VAR_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
