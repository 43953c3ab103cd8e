"""Server-sent events in Dify's wire format: ``data: {json}\\n\\n`` frames and ``event: ping`` keep-alives.

The response is never buffered on our side (each frame is yielded as soon as it exists) and carries the
headers that stop proxies from buffering it (Dify issue #14513; nginx honours ``X-Accel-Buffering``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from dify_project import metrics

PING_FRAME = b"event: ping\n\n"
DEFAULT_PING_INTERVAL = 10.0


def sse_frame(payload: dict[str, Any] | str) -> bytes:
    """One SSE frame. Strings are sent as-is (already JSON); dicts are JSON-encoded."""
    body = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, default=str)
    return f"data: {body}\n\n".encode()


async def _with_pings(events: AsyncIterator[dict[str, Any] | str], interval: float) -> AsyncIterator[bytes]:
    """Yield each event as a frame; when the source is silent for ``interval`` seconds, yield a ping.

    The pending ``__anext__`` is kept across pings (not cancelled), so a slow producer is never disturbed.
    """
    iterator = events.__aiter__()
    pending: asyncio.Task | None = None
    metrics.OPEN_STREAMS.inc()
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield PING_FRAME
                continue
            task, pending = pending, None
            try:
                event = task.result()
            except StopAsyncIteration:
                return
            yield sse_frame(event)
    finally:
        metrics.OPEN_STREAMS.dec()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _sync_frames(events: Iterable[dict[str, Any] | str]) -> Iterator[bytes]:
    for event in events:
        yield sse_frame(event)


def sse_response(
    events: AsyncIterator[dict[str, Any] | str] | Iterable[dict[str, Any] | str],
    *,
    ping_interval: float = DEFAULT_PING_INTERVAL,
) -> StreamingHttpResponse:
    """A streaming response for an async (ASGI) or sync iterator of event payloads."""
    if hasattr(events, "__aiter__"):
        body: Any = _with_pings(events, ping_interval)  # type: ignore[arg-type]
    else:
        body = _sync_frames(events)  # type: ignore[arg-type]
    response = StreamingHttpResponse(body, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
