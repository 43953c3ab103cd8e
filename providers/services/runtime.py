"""The process's `ModelRuntime` and the bridge from sync code (views, Celery tasks) to its async API.

One runtime per process: it holds the HTTP connection pools, the adapters and the load-balancing state,
all of which only pay off when reused. Tests may install their own (short timeouts, fast retries) with
`set_model_runtime`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx2
from django.conf import settings

from dify_project.outbound import ssrf_policy
from providers.runtime import HttpPool, InMemoryCooldownStore, LoadBalancer, ModelRuntime, Timeouts
from providers.services.cooldown import CacheCooldownStore

T = TypeVar("T")

_lock = threading.Lock()
_runtime: ModelRuntime | None = None


def _shared_cache() -> bool:
    backend = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))


def _build_runtime() -> ModelRuntime:
    # Load-balancing round robin and cooldowns must be shared by every process when there are several
    # (scaled mode, Redis): keep them in the cache there, as Dify does. One process: keep them in memory.
    store = CacheCooldownStore() if _shared_cache() else InMemoryCooldownStore()
    # Every open stream holds one upstream connection: the pool bounds concurrent model calls per process.
    limits = httpx2.Limits(
        max_connections=settings.MODEL_HTTP_MAX_CONNECTIONS,
        max_keepalive_connections=settings.MODEL_HTTP_MAX_KEEPALIVE,
        keepalive_expiry=30.0,
    )
    timeouts = Timeouts()
    return ModelRuntime(
        balancer=LoadBalancer(store),
        timeouts=timeouts,
        http=HttpPool(limits=limits, timeouts=timeouts, policy=ssrf_policy),  # endpoint_url is user-given
    )


def model_runtime() -> ModelRuntime:
    """The process's runtime, built on first use."""
    global _runtime
    runtime = _runtime
    if runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = _build_runtime()
            runtime = _runtime
    return runtime


def set_model_runtime(runtime: ModelRuntime | None) -> None:
    """Install a runtime (tests: short timeouts and fast retries), or None to build the default again."""
    global _runtime
    with _lock:
        _runtime = runtime


def run_sync(call: Callable[[ModelRuntime], Awaitable[T]]) -> T:
    """Run `call(runtime)` from sync code (a DRF view, a management command) on a private event loop.

    For configuration-time calls only (validating credentials): the loop lives for this one call, so its
    HTTP connections are closed before it ends. Never call it from inside a running event loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # pragma: no cover - a programming error, not a user error
        raise RuntimeError("run_sync() called from async code; await the runtime directly instead")
    runtime = model_runtime()

    async def main() -> Any:
        try:
            return await call(runtime)
        finally:
            await runtime.http.aclose()

    # A private loop rather than asyncio.run(): it leaves the thread's current-loop setting alone.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def cooling_down(key: str, member_ids: list[str]) -> list[bool]:
    """Which members of the pool `key` are cooling down, from sync code (the console)."""
    store = model_runtime().balancer.store
    if isinstance(store, CacheCooldownStore):
        return store.cooling_down_now(key, member_ids)

    async def read(runtime: object) -> list[bool]:  # the in-memory store: no I/O, no thread hop
        return [await store.is_cooling_down(key, member_id) for member_id in member_ids]

    return run_sync(read)
