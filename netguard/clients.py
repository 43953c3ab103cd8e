"""Guarded ``httpx`` clients, and reading a body with a size cap.

Redirects are followed by httpx (up to the policy's ``max_redirects``): every hop opens its connection
through the guarded backend, so each destination is checked, and httpx drops the Authorization header
when a redirect leaves the origin.
"""

from __future__ import annotations

from typing import Any

import httpx

from .backend import guard_transport
from .policy import Policy, PolicySource, current


class ResponseTooLarge(Exception):
    def __init__(self, limit: int, declared: int | None = None) -> None:
        size = f"Response size {declared}" if declared is not None else "Response size"
        super().__init__(f"{size} exceeds the maximum allowed size {limit} bytes")
        self.limit = limit


def _options(policy: Policy, options: dict[str, Any]) -> dict[str, Any]:
    options.setdefault("timeout", policy.timeout)
    options.setdefault("follow_redirects", True)
    options.setdefault("max_redirects", policy.max_redirects)
    return options


def client(policy: PolicySource, *, verify: bool = True, **options: Any) -> httpx.Client:
    """An ``httpx.Client`` whose every connection passes the guard; ``options`` go to httpx.Client."""
    transport = guard_transport(httpx.HTTPTransport(verify=verify, trust_env=False), policy)
    return httpx.Client(transport=transport, trust_env=False, **_options(current(policy), options))


def async_client(policy: PolicySource, *, verify: bool = True, **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every connection passes the guard."""
    transport = guard_transport(httpx.AsyncHTTPTransport(verify=verify, trust_env=False), policy)
    return httpx.AsyncClient(transport=transport, trust_env=False, **_options(current(policy), options))


def _declared_size(response: Any, limit: int) -> None:
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(limit, int(declared))


def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed response, refused (ResponseTooLarge) once it passes ``limit`` bytes."""
    _declared_size(response, limit)
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > limit:
            raise ResponseTooLarge(limit)
    return bytes(body)


async def aread_capped(response: httpx.Response, limit: int) -> bytes:
    """`read_capped` for an async stream."""
    _declared_size(response, limit)
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > limit:
            raise ResponseTooLarge(limit)
    return bytes(body)
