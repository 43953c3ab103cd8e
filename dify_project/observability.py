"""Request ids, log context and the HTTP side of the metrics.

``ObservabilityMiddleware`` (first in the chain) answers ``GET /metrics`` itself when the caller may see
it, gives every request an id (the client's ``X-Request-Id`` when it is a sane token, else a new one),
echoes it on the response, counts the request by route pattern and status, and times it to its headers;
with tracing on (``dify_project.tracing``) it is also a span, the current one while the view runs.

The request id and the run id live in context variables; ``ContextFilter`` puts them on every log record
(``-`` when unset) and ``JsonFormatter`` writes one JSON object per line (``LOG_FORMAT=json``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from dify_project import metrics, tracing

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
run_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
METRICS_PATH = "/metrics"


def _request_id(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _SANE_ID.match(given) else uuid.uuid4().hex


def _route(request: HttpRequest) -> str:
    # The URL pattern, never the path: a path carries ids, and one series per id would swamp Prometheus.
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + (match.route or match.view_name or "unmatched")


class ObservabilityMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        return self._handle_sync(request)

    def _metrics_answer(self, request: HttpRequest) -> HttpResponseBase | None:
        if request.path_info != METRICS_PATH or not settings.METRICS_ENABLED:
            return None
        if not metrics.scrape_allowed(
            remote_addr=request.META.get("REMOTE_ADDR"), authorization=request.headers.get("Authorization")
        ):
            # As if there were nothing here: no hint to a scanner that metrics exist.
            from dify_project.api.errors import error_body

            body = error_body("not_found", "The requested URL was not found on the server.", 404)
            return HttpResponse(json.dumps(body), status=404, content_type="application/json")
        payload, content_type = metrics.exposition()
        return HttpResponse(payload, content_type=content_type)

    def _begin(self, request: HttpRequest) -> tuple[str, contextvars.Token, float]:
        rid = _request_id(request)
        request.request_id = rid  # type: ignore[attr-defined]
        if tracing.enabled():
            # The request's span is the current one while the view runs: a run it starts is its child.
            span = tracing.tracer().start_span(
                f"HTTP {request.method}",
                kind=otel_trace.SpanKind.SERVER,
                attributes={
                    "http.request.method": request.method or "",
                    "url.path": request.path,
                    "dify.request_id": rid,
                },
            )
            request._otel = (span, otel_context.attach(otel_trace.set_span_in_context(span)))  # type: ignore[attr-defined]
        return rid, request_id_var.set(rid), time.perf_counter()

    def _end(self, request: HttpRequest, response: HttpResponseBase, rid: str, started: float) -> None:
        response[REQUEST_ID_HEADER] = rid
        route = _route(request)
        metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        traced = getattr(request, "_otel", None)
        if traced is not None:
            span = traced[0]
            span.update_name(f"{request.method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR))

    @staticmethod
    def _finish_span(request: HttpRequest) -> None:
        traced = getattr(request, "_otel", None)
        if traced is not None:
            span, token = traced
            span.end()  # a stream's span ends with its headers, as its latency does
            otel_context.detach(token)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        answer = self._metrics_answer(request)
        if answer is not None:
            return answer
        rid, token, started = self._begin(request)
        try:
            response = await self.get_response(request)
            self._end(request, response, rid, started)
            return response
        finally:
            self._finish_span(request)
            request_id_var.reset(token)

    def _handle_sync(self, request: HttpRequest) -> HttpResponseBase:
        answer = self._metrics_answer(request)
        if answer is not None:
            return answer
        rid, token, started = self._begin(request)
        try:
            response = self.get_response(request)
            self._end(request, response, rid, started)
            return response
        finally:
            self._finish_span(request)
            request_id_var.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``run_id`` to every record (for plain and JSON formats alike)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        record.run_id = run_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, run_id (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "run_id": getattr(record, "run_id", None) or run_id_var.get(),
        }
        for key in ("request_id", "run_id"):
            if entry[key] in (None, "-"):
                entry[key] = None
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)

    converter = time.gmtime
