"""Prometheus metrics (``prometheus-client``): the metric objects every part of the platform updates, the
figures read at scrape time, and the exposition of ``/metrics``.

Several ASGI worker processes (``run_platform --workers N``) each count their own requests; with
``PROMETHEUS_MULTIPROC_DIR`` set (``run_platform`` sets it for N > 1) prometheus-client keeps the values
in files there and a scrape merges every process's (its multiprocess mode). Gauges say how they merge.

Figures that live elsewhere (Celery queue depth, indexing backlog) are not counted here: domains register
a *scrape collector* (a function returning gauge samples) and ``/metrics`` asks it, so this module, at
the bottom of the dependency order, imports no domain.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)

HTTP_REQUESTS = Counter(
    "dify_http_requests",
    "HTTP requests answered, by route pattern and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "dify_http_request_duration_seconds",
    "Time to the response's headers (a stream's first byte, not its end), by route pattern.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
RUNS = Counter("dify_runs", "App runs ended, by app mode and final status.", ["mode", "status"])
NODE_EXECUTIONS = Counter(
    "dify_node_executions",
    "Workflow node executions ended, by node type and status.",
    ["node_type", "status"],
)
MODEL_CALLS = Counter(
    "dify_model_calls",
    "Model invocations, by provider, model type and status.",
    ["provider", "model_type", "status"],
)
MODEL_TOKENS = Counter(
    "dify_model_tokens",
    "Tokens of model invocations, by provider and kind (prompt, completion).",
    ["provider", "kind"],
)
TIME_TO_FIRST_TOKEN = Histogram(
    "dify_model_time_to_first_token_seconds",
    "Seconds from a streaming LLM call to its first token, by provider.",
    ["provider"],
    buckets=_TTFT_BUCKETS,
)
BUDGET_ALERTS = Counter(
    "dify_budget_alerts",
    "Cost budgets that passed their alert threshold (once per budget and period), by scope.",
    ["scope"],
)
OPEN_STREAMS = Gauge("dify_open_streams", "Server-sent event streams open now.", multiprocess_mode="livesum")

ScrapeCollector = Callable[[], Iterable[GaugeMetricFamily]]
_scrape_collectors: dict[str, ScrapeCollector] = {}


def register_scrape_collector(name: str, collect: ScrapeCollector) -> None:
    """Add figures computed at each scrape (``collect`` returns metric families); a failing one is skipped."""
    _scrape_collectors[name] = collect


class _ScrapeCollectors:
    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, collect in list(_scrape_collectors.items()):
            started = time.perf_counter()
            try:
                yield from collect()
            except Exception:  # a broker or database that is down must not take /metrics with it
                logger.warning("metrics collector %s failed", name, exc_info=True)
            finally:
                if time.perf_counter() - started > 1:
                    logger.warning("metrics collector %s took %.1fs", name, time.perf_counter() - started)


_scrape = _ScrapeCollectors()
if not MULTIPROCESS:
    REGISTRY.register(_scrape)  # type: ignore[arg-type]


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets, and its content type."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_scrape)  # type: ignore[arg-type]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def scrape_allowed(*, remote_addr: str | None, authorization: str | None) -> bool:
    """``METRICS_TOKEN`` (as ``Authorization: Bearer …``) or an address in ``METRICS_ALLOWED_NETWORKS``."""
    import hmac
    import ipaddress

    token = settings.METRICS_TOKEN
    if token and authorization:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token):
            return True
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS
    )


# --- helpers for the places that count ----------------------------------------------------------------


def model_call_observed(
    *,
    provider: str,
    model_type: str,
    status: str,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    time_to_first_token: float | None = None,
) -> None:
    MODEL_CALLS.labels(provider, model_type, status).inc()
    if prompt_tokens:
        MODEL_TOKENS.labels(provider, "prompt").inc(prompt_tokens)
    if completion_tokens:
        MODEL_TOKENS.labels(provider, "completion").inc(completion_tokens)
    if time_to_first_token:
        TIME_TO_FIRST_TOKEN.labels(provider).observe(time_to_first_token)
