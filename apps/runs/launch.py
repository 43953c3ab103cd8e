"""Starting a run and answering the HTTP request that asked for it (streaming or blocking).

The run always executes detached from the request (a task on this process's loop, or a Celery task on
the ``workflow`` queue when ``APP_RUN_EXECUTOR=celery``): a client that disconnects never cancels or
corrupts it. The streaming answer follows the run's event stream; the blocking answer waits for the end.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from apps.runs import control
from apps.runs.bus import RunWriter, event_log
from apps.services.app_cache import known_app_mode
from dify_project import metrics, tracing
from dify_project.api.sse import sse_response
from dify_project.observability import request_id_var, run_id_var

logger = logging.getLogger(__name__)

_background: set[asyncio.Task] = set()


def detach(coro: Awaitable[Any]) -> asyncio.Task:
    """Run ``coro`` as a task nobody cancels when a request goes away; keeps a reference until it ends.

    It runs in a fresh context: under ASGI each request has its own thread for sync code, shut down when
    the request ends, and a run that outlives its request must not inherit it.
    """
    task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())  # type: ignore[arg-type]
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def launch(
    *,
    app_id: str,
    app_limit: int | None,
    keys: list[str],
    execute: Callable[[RunWriter], Awaitable[Any]],
    mirror: bool = True,
) -> tuple[RunWriter, asyncio.Task]:
    """Take a concurrency slot (429 when full), open the run's event stream and start ``execute``."""
    slot = await control.enter(app_id, app_limit)
    writer = event_log().open(keys, mirror=mirror)
    request_id = request_id_var.get()
    request_trace = otel_context.get_current() if tracing.enabled() else None

    async def guarded() -> Any:
        # The run's own context (see detach): its log lines carry the request that started it and its id.
        request_id_var.set(request_id)
        run_id = next((key for key in keys[1:2] if key), None) or keys[0]
        run_id_var.set(run_id)
        span = _run_span(app_id, run_id, request_trace) if request_trace is not None else None
        nodes = asyncio.get_running_loop().create_task(_trace_nodes(writer, span)) if span else None
        try:
            return await execute(writer)
        finally:
            await control.leave(app_id, slot)
            if not writer.channel.closed:
                await writer.close()
            _count_run(app_id, writer.channel.events)
            if span is not None and nodes is not None:
                await _end_run_span(span, nodes, writer.channel.events)

    return writer, detach(guarded())


def _count_run(app_id: str, events: list[dict[str, Any]]) -> None:
    """Metrics of a finished run, read off its events: node executions by type and status, the run by
    app mode and final status. Never raises (metrics must not break a run)."""
    try:
        status = "unknown"
        for event in events:
            kind = event.get("event")
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            if kind == "node_finished":
                metrics.NODE_EXECUTIONS.labels(
                    data.get("node_type") or "unknown", data.get("status") or "unknown"
                ).inc()
            elif kind == "workflow_finished":
                status = data.get("status") or status
            elif kind == "workflow_paused":
                status = "paused"
            elif kind == "message_end" and status == "unknown":
                status = "succeeded"
            elif kind == "error":
                status = "failed"
        metrics.RUNS.labels(known_app_mode(app_id) or "unknown", status).inc()
    except Exception:
        logger.exception("counting the run's metrics failed")


def _run_span(app_id: str, run_id: str, parent: otel_context.Context) -> otel_trace.Span:
    return tracing.tracer().start_span(
        "run",
        context=parent,
        attributes={
            "dify.app.id": str(app_id),
            "dify.app.mode": known_app_mode(app_id) or "unknown",
            "dify.run.id": str(run_id),
        },
    )


async def _trace_nodes(writer: RunWriter, span: otel_trace.Span) -> None:
    """A span per node execution, made as each ``node_finished`` event is published (a reader like any
    other: it never slows the run)."""
    async for _, event in writer.channel.follow(0):
        if event.get("event") == "node_finished" and isinstance(event.get("data"), dict):
            try:
                tracing.node_span(span, event["data"])
            except Exception:
                logger.exception("tracing a node execution failed")


async def _end_run_span(span: otel_trace.Span, nodes: asyncio.Task, events: list[dict[str, Any]]) -> None:
    try:
        await asyncio.wait_for(nodes, timeout=5)
    except Exception:
        nodes.cancel()
    status, tokens, error = "unknown", None, None
    for event in events:
        kind = event.get("event")
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if kind == "workflow_finished":
            status, tokens, error = data.get("status") or status, data.get("total_tokens"), data.get("error")
        elif kind == "workflow_paused":
            status = "paused"
        elif kind == "message_end":
            usage = (event.get("metadata") or {}).get("usage") or {}
            tokens = usage.get("total_tokens", tokens)
            status = "succeeded" if status == "unknown" else status
        elif kind == "error":
            status, error = "failed", event.get("message")
    if isinstance(tokens, int | float):
        span.set_attribute("dify.tokens", int(tokens))
    tracing.end_span(span, status=status, error=error)


async def _events(writer: RunWriter, after: int = 0) -> AsyncIterator[dict[str, Any]]:
    async for _, event in writer.channel.follow(after):
        yield event


def stream_response(writer: RunWriter) -> StreamingHttpResponse:
    return sse_response(_events(writer), ping_interval=settings.SSE_PING_INTERVAL)


async def follow_response(key: str, after: int = 0) -> StreamingHttpResponse | None:
    """Re-attach to a run by any of its keys (None when no process knows it any more)."""
    source = await event_log().follow(key, after)
    if source is None:
        return None

    async def events() -> AsyncIterator[dict[str, Any]]:
        async for _, event in source:
            yield event

    return sse_response(events(), ping_interval=settings.SSE_PING_INTERVAL)
