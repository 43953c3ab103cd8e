"""Load-balancing state in Redis, shared by every process of the scaled mode: a `CooldownStore`.

Keys are Dify's (`LBModelManager`):

    {prefix}:{pool key}                     the round-robin counter: INCR, kept an hour, reset at 10 million
    {prefix}:cooldown:{pool key}:{member}   exists while the member cools down; expires with the cooldown

With the default prefix and pool keys shaped `tenant:provider:model_type:model`, they are exactly the keys
Dify uses. No Django here: the caller passes a Redis URL (or its own `redis.asyncio` client).

Redis being unreachable must not stop model calls: by default the store then fails open (a local counter,
nothing cooling down) and logs a warning at most once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_RESET_AT = 10_000_000  # Dify resets the counter here rather than let it grow forever
_WARN_EVERY = 60.0


class RedisCooldownStore:
    """`RedisCooldownStore("redis://host:6379/0")`, or `RedisCooldownStore(client=...)` to share a client.

    Given a URL, the store opens one client per event loop: a `redis.asyncio` connection belongs to the
    loop that opened it, and a process may run several loops over its life (a worker's, and the short
    private loops of configuration-time calls). `aclose()` closes the running loop's client. A client
    passed in is used as it is, on the caller's loop, and left open."""

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        prefix: str = "model_lb_index",
        index_ttl: int = 3600,
        fail_open: bool = True,
        timeout: float = 1.0,
    ) -> None:
        if (url is None) == (client is None):
            raise ValueError("RedisCooldownStore needs either a Redis URL or a client, not both")
        self.prefix = prefix
        self.index_ttl = index_ttl
        self.fail_open = fail_open
        self._url = url
        self._given = client
        self._timeout = timeout
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._local_counters: dict[str, int] = {}
        self._warned_at = -_WARN_EVERY

    # --- keys and clients --------------------------------------------------------------------------------

    def index_key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def cooldown_key(self, key: str, member_id: str) -> str:
        return f"{self.prefix}:cooldown:{key}:{member_id}"

    def client(self) -> aioredis.Redis:
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # Short timeouts: a slow Redis must not hold up every model call behind it.
            client = aioredis.Redis.from_url(
                self._url or "",
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                health_check_interval=30,
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the running loop's client (one the store opened itself)."""
        if self._given is not None:
            return
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def _unavailable(self, error: Exception) -> None:
        if not self.fail_open:
            raise error
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            logger.warning(
                "Redis is unavailable for load-balancing state (%s: %s); balancing per process meanwhile",
                type(error).__name__,
                error,
            )

    # --- the CooldownStore protocol ----------------------------------------------------------------------

    async def next_index(self, key: str) -> int:
        name = self.index_key(key)
        try:
            client = self.client()
            async with client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, self.index_ttl)
                value, _ = await pipe.execute()
            if int(value) >= _RESET_AT:
                await client.set(name, 0, ex=self.index_ttl)
            return int(value)
        except (RedisError, OSError) as error:
            self._unavailable(error)
            value = self._local_counters.get(key, 0) + 1
            self._local_counters[key] = value % _RESET_AT
            return value

    async def cool_down(self, key: str, member_id: str, seconds: float) -> None:
        try:
            # Milliseconds: a cooldown of 0.5 s stays 0.5 s rather than rounding to 0 or 1.
            await self.client().set(self.cooldown_key(key, member_id), 1, px=max(1, round(seconds * 1000)))
        except (RedisError, OSError) as error:
            self._unavailable(error)

    async def is_cooling_down(self, key: str, member_id: str) -> bool:
        try:
            return bool(await self.client().exists(self.cooldown_key(key, member_id)))
        except (RedisError, OSError) as error:
            self._unavailable(error)
            return False
