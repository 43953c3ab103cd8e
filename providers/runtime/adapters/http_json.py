"""JSON over the shared httpx2 pool: the chat protocols (OpenAI's, Anthropic's, Ollama's) and the rerank
APIs, spoken directly rather than through an SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from typing import Any

import httpx2
from httpx_sse import EventSource

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


async def require_event_stream(response: httpx2.Response, *, provider: str, fix: str) -> None:
    """An answer to a streaming request that is not an event stream (an HTML page from a proxy, JSON from a
    server that ignored ``stream``) raises InvalidResponseError naming what came, and is closed."""
    content_type = response.headers.get("content-type", "")
    if "event-stream" in content_type:
        return
    try:
        body = (await response.aread())[:2000].decode("utf-8", "replace")
    finally:
        await response.aclose()
    what = "an HTML page" if looks_like_html(body) else f"{content_type or 'no content type'} ({body[:80]!r})"
    raise InvalidResponseError(
        f"The server answered with {what} instead of an event stream; {fix}.", provider=provider
    )


async def sse_json(response: httpx2.Response, *, provider: str) -> AsyncIterator[tuple[str, Any]]:
    """(event name, JSON data) of each server-sent event, read to the end of the response (a response read
    to its end keeps its connection for the next call). Events without data and OpenAI's ``[DONE]`` are
    skipped; data that is not JSON raises InvalidResponseError."""
    async for sse in EventSource(response).aiter_sse():  # type: ignore[arg-type]  # duck-typed: httpx2
        if not sse.data or sse.data.startswith("[DONE]"):
            continue
        try:
            data = json.loads(sse.data)
        except ValueError:
            raise InvalidResponseError(
                f"The server's event stream held data that is not JSON ({sse.data[:80]!r}).",
                provider=provider,
            ) from None
        yield sse.event, data
