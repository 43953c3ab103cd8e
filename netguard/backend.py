"""Network backends that resolve a host once, check every address, and connect to a checked one.

They wrap the backend of an httpcore (or httpcore2) connection pool, so httpx keeps doing TLS with the
host name (SNI, certificate check) and sending the Host header, while the TCP connection goes to the
address that was checked: a second, different DNS answer (rebinding) is never asked for.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import anyio

from .policy import DestinationBlocked, Policy, PolicySource, current

_POOLS = ("ConnectionPool", "AsyncConnectionPool")


def vetted_addresses(policy: Policy, host: str, infos: Iterable[tuple[Any, ...]]) -> list[str]:
    """The addresses of a getaddrinfo answer, each checked; any refused one refuses the host."""
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0])
        policy.check_address(host, ipaddress.ip_address(text.split("%", 1)[0]))
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise DestinationBlocked(f"cannot resolve {host}")
    return addresses


class GuardedBackend:
    """httpcore's ``NetworkBackend`` (sync), guarded."""

    def __init__(self, inner: Any, policy: PolicySource) -> None:
        self._inner = inner
        self._policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, **options: Any) -> Any:
        policy = current(self._policy)
        if not policy.enabled:
            return self._inner.connect_tcp(host, port, timeout, **options)
        policy.check_name(host)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise DestinationBlocked(f"cannot resolve {host}: {error}") from error
        last: Exception | None = None
        for address in vetted_addresses(policy, host, infos):
            try:
                return self._inner.connect_tcp(address, port, timeout, **options)
            except Exception as failure:  # the next address, as a resolver-order client would
                last = failure
        raise last  # type: ignore[misc]

    def connect_unix_socket(self, path: str, timeout: float | None = None, **options: Any) -> Any:
        raise DestinationBlocked("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class AsyncGuardedBackend:
    """httpcore's ``AsyncNetworkBackend``, guarded; the host is resolved off the event loop."""

    def __init__(self, inner: Any, policy: PolicySource) -> None:
        self._inner = inner
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        **options: Any,
    ) -> Any:
        policy = current(self._policy)
        if not policy.enabled:
            return await self._inner.connect_tcp(host, port, timeout, **options)
        policy.check_name(host)
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise DestinationBlocked(f"cannot resolve {host}: {error}") from error
        last: Exception | None = None
        for address in vetted_addresses(policy, host, infos):
            try:
                return await self._inner.connect_tcp(address, port, timeout, **options)
            except Exception as failure:
                last = failure
        raise last  # type: ignore[misc]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        **options: Any,
    ) -> Any:
        raise DestinationBlocked("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guard_transport(transport: Any, policy: PolicySource) -> Any:
    """Put the guard under an ``httpx`` or ``httpx2`` (Async)HTTPTransport built without a proxy."""
    pool = transport._pool
    if type(pool).__name__ not in _POOLS:
        raise TypeError("a guarded transport connects directly; it cannot go through a proxy")
    inner = pool._network_backend
    guarded = AsyncGuardedBackend if hasattr(pool, "handle_async_request") else GuardedBackend
    pool._network_backend = guarded(inner, policy)
    return transport
