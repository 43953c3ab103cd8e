"""Load balancing across several credentials of one model, as Dify's LBModelManager does.

Round robin over the pool's members; a member that fails with a rate limit cools down 60 s, with an auth
or connection error 10 s (Dify's numbers), and is skipped meanwhile; when every member is cooling down the
call fails with `AllCredentialsCoolingDownError`. State lives behind `CooldownStore`: the in-memory store
serves one process (the embedded mode); `RedisCooldownStore` (`redis_cooldown.py`: INCR for the index,
keys with a TTL for cooldowns, as Dify does) serves the scaled mode without touching the balancer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from providers.runtime.errors import (
    AllCredentialsCoolingDownError,
    AuthenticationError,
    InvokeConnectionError,
    InvokeError,
    RateLimitError,
)


@dataclass(slots=True, frozen=True)
class PooledCredential:
    """One credential of a pool; `id` is stable (e.g. the load-balancing config row's id)."""

    id: str
    credentials: Mapping[str, Any] = field(repr=False)


@dataclass(slots=True, frozen=True)
class CredentialPool:
    """Credentials to balance one model's calls across. `key` scopes round-robin and cooldown state,
    typically `tenant:provider:model_type:model`."""

    key: str
    members: tuple[PooledCredential, ...]

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a credential pool needs at least one member")


class CooldownStore(Protocol):
    async def next_index(self, key: str) -> int:
        """Increment and return the round-robin counter of `key`."""
        ...

    async def cool_down(self, key: str, member_id: str, seconds: float) -> None: ...

    async def is_cooling_down(self, key: str, member_id: str) -> bool: ...


class InMemoryCooldownStore:
    """Process-local state. `clock` is injectable so tests and simulations can move time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counters: dict[str, int] = {}
        self._cooldowns: dict[tuple[str, str], float] = {}

    async def next_index(self, key: str) -> int:
        # No await between read and write: atomic within one event loop even without the lock.
        value = self._counters.get(key, 0) + 1
        self._counters[key] = value if value < 10_000_000 else 0
        return value

    async def cool_down(self, key: str, member_id: str, seconds: float) -> None:
        self._cooldowns[(key, member_id)] = self._clock() + seconds

    async def is_cooling_down(self, key: str, member_id: str) -> bool:
        until = self._cooldowns.get((key, member_id))
        if until is None:
            return False
        if self._clock() >= until:
            del self._cooldowns[(key, member_id)]
            return False
        return True


class LoadBalancer:
    def __init__(
        self,
        store: CooldownStore | None = None,
        *,
        rate_limit_cooldown: float = 60.0,
        auth_cooldown: float = 10.0,
        connection_cooldown: float = 10.0,
    ) -> None:
        self.store: CooldownStore = store or InMemoryCooldownStore()
        self.rate_limit_cooldown = rate_limit_cooldown
        self.auth_cooldown = auth_cooldown
        self.connection_cooldown = connection_cooldown

    async def pick(self, pool: CredentialPool, *, exclude: Sequence[str] = ()) -> PooledCredential:
        """The next member in round-robin order that is not cooling down (nor in `exclude`)."""
        members = pool.members
        start = await self.store.next_index(pool.key)
        for offset in range(len(members)):
            member = members[(start - 1 + offset) % len(members)]
            if member.id in exclude:
                continue
            if not await self.store.is_cooling_down(pool.key, member.id):
                return member
        raise AllCredentialsCoolingDownError(
            f"All {len(members)} credentials of this model are cooling down after errors; try again shortly."
        )

    def cooldown_for(self, error: InvokeError) -> float | None:
        if isinstance(error, RateLimitError):
            return self.rate_limit_cooldown
        if isinstance(error, AuthenticationError):
            return self.auth_cooldown
        if isinstance(error, InvokeConnectionError):
            return self.connection_cooldown
        return None

    async def report_failure(
        self, pool: CredentialPool, member: PooledCredential, error: InvokeError
    ) -> bool:
        """Cool the member down if the error calls for it; True when it did (the call may move on)."""
        seconds = self.cooldown_for(error)
        if seconds is None:
            return False
        await self.store.cool_down(pool.key, member.id, seconds)
        return True
