"""Outbound HTTP for tools (API tools, the web scraper, remote schemas): every destination is a URL a
user gave, so every request goes through the guarded client (`dify_project.outbound`: the address
connected to is checked, at every redirect hop), and every response is size-capped.

One client per call: tool calls are few per run, and a client bound to one event loop must not outlive
it (Celery workers and tests run many loops).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from dify_project.outbound import DestinationBlocked, ResponseTooLarge, async_http_client
from netguard import aread_capped
from providers.tools.exceptions import ToolInvokeError

MB = 1024 * 1024


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
) -> FetchedResponse:
    """Send one request through the guarded client, following redirects (each hop checked). Raises
    ToolInvokeError on a blocked destination, a network error, a timeout or a body over ``max_bytes``."""
    if urlscheme(url) not in ("http", "https"):
        raise ToolInvokeError(f"invalid URL: {url}")
    try:
        async with async_http_client(timeout=timeouts, cookies=cookies) as client:
            request = client.build_request(
                method.upper(), url, params=params, headers=headers, content=content, data=data, files=files
            )
            response = await client.send(request, stream=True)
            try:
                received = await aread_capped(response, max_bytes)
            finally:
                await response.aclose()
            return FetchedResponse(
                status_code=response.status_code,
                headers=response.headers,
                content=received,
                url=str(response.url),
            )
    except (DestinationBlocked, ResponseTooLarge) as exc:
        raise ToolInvokeError(str(exc)) from None
    except httpx.TooManyRedirects:
        raise ToolInvokeError(f"Too many redirects for {url}") from None
    except httpx.TimeoutException as exc:
        raise ToolInvokeError(f"Request to {url} timed out: {exc or type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        raise ToolInvokeError(f"Request to {url} failed: {exc or type(exc).__name__}") from None


def urlscheme(url: str) -> str:
    try:
        return httpx.URL(url).scheme
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""
