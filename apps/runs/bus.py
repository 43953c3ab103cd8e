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
from redis import exceptions as redis_errors

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
    """Copies a channel to a Redis Stream in batches, off the publishing path.

    Redis going away does not lose events: a batch that fails stays pending and is retried with backoff
    for RUN_EVENTS_REDIS_RETRY_SECONDS. A Redis that comes back empty (restarted, nothing kept) gets the
    whole stream again, aliases included, so followers elsewhere and later re-attaches still see every
    event. Only after that window does the mirror give up (the run itself goes on: local readers never
    depend on Redis)."""

    def __init__(self, stream_key: str, alias_keys: list[str], channel: RunChannel) -> None:
        self.stream_key = stream_key
        self.alias_keys = alias_keys
        self.channel = channel
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

    def _resend_everything(self) -> None:
        """After Redis lost the stream: everything published so far, then the end if it was reached."""
        ended = any(event is None for _, event in self.pending)
        self.pending = [(seq, event) for seq, event in enumerate(self.channel.events, start=1)]
        if ended:
            self.pending.append((len(self.channel.events) + 1, None))

    async def _run(self) -> None:
        client = redis_for_loop()
        ttl = settings.RUN_EVENTS_TTL
        written_once = (
            False  # whether Redis has had our stream: if it is missing after an outage, it was lost
        )
        aliases_written = False
        failing_since: float | None = None
        attempt = 0
        while True:
            if aliases_written and not self.pending and not self._done:
                await self._wake.wait()
            self._wake.clear()
            batch: list[tuple[int, dict[str, Any] | None]] = []
            try:
                if failing_since is not None and written_once and not await client.exists(self.stream_key):
                    # Redis restarted empty: what was written before is gone, so write it all again.
                    logger.warning("Redis lost run stream %s; writing it again", self.stream_key)
                    self._resend_everything()
                batch = list(self.pending)
                async with client.pipeline(transaction=False) as pipe:
                    if not aliases_written:
                        for alias in self.alias_keys:
                            pipe.set(alias, self.stream_key, ex=ttl)
                    for seq, event in batch:
                        fields = {"s": seq, "d": json.dumps(event, default=str) if event else END_MARKER}
                        pipe.xadd(self.stream_key, fields)
                    pipe.expire(self.stream_key, ttl)
                    await pipe.execute()
            except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
                now = time.monotonic()
                failing_since = failing_since or now
                aliases_written = False  # a Redis that comes back may have lost them
                if now - failing_since > settings.RUN_EVENTS_REDIS_RETRY_SECONDS:
                    logger.error(
                        "giving up mirroring run events to %s: Redis unreachable (%r)", self.stream_key, exc
                    )
                    return
                if attempt == 0:
                    logger.warning(
                        "mirroring run events to %s: Redis unreachable, retrying (%r)", self.stream_key, exc
                    )
                attempt += 1
                await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
                continue
            except Exception:  # a broken mirror must not break the run; local readers still work
                logger.exception("mirroring run events to %s failed", self.stream_key)
                del self.pending[: len(batch)]
            else:
                del self.pending[: len(batch)]
                written_once = written_once or bool(batch)
                aliases_written = True
                failing_since, attempt = None, 0
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
            redis_mirror = _RedisMirror(self.stream_key(keys[0]), [self.alias_key(k) for k in keys], channel)
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
        """Follow a stream another process writes. Each event once and in order: a mirror that rewrites a
        stream Redis lost sends events again, and those already seen are skipped. Redis unreachable for
        longer than RUN_EVENTS_REDIS_RETRY_SECONDS, or events lost for good (a gap in the sequence), end
        the follow with an ``error`` event, never a hang."""
        client = redis_for_loop()
        last_id = "0-0"
        seen = after
        idle_since = time.monotonic()
        failing_since: float | None = None
        while True:
            try:
                response = await client.xread({stream: last_id}, count=500, block=block_ms)
            except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > settings.RUN_EVENTS_REDIS_RETRY_SECONDS:
                    logger.error("following run stream %s: Redis unreachable, giving up (%r)", stream, exc)
                    yield seen + 1, _stream_lost_event("the event store (Redis) cannot be reached")
                    return
                await asyncio.sleep(0.2)
                continue
            failing_since = None
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
                    if seq <= seen:
                        continue
                    if seq > seen + 1:
                        yield seen + 1, _stream_lost_event("some of the run's events were lost")
                        return
                    seen = seq
                    yield seq, json.loads(data)


def _stream_lost_event(why: str) -> dict[str, Any]:
    """The ``error`` event a follower ends with when it can no longer give every event (Dify's shape)."""
    return {
        "event": "error",
        "status": 503,
        "code": "service_unavailable",
        "message": f"The run's event stream was interrupted: {why}. The run itself may still finish; "
        "its result is kept with the run.",
    }


_log = EventLog()


def event_log() -> EventLog:
    return _log
