"""In-process cache of what calls to a workspace's models use (credentials, pools, prices, defaults).

A hot path (a chat message, a workflow LLM node) must not query the database for credentials on every
call. Entries are keyed by workspace and model and invalidated by a per-workspace version number:

* every service that changes a workspace's provider configuration calls `provider_config_changed()`,
  which drops this process's entries and bumps the version in the Django cache, so other processes drop
  theirs (at once, and again when the transaction commits);
* a process checks the shared version at most once a second per entry, and reloads any entry older than
  `MAX_AGE` anyway. With the local-memory cache (embedded mode) the version is not shared between
  processes, so there MAX_AGE is short: a separate worker process picks up a change within seconds.

Decrypted credentials live only in this process's memory, never in the shared cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from dify_project.db import db_sync_to_async

T = TypeVar("T")

RECHECK_SECONDS = 1.0
_MAX_ENTRIES = 10_000


def _max_age() -> float:
    backend = settings.CACHES["default"]["BACKEND"]
    return 10.0 if backend.endswith(("LocMemCache", "DummyCache")) else 300.0


def _version_key(tenant_id: str) -> str:
    return f"providers:config_version:{tenant_id}"


@dataclass(slots=True)
class _Entry:
    value: Any
    generation: int
    version: Any
    loaded_at: float
    checked_at: float


_entries: dict[tuple[str, Hashable], _Entry] = {}
_generations: dict[str, int] = {}


def _bump(tenant_id: str) -> None:
    _generations[tenant_id] = _generations.get(tenant_id, 0) + 1
    for key in [k for k in _entries if k[0] == tenant_id]:
        _entries.pop(key, None)
    key = _version_key(tenant_id)
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=None)


def provider_config_changed(tenant_id: Any) -> None:
    """Call after changing anything a call depends on (credentials, custom models, settings, pools,
    prices, defaults). Invalidates at once, and again when the current transaction commits: a process
    that reloaded in between (still seeing the old rows) drops that entry then."""
    tenant = str(tenant_id)
    _bump(tenant)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump(tenant))


def clear() -> None:
    """Forget every entry (tests)."""
    _entries.clear()


async def cached(tenant_id: Any, key: Hashable, load: Callable[[], T]) -> T:
    """`load()` (sync, run off the event loop) once, then its value from memory until the workspace's
    configuration changes. Exceptions are not cached."""
    tenant = str(tenant_id)
    full_key = (tenant, key)
    now = time.monotonic()
    generation = _generations.get(tenant, 0)
    entry = _entries.get(full_key)
    if entry is not None and entry.generation == generation and now - entry.loaded_at < _max_age():
        if now - entry.checked_at < RECHECK_SECONDS:
            return entry.value
        version = await cache.aget(_version_key(tenant))
        if version == entry.version:
            entry.checked_at = now
            return entry.value
    else:
        version = await cache.aget(_version_key(tenant))
    value = await db_sync_to_async(load)()
    if len(_entries) >= _MAX_ENTRIES:
        _entries.clear()
    if _generations.get(tenant, 0) == generation:  # not changed while we were loading
        _entries[full_key] = _Entry(value, generation, version, now, now)
    return value
