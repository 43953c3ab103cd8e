"""Database work from async code: a bounded pool of threads that keep their connections.

``asgiref.sync_to_async`` runs sync code on a thread of the current request (under ASGI Django gives each
request its own) or on one process-wide thread. The first opens a database connection per request — on
PostgreSQL that is one connection per concurrent stream, Dify's own connection-exhaustion problem —, the
second serialises every query of the process. This pool bounds connections at ``DB_ASYNC_THREADS`` per
process and reuses them across requests, with Django's usual lifetime rules (``CONN_MAX_AGE``, health
checks) applied before each call as a request boundary would.

One exception: async code entered from sync code (``async_to_sync``, e.g. a sync view or test calling an
async service) runs its database work in that calling thread, as asgiref does, so it shares the caller's
connection and transaction instead of deadlocking on it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import AsyncToSync, sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

P = ParamSpec("P")
R = TypeVar("R")

_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.DB_ASYNC_THREADS, thread_name_prefix="db")
    return _executor


def close_pool() -> None:
    """Close every pool thread's database connections and stop the pool (tests, before the test database
    is dropped; a new pool starts on next use)."""
    global _executor
    executor, _executor = _executor, None
    if executor is None:
        return
    threads = len(getattr(executor, "_threads", ()))
    if threads:
        # One task per thread: each waits until all threads hold one, so none runs two.
        barrier = threading.Barrier(threads)

        def close_here() -> None:
            barrier.wait(timeout=10)
            connections.close_all()

        for future in [executor.submit(close_here) for _ in range(threads)]:
            future.result(timeout=15)
    executor.shutdown(wait=True)


def db_sync_to_async(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``sync_to_async`` for code that touches the database, run on the shared database pool."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        return function(*args, **kwargs)

    pooled = sync_to_async(call, thread_sensitive=False, executor=_pool())
    in_caller = sync_to_async(function, thread_sensitive=True)

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        # asgiref marks a sync thread waiting on this async code (async_to_sync) in `executors.current`.
        if getattr(AsyncToSync.executors, "current", None) is not None:
            return await in_caller(*args, **kwargs)
        return await pooled(*args, **kwargs)

    return run
