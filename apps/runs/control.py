"""Stopping runs from any process, and the per-app limit on concurrent requests.

Stop: the process running a task keeps its stop handle here. ``request_stop`` calls it directly when the
task runs in this process; in the scaled mode it also sets a Redis flag that the running process's
watcher picks up within ``STOP_POLL_SECONDS``, whichever process (web or Celery worker) runs the task.

Concurrency: Dify's ``max_active_requests`` per app (429 ``too_many_requests`` beyond it), counted in a
Redis hash in the scaled mode (so the limit holds across processes) and in memory in the embedded mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from redis import exceptions as redis_errors

from apps import exceptions as errors
from apps.runs.redis_client import redis_for_loop

logger = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.25
STALE_REQUEST_SECONDS = 600  # Dify flushes active-request entries older than 10 minutes


@dataclass
class _LocalTask:
    stop: Callable[[str], None]
    user_key: str | None
    stopped: bool = False


@dataclass
class _Registry:
    tasks: dict[str, _LocalTask] = field(default_factory=dict)
    watcher: asyncio.Task | None = None


_registry = _Registry()


def _stop_key(task_id: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:run:stop:{task_id}"


def _task_key(app_id: str, task_id: str) -> str:
    # A task is known by its app and its id: a stop sent through another app (of this workspace or
    # another one) names a task that does not exist, and is ignored like any unknown task.
    return f"{app_id}:{task_id}"


def register_task(
    task_id: str, stop: Callable[[str], None], *, app_id: str, user_key: str | None = None
) -> None:
    """Make a running task of the app stoppable. ``user_key`` (the end user) must match on stop, as in Dify."""
    _registry.tasks[_task_key(app_id, task_id)] = _LocalTask(stop=stop, user_key=user_key)
    if settings.REDIS_URL and (_registry.watcher is None or _registry.watcher.done()):
        _registry.watcher = asyncio.get_running_loop().create_task(_watch_remote_stops())


def unregister_task(task_id: str, *, app_id: str) -> None:
    _registry.tasks.pop(_task_key(app_id, task_id), None)


async def request_stop(task_id: str, *, app_id: str, user_key: str | None = None) -> None:
    """Ask the app's task to stop, wherever it runs. Unknown or finished tasks, and tasks of other apps, are
    ignored (Dify answers success)."""
    key = _task_key(app_id, task_id)
    local = _registry.tasks.get(key)
    if local is not None:
        if local.user_key is None or user_key is None or local.user_key == user_key:
            _stop_local(key, local)
        return
    if settings.REDIS_URL:
        value = user_key or ""
        await redis_for_loop().set(_stop_key(key), value, ex=settings.RUN_EVENTS_TTL)


def _stop_local(task_id: str, task: _LocalTask) -> None:
    if not task.stopped:
        task.stopped = True
        task.stop("Stopped by user.")


async def _watch_remote_stops() -> None:
    """One watcher per process: polls the stop flags of all local tasks in one MGET."""
    client = redis_for_loop()
    while _registry.tasks:
        await asyncio.sleep(STOP_POLL_SECONDS)
        task_ids = [t for t, task in _registry.tasks.items() if not task.stopped]
        if not task_ids:
            continue
        try:
            flags = await client.mget([_stop_key(t) for t in task_ids])
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            # Redis restarting: stop requests wait for it (no traceback every poll while it is away).
            logger.warning("polling stop flags: Redis unreachable (%r)", exc)
            await asyncio.sleep(1.0)
            continue
        except Exception:
            logger.exception("polling stop flags failed")
            continue
        for task_id, flag in zip(task_ids, flags, strict=True):
            task = _registry.tasks.get(task_id)
            if flag is None or task is None:
                continue
            requested_by = flag.decode() if isinstance(flag, bytes) else str(flag)
            if not requested_by or task.user_key is None or requested_by == task.user_key:
                _stop_local(task_id, task)


# --- concurrency ------------------------------------------------------------------------------------


def max_active_requests(app_limit: int | None) -> int:
    """Dify's rule: the smallest non-zero of the app's limit (or the default) and the global cap; 0 = none."""
    limits = [app_limit or settings.APP_DEFAULT_ACTIVE_REQUESTS, settings.APP_MAX_ACTIVE_REQUESTS]
    positive = [limit for limit in limits if limit and limit > 0]
    return min(positive) if positive else 0


_local_active: dict[str, dict[str, float]] = {}


def _active_key(app_id: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:rate_limit:{app_id}:active_requests"


async def enter(app_id: str, app_limit: int | None) -> str | None:
    """Take a slot for one request; raises 429 when the app is at its limit. Returns the slot id."""
    limit = max_active_requests(app_limit)
    if limit <= 0:
        return None
    request_id = uuid.uuid4().hex
    now = time.time()
    if not settings.REDIS_URL:
        active = _local_active.setdefault(app_id, {})
        for key, started in list(active.items()):
            if now - started > STALE_REQUEST_SECONDS:
                del active[key]
        if len(active) >= limit:
            raise errors.AppInvokeQuotaExceeded()
        active[request_id] = now
        return request_id
    client = redis_for_loop()
    key = _active_key(app_id)
    entries = await client.hgetall(key)
    stale = [k for k, v in entries.items() if now - float(v) > STALE_REQUEST_SECONDS]
    if stale:
        await client.hdel(key, *stale)
    if len(entries) - len(stale) >= limit:
        raise errors.AppInvokeQuotaExceeded()
    await client.hset(key, request_id, now)
    await client.expire(key, STALE_REQUEST_SECONDS)
    return request_id


async def leave(app_id: str, request_id: str | None) -> None:
    if request_id is None:
        return
    if not settings.REDIS_URL:
        _local_active.get(app_id, {}).pop(request_id, None)
        return
    with contextlib.suppress(Exception):
        await redis_for_loop().hdel(_active_key(app_id), request_id)
