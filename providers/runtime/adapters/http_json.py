"""JSON over the shared httpx2 pool, for the protocols without an official SDK (Ollama, rerank APIs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import httpx2

from providers.runtime.adapters.errors import error_from_status, looks_like_html, map_exception
from providers.runtime.errors import InvalidResponseError
from providers.runtime.http import HttpPool, Timeouts


@lru_cache(maxsize=32)
def httpx_timeout(timeouts: Timeouts) -> httpx2.Timeout:
    return timeouts.to_httpx()


def bearer(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


async def open_response(
    http: HttpPool,
    method: str,
    url: str,
    *,
    provider: str,
    timeouts: Timeouts,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> httpx2.Response:
    """Send a request and return the response with its body not yet read (for streams). HTTP errors are
    raised as runtime errors, with the provider's error body read and classified."""
    client = http.client()
    request = client.build_request(
        method, url, json=json_body, headers=headers, timeout=httpx_timeout(timeouts)
    )
    try:
        response = await client.send(request, stream=True)
    except Exception as exc:
        raise (map_exception(exc, provider=provider) or exc) from exc
    if response.status_code >= 400:
        try:
            body = (await response.aread()).decode("utf-8", "replace")
        except Exception:
            body = ""
        finally:
            await response.aclose()
        raise error_from_status(response.status_code, body, response.headers, provider=provider)
    return response


async def read_json(response: httpx2.Response, *, provider: str) -> Any:
    """The whole body as JSON; an HTML page or garbage raises InvalidResponseError naming what came."""
    try:
        raw = await response.aread()
    except Exception as exc:
        raise (map_exception(exc, provider=provider) or exc) from exc
    finally:
        await response.aclose()
    try:
        return json.loads(raw)
    except ValueError:
        text = raw[:2000].decode("utf-8", "replace")
        what = "an HTML page" if looks_like_html(text) else f"non-JSON content ({text[:80]!r})"
        raise InvalidResponseError(
            f"The server answered with {what} instead of the provider's JSON; check the base URL.",
            provider=provider,
        ) from None


async def request_json(
    http: HttpPool,
    method: str,
    url: str,
    *,
    provider: str,
    timeouts: Timeouts,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    response = await open_response(
        http, method, url, provider=provider, timeouts=timeouts, json_body=json_body, headers=headers
    )
    return await read_json(response, provider=provider)
