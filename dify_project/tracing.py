"""OpenTelemetry traces: a span per HTTP request, per run (a child of the request that started it) and
per node execution (a child of its run, with its type, status and tokens).

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set: then ``configure`` (called once at start-up) installs
an SDK tracer provider whose batch processor sends spans over OTLP/HTTP to that endpoint, named by
``OTEL_SERVICE_NAME``. Everything else calls ``tracer()``, which is a no-op tracer while tracing is off,
so instrumented code costs next to nothing then. Tests install a provider of their own with
``use_provider`` (an in-memory exporter).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer, set_span_in_context

logger = logging.getLogger(__name__)

INSTRUMENTATION = "dify_project"
_provider: Any = None  # the SDK provider in use, or None: tracing off


def configure() -> bool:
    """Install the OTLP exporter when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (idempotent)."""
    global _provider
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not endpoint or _provider is not None:
        return _provider is not None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME}))
    # The exporter reads the standard OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself; the
    # endpoint is the collector's base URL, traces go to its /v1/traces.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=_traces_url(endpoint))))
    use_provider(provider)
    logger.info("OpenTelemetry traces to %s", endpoint)
    return True


def _traces_url(endpoint: str) -> str:
    return endpoint if endpoint.rstrip("/").endswith("/v1/traces") else endpoint.rstrip("/") + "/v1/traces"


def use_provider(provider: Any) -> None:
    """Trace to ``provider`` (an SDK TracerProvider), or stop tracing with None."""
    global _provider
    _provider = provider


def enabled() -> bool:
    return _provider is not None


def tracer() -> Tracer:
    if _provider is None:
        return trace.NoOpTracer()
    return _provider.get_tracer(INSTRUMENTATION)


def end_span(span: Span, *, status: str, error: str | None = None, end_time: int | None = None) -> None:
    """End with Dify's status as an attribute and OpenTelemetry's (ERROR for a failed status)."""
    span.set_attribute("dify.status", status)
    if status in ("failed", "exception", "stopped") or error:
        span.set_status(Status(StatusCode.ERROR, error or status))
    span.end(end_time=end_time)


def node_span(parent: Span, data: dict[str, Any]) -> None:
    """One finished node execution (a ``node_finished`` event's data) as a child span of its run: it ends
    now and started ``elapsed_time`` seconds ago."""
    end = time.time_ns()
    elapsed = float(data.get("elapsed_time") or 0)
    span = tracer().start_span(
        f"node {data.get('node_type') or 'unknown'}",
        context=set_span_in_context(parent),
        start_time=end - int(elapsed * 1e9),
        attributes=_clean(
            {
                "dify.node.id": data.get("node_id"),
                "dify.node.type": data.get("node_type"),
                "dify.node.title": data.get("title"),
                "dify.node.execution_id": data.get("id"),
                "dify.node.index": data.get("index"),
                "dify.node.iteration_id": data.get("iteration_id"),
                "dify.node.loop_id": data.get("loop_id"),
                "dify.tokens": _tokens((data.get("execution_metadata") or {}).get("total_tokens")),
            }
        ),
    )
    end_span(span, status=str(data.get("status") or "unknown"), error=data.get("error"), end_time=end)


def _tokens(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if value is not None and value != ""}
