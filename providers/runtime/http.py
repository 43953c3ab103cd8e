"""One HTTP connection pool per event loop, shared by every adapter and SDK client.

The official SDKs (openai, anthropic) run on `httpx2`, so the pool is an `httpx2.AsyncClient` and the
adapters without an SDK (Ollama, rerank) use the same one: keep-alive connections to a provider are
reused across calls, whichever adapter makes them. A client's connections belong to the loop that opened
them, hence one client per loop (a Django worker has one loop; each pytest-asyncio test has its own).

SDK client objects are cheap (~40 us) but not free, and a call would otherwise build one per request, so
they are cached per loop by (kind, base URL, credentials digest) in a small LRU.

Given a `netguard` policy, the pool's connections pass the SSRF guard (base URLs are user-configured).
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2

from netguard import PolicySource, guard_transport

T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class Timeouts:
    """Seconds. `read` bounds the wait for the first byte and then for each next piece of a stream."""

    connect: float = 10.0
    read: float = 120.0
    write: float = 30.0
    pool: float = 10.0

    def to_httpx(self) -> httpx2.Timeout:
        return httpx2.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


DEFAULT_LIMITS = httpx2.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0)


class _LoopState:
    __slots__ = ("client", "sdk_clients")

    def __init__(self, client: httpx2.AsyncClient) -> None:
        self.client = client
        self.sdk_clients: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


class HttpPool:
    def __init__(
        self,
        *,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        timeouts: Timeouts | None = None,
        sdk_cache_size: int = 128,
        policy: PolicySource | None = None,
    ) -> None:
        self._limits = limits
        self._policy = policy
        self._timeouts = timeouts or Timeouts()
        self._sdk_cache_size = sdk_cache_size
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None or state.client.is_closed:
            client = self._new_client()
            state = _LoopState(client)
            self._states[loop] = state
        return state

    def _new_client(self) -> httpx2.AsyncClient:
        timeout = self._timeouts.to_httpx()
        if self._policy is None:
            return httpx2.AsyncClient(limits=self._limits, timeout=timeout, follow_redirects=False)
        # Endpoints are user-configured (endpoint_url): every connection passes the SSRF guard.
        transport = guard_transport(
            httpx2.AsyncHTTPTransport(limits=self._limits, trust_env=False), self._policy
        )
        return httpx2.AsyncClient(
            transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
        )

    def client(self) -> httpx2.AsyncClient:
        """The shared client of the running loop."""
        return self._state().client

    def sdk_client(self, key: tuple[Any, ...], factory: Callable[[httpx2.AsyncClient], T]) -> T:
        """A cached SDK client for `key` on this loop, built by `factory(shared_http_client)`."""
        state = self._state()
        cached = state.sdk_clients.get(key)
        if cached is not None:
            state.sdk_clients.move_to_end(key)
            return cached
        created = factory(state.client)
        state.sdk_clients[key] = created
        if len(state.sdk_clients) > self._sdk_cache_size:
            state.sdk_clients.popitem(last=False)
        return created

    async def aclose(self) -> None:
        """Close the running loop's client (at worker shutdown, or at the end of a test)."""
        loop = asyncio.get_running_loop()
        state = self._states.pop(loop, None)
        if state is not None:
            state.sdk_clients.clear()
            await state.client.aclose()


def secret_digest(*values: Any) -> str:
    """A cache-key component for credentials that does not keep the secret itself in the key."""
    return hashlib.sha256("\x00".join("" if v is None else str(v) for v in values).encode()).hexdigest()
