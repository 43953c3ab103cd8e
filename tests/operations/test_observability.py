"""/metrics (who may read it, what it counts), the request id header, log records with request and run
ids."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from apps.models import AppMode
from dify_project.observability import ContextFilter, JsonFormatter, request_id_var, run_id_var
from tests.service_api.conftest import (
    setup,  # noqa: F401 - the live server with the loopback model
    test_model_runtime,  # noqa: F401 - autouse: its model runtime
)
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(client: APIClient, **extra) -> tuple[int, str]:
    response = client.get("/metrics", **extra)
    return response.status_code, response.content.decode()


def test_metrics_count_requests_by_route_pattern_and_status(settings) -> None:
    client = APIClient()
    before = _sample("dify_http_requests_total", method="GET", route="/healthz", status="200")
    # when a health check and an unauthenticated request with an id in its path are answered
    assert client.get("/healthz").status_code == 200
    client.get("/v1/conversations/7d8c7f3e-1111-4222-8333-944444444444")
    # then /metrics (from loopback) counts each by its route pattern, never by the path
    status, text = _scrape(client)
    assert status == 200
    assert _sample("dify_http_requests_total", method="GET", route="/healthz", status="200") == before + 1
    assert "dify_http_request_duration_seconds_bucket" in text
    assert "7d8c7f3e-1111" not in text
    by_pattern = [
        line
        for line in text.splitlines()
        if line.startswith("dify_http_requests_total")
        and "/v1/conversations/<" in line
        and 'status="401"' in line
    ]
    assert by_pattern, "the request was not counted under its URL pattern"


def test_metrics_need_an_allowed_network_or_the_token(settings) -> None:
    client = APIClient()
    settings.METRICS_TOKEN = "s3cret-scrape"
    # a client outside the allowed networks sees nothing there
    assert _scrape(client, REMOTE_ADDR="10.1.2.3")[0] == 404
    assert _scrape(client, REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer wrong")[0] == 404
    # the token opens it from anywhere
    status, text = _scrape(client, REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    assert status == 200 and "dify_http_requests_total" in text
    # an allowed network needs no token; with none allowed, loopback is refused too
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert _scrape(client, REMOTE_ADDR="10.1.2.3")[0] == 200
    assert _scrape(client, REMOTE_ADDR="127.0.0.1")[0] == 404
    settings.METRICS_ENABLED = False
    assert _scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-scrape")[0] == 404


def test_scrape_time_figures_queue_depth_and_indexing_backlog(tenant) -> None:
    from knowledge.models import Dataset, Document
    from operations import gauges

    dataset = Dataset.objects.create(tenant=tenant, name="D")
    for status in ("waiting", "waiting", "indexing"):
        Document.objects.create(
            tenant=tenant, dataset=dataset, batch="b", name=status, indexing_status=status
        )
    gauges._backlog = (0.0, {})  # no figure cached from another test
    text = _scrape(APIClient())[1]
    assert 'dify_indexing_backlog{status="waiting"} 2.0' in text
    assert 'dify_indexing_backlog{status="indexing"} 1.0' in text
    assert 'dify_celery_queue_depth{queue="indexing"}' in text


def test_a_request_id_is_echoed_or_made() -> None:
    client = APIClient()
    given = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.def")
    assert given["X-Request-Id"] == "abc-123.def"
    made = client.get("/healthz")
    assert len(made["X-Request-Id"]) == 32
    # a header that is not a sane token (spaces, newlines, too long) is replaced, not echoed
    odd = client.get("/healthz", HTTP_X_REQUEST_ID="x" * 200)
    assert odd["X-Request-Id"] != "x" * 200 and len(odd["X-Request-Id"]) == 32


def test_json_log_lines_carry_request_and_run_ids() -> None:
    record = logging.LogRecord("apps.runs", logging.INFO, __file__, 1, "node %s done", ("llm",), None)
    token_r, token_w = request_id_var.set("req-1"), run_id_var.set("run-9")
    try:
        ContextFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token_r)
        run_id_var.reset(token_w)
    assert line["message"] == "node llm done"
    assert (line["request_id"], line["run_id"], line["level"], line["logger"]) == (
        "req-1",
        "run-9",
        "INFO",
        "apps.runs",
    )
    assert line["time"].endswith("Z")
    # outside a request both are null, not a placeholder
    bare = logging.LogRecord("x", logging.WARNING, __file__, 1, "m", (), None)
    ContextFilter().filter(bare)
    assert json.loads(JsonFormatter().format(bare))["request_id"] is None


def test_runs_node_executions_and_model_calls_are_counted(setup, fake_llm) -> None:  # noqa: F811
    # given a workflow app and a chat app on the loopback model
    runs_before = _sample("dify_runs_total", mode="workflow", status="succeeded")
    starts_before = _sample("dify_node_executions_total", node_type="start", status="succeeded")
    chats_before = _sample("dify_runs_total", mode="chat", status="succeeded")
    calls_before = _sample("dify_model_calls_total", provider="openai", model_type="llm", status="success")
    tokens_before = _sample("dify_model_tokens_total", provider="openai", kind="completion")
    _, client = setup(mode=AppMode.WORKFLOW)
    # when one workflow run and one streamed chat run finish
    answer = client.post("/workflows/run", json={"inputs": {"query": "q"}, "user": "u"})
    assert answer.status_code == 200, answer.text
    _, chat = setup(mode="chat")
    fake_llm.push(Reply(text="one two three", chunks=3))
    with chat.stream(
        "POST",
        "/chat-messages",
        json={"inputs": {"company": "A"}, "query": "hi", "user": "u", "response_mode": "streaming"},
    ) as response:
        assert response.status_code == 200
        list(response.iter_lines())
    import time

    deadline = time.monotonic() + 5
    while (
        time.monotonic() < deadline
        and _sample("dify_runs_total", mode="chat", status="succeeded") == chats_before
    ):
        time.sleep(0.05)
    # then each is counted by mode and status, with its nodes and its model call
    assert _sample("dify_runs_total", mode="workflow", status="succeeded") == runs_before + 1
    assert _sample("dify_node_executions_total", node_type="start", status="succeeded") == starts_before + 1
    assert _sample("dify_runs_total", mode="chat", status="succeeded") == chats_before + 1
    usage_status = {
        labels["status"]
        for metric in REGISTRY.collect()
        if metric.name == "dify_model_calls"
        for sample in metric.samples
        for labels in [sample.labels]
    }
    assert usage_status, "no model call counted"
    calls_after = sum(
        _sample("dify_model_calls_total", provider="openai", model_type="llm", status=s) for s in usage_status
    )
    assert calls_after >= calls_before + 1
    assert _sample("dify_model_tokens_total", provider="openai", kind="completion") > tokens_before
    assert _sample("dify_model_time_to_first_token_seconds_count", provider="openai") >= 1
    assert _sample("dify_open_streams") == 0
