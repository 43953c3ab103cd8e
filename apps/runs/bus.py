"""Per-run event streams: what a run publishes, any reader can follow, from any event id.

Embedded mode: an in-process channel per run (a list plus a wake-up), read by the SSE response of the
request that started it, by WebSocket consumers and by the re-attach endpoint, all in this process.

Scaled mode (``REDIS_URL``): the same in-process channel, mirrored to a Redis Stream per run by a
background task that batches ``XADD``s, so the engine never waits on Redis. Readers in other processes
(or the web process, when the run executes in a Celery worker) follow the Redis Stream.

Every event carries its sequence number (1, 2, ...) so a reader can resume "after N" wherever the run
executes. A finished run's stream is kept for ``RUN_EVENTS_TTL`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings

from apps.runs.redis_client import redis_for_loop

logger = logging.getLogger(__name__)

END_MARKER = "__end__"


class RunChannel:
    """The events of one run in this process. Publishing never blocks; readers wait on a wake-up."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.events: list[dict[str, Any]] = []
        self.closed = False
        self._changed = asyncio.Event()
        self.closed_at: float | None = None

    def publish(self, event: dict[str, Any]) -> int:
        self.events.append(event)
        self._changed.set()
        return len(self.events)

    def close(self) -> None:
        self.closed = True
        self.closed_at = time.monotonic()
        self._changed.set()

    async def follow(self, after: int = 0) -> AsyncIterator[tuple[int, dict[str, Any]]]:
        """Yield (sequence, event) from ``after + 1`` on, until the run closes."""
        position = max(after, 0)
        while True:
            while position < len(self.events):
                position += 1
                yield position, self.events[position - 1]
            if self.closed:
                return
            self._changed.clear()
            if position < len(self.events) or self.closed:
                continue
            await self._changed.wait()


class _RedisMirror:
    """Copies a channel to a Redis Stream in batches, off the publishing path."""

    def __init__(self, stream_key: str, alias_keys: list[str]) -> None:
        self.stream_key = stream_key
        self.alias_keys = alias_keys
        self.pending: list[tuple[int, dict[str, Any] | None]] = []
        self._wake = asyncio.Event()
        self._done = False
        self.task = asyncio.get_running_loop().create_task(self._run())

    def push(self, seq: int, event: dict[str, Any] | None) -> None:
        self.pending.append((seq, event))
        self._wake.set()

    def finish(self) -> None:
        self._done = True
        self._wake.set()

    async def _run(self) -> None:
        client = redis_for_loop()
        ttl = settings.RUN_EVENTS_TTL
        for alias in self.alias_keys:
            await client.set(alias, self.stream_key, ex=ttl)
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self.pending = self.pending, []
            if batch:
                try:
                    async with client.pipeline(transaction=False) as pipe:
                        for seq, event in batch:
                            fields = {"s": seq, "d": json.dumps(event, default=str) if event else END_MARKER}
                            pipe.xadd(self.stream_key, fields)
                        pipe.expire(self.stream_key, ttl)
                        await pipe.execute()
                except Exception:  # a broken mirror must not break the run; local readers still work
                    logger.exception("mirroring run events to %s failed", self.stream_key)
            if self._done and not self.pending:
                return


class RunWriter:
    """The publishing side handed to a runner."""

    def __init__(self, log: EventLog, channel: RunChannel, mirror: _RedisMirror | None) -> None:
        self._log = log
        self.channel = channel
        self._mirror = mirror

    def publish(self, event: dict[str, Any]) -> int:
        seq = self.channel.publish(event)
        if self._mirror is not None:
            self._mirror.push(seq, event)
        return seq

    async def close(self) -> None:
        self.channel.close()
        if self._mirror is not None:
            self._mirror.push(len(self.channel.events) + 1, None)
            self._mirror.finish()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._mirror.task)
        self._log.forget_later(self.channel)


class EventLog:
    """The process-wide registry of run channels (and their Redis mirrors in the scaled mode)."""

    def __init__(self) -> None:
        self._channels: dict[str, RunChannel] = {}

    @staticmethod
    def _use_redis() -> bool:
        return bool(settings.REDIS_URL)

    @staticmethod
    def stream_key(key: str) -> str:
        return f"{settings.REDIS_KEY_PREFIX}:run:{key}:events"

    @staticmethod
    def alias_key(key: str) -> str:
        return f"{settings.REDIS_KEY_PREFIX}:run:alias:{key}"

    def open(self, keys: list[str], *, mirror: bool = True) -> RunWriter:
        """A new run known by each of ``keys`` (task id, workflow run id, message id).

        ``mirror=False`` for a relay of a run that another process already publishes to Redis.
        """
        channel = RunChannel(keys)
        for key in keys:
            self._channels[key] = channel
        redis_mirror = None
        if mirror and self._use_redis():
            redis_mirror = _RedisMirror(self.stream_key(keys[0]), [self.alias_key(k) for k in keys])
        return RunWriter(self, channel, redis_mirror)

    def local(self, key: str) -> RunChannel | None:
        return self._channels.get(key)

    def forget_later(self, channel: RunChannel) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(settings.RUN_EVENTS_TTL, self._forget, channel)

    def _forget(self, channel: RunChannel) -> None:
        for key in channel.keys:
            if self._channels.get(key) is channel:
                del self._channels[key]

    async def follow(
        self, key: str, after: int = 0, *, block_ms: int = 15_000, remote_only: bool = False
    ) -> AsyncIterator[tuple[int, dict[str, Any]]] | None:
        """Follow a run by any of its keys; None when no process knows it (finished long ago or never).

        ``remote_only`` skips this process's channels: a relay must read the worker's stream, not itself.
        """
        channel = None if remote_only else self._channels.get(key)
        if channel is not None:
            return channel.follow(after)
        if not self._use_redis():
            return None
        client = redis_for_loop()
        stream = await client.get(self.alias_key(key))
        if stream is None:
            return None
        return self._follow_redis(stream.decode() if isinstance(stream, bytes) else stream, after, block_ms)

    async def _follow_redis(
        self, stream: str, after: int, block_ms: int
    ) -> AsyncIterator[tuple[int, dict[str, Any]]]:
        client = redis_for_loop()
        last_id = "0-0"
        idle_since = time.monotonic()
        while True:
            response = await client.xread({stream: last_id}, count=500, block=block_ms)
            if not response:
                # The producer died without an end marker: give up after a while rather than hang forever.
                if time.monotonic() - idle_since > settings.RUN_EVENTS_TTL:
                    return
                continue
            idle_since = time.monotonic()
            for _, entries in response:
                for entry_id, fields in entries:
                    last_id = entry_id
                    seq = int(fields[b"s"])
                    data = fields[b"d"]
                    if data == END_MARKER.encode():
                        return
                    if seq > after:
                        yield seq, json.loads(data)


_log = EventLog()


def event_log() -> EventLog:
    return _log
