"""Load-balancing state in the Django cache (Redis in the scaled mode), shared by every process.

Same keys and lifetimes as Dify's `LBModelManager`: an INCR counter per model for the round robin
(`model_lb_index:{tenant}:{provider}:{type}:{model}`, reset at 10 million, kept an hour), and one key per
cooling-down credential whose expiry is the cooldown.
"""

from __future__ import annotations

from django.core.cache import cache

_INDEX_TTL = 3600
_RESET_AT = 10_000_000


class CacheCooldownStore:
    """A `providers.runtime.CooldownStore` on the Django cache."""

    def __init__(self, prefix: str = "model_lb_index") -> None:
        self.prefix = prefix

    def _index_key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _cooldown_key(self, key: str, member_id: str) -> str:
        return f"{self.prefix}:cooldown:{key}:{member_id}"

    async def next_index(self, key: str) -> int:
        index_key = self._index_key(key)
        await cache.aadd(index_key, 0, timeout=_INDEX_TTL)
        try:
            value = await cache.aincr(index_key)
        except ValueError:  # expired between add and incr
            await cache.aset(index_key, 1, timeout=_INDEX_TTL)
            value = 1
        if value >= _RESET_AT:
            await cache.aset(index_key, 0, timeout=_INDEX_TTL)
        return int(value)

    async def cool_down(self, key: str, member_id: str, seconds: float) -> None:
        await cache.aset(self._cooldown_key(key, member_id), 1, timeout=max(1, round(seconds)))

    async def is_cooling_down(self, key: str, member_id: str) -> bool:
        return await cache.aget(self._cooldown_key(key, member_id)) is not None

    def cooling_down_now(self, key: str, member_ids: list[str]) -> list[bool]:
        """Sync read for the console. Not through the async methods: a sync view under ASGI runs in the
        request's thread-sensitive executor, and `sync_to_async` from a loop started there would wait on
        that very thread."""
        keys = [self._cooldown_key(key, member_id) for member_id in member_ids]
        found = cache.get_many(keys)
        return [k in found for k in keys]
