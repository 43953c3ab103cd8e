"""Outbound HTTP for tools (API tools, the web scraper, remote schemas): every destination is a URL a
user gave, so every hop goes through the private-network guard, and every response is size-capped.

One ``httpx.AsyncClient`` per call: tool calls are few per run, and a client bound to one event loop must
not outlive it (Celery workers and tests run many loops). Redirects are followed here, not by httpx, so
that each hop's destination is checked before it is contacted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from dify_project.net import DestinationNotAllowed, ensure_public_destination
from providers.tools.exceptions import ToolInvokeError

MB = 1024 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


def setting(name: str, default: Any) -> Any:
    """A tool limit from settings when the operator set one, Dify's default otherwise."""
    return getattr(settings, name, default)


@dataclass(slots=True)
class FetchedResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str

    @property
    def mime_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for piece in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = piece.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip().strip('"')
        return None

    @property
    def text(self) -> str:
        charset = self.charset or "utf-8"
        try:
            return self.content.decode(charset)
        except (LookupError, UnicodeDecodeError):
            return self.content.decode("utf-8", errors="replace")


async def check_destination(url: str) -> None:
    """The SSRF guard, off the event loop (it resolves the host name)."""
    try:
        await asyncio.to_thread(ensure_public_destination, url)
    except DestinationNotAllowed as exc:
        raise ToolInvokeError(str(exc)) from None


async def fetch(
    method: str,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: Mapping[str, str] | None = None,
    content: str | bytes | None = None,
    data: Mapping[str, Any] | None = None,
    files: list[tuple[str, tuple[str | None, bytes, str]]] | None = None,
    timeouts: httpx.Timeout,
    max_bytes: int,
    max_redirects: int = 5,
) -> FetchedResponse:
    """Send one request, following redirects hop by hop. Raises ToolInvokeError on a blocked destination,
    a network error, a timeout or a body larger than ``max_bytes``."""
    if urlscheme(url) not in ("http", "https"):
        raise ToolInvokeError(f"invalid URL: {url}")
    method = method.upper()
    request_headers = dict(headers or {})
    body: dict[str, Any] = {"content": content, "data": data, "files": files}
    try:
        async with httpx.AsyncClient(timeout=timeouts, follow_redirects=False, cookies=cookies) as client:
            for _hop in range(max_redirects + 1):
                await check_destination(url)
                request = client.build_request(method, url, params=params, headers=request_headers, **body)
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        next_url = str(response.url.join(location))
                        if httpx.URL(next_url).host != response.url.host:
                            # Never hand the credentials of one host to another (httpx's rule too).
                            request_headers.pop("Authorization", None)
                            request_headers.pop("authorization", None)
                        if response.status_code in (301, 302, 303) and method != "HEAD":
                            method = "GET"
                            body = {"content": None, "data": None, "files": None}
                        url, params = next_url, None
                        continue
                    declared = response.headers.get("content-length", "").strip()
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise ToolInvokeError(
                            f"Response size {declared} exceeds the maximum allowed size {max_bytes} bytes"
                        )
                    received = bytearray()
                    async for chunk in response.aiter_bytes():
                        received.extend(chunk)
                        if len(received) > max_bytes:
                            raise ToolInvokeError(
                                f"Response size exceeds the maximum allowed size {max_bytes} bytes"
                            )
                    return FetchedResponse(
                        status_code=response.status_code,
                        headers=response.headers,
                        content=bytes(received),
                        url=str(response.url),
                    )
                finally:
                    await response.aclose()
            raise ToolInvokeError(f"Too many redirects for {url}")
    except httpx.TimeoutException as exc:
        raise ToolInvokeError(f"Request to {url} timed out: {exc or type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        raise ToolInvokeError(f"Request to {url} failed: {exc or type(exc).__name__}") from None


def urlscheme(url: str) -> str:
    try:
        return httpx.URL(url).scheme
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""
