"""OpenTelemetry traces: spans for HTTP requests, runs and node executions, seen by the SDK's in-memory
exporter; nothing at all unless tracing is configured."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from rest_framework.test import APIClient

from apps.models import AppMode
from dify_project import tracing
from tests.service_api.conftest import (
    setup,  # noqa: F401 - the live server with the loopback model
    test_model_runtime,  # noqa: F401 - autouse: its model runtime
)
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db

LLM_GRAPH = {
    "nodes": [
        {
            "id": "start",
            "data": {
                "type": "start",
                "title": "Start",
                "variables": [
                    {"variable": "query", "label": "Query", "type": "text-input", "required": True}
                ],
            },
        },
        {
            "id": "llm",
            "data": {
                "type": "llm",
                "title": "Answer",
                "model": {
                    "provider": "openai",
                    "name": "gpt-4o-mini",
                    "mode": "chat",
                    "completion_params": {},
                },
                "prompt_template": [{"role": "user", "text": "{{#start.query#}}"}],
                "context": {"enabled": False},
                "vision": {"enabled": False},
            },
        },
        {
            "id": "end",
            "data": {
                "type": "end",
                "title": "End",
                "outputs": [{"variable": "answer", "value_selector": ["llm", "text"]}],
            },
        },
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "llm", "sourceHandle": "source"},
        {"id": "e2", "source": "llm", "target": "end", "sourceHandle": "source"},
    ],
}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    yield exporter
    tracing.use_provider(None)
    provider.shutdown()


def _wait_for(exporter: InMemorySpanExporter, name: str, timeout: float = 5.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [span for span in exporter.get_finished_spans() if span.name == name]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {name!r} span; got {[s.name for s in exporter.get_finished_spans()]}")


def test_an_http_request_is_a_span_named_by_its_route(spans) -> None:
    # when a request is answered
    response = APIClient().get(
        "/console/api/apps/00000000-0000-0000-0000-000000000000", HTTP_X_REQUEST_ID="r-1"
    )
    # then its span carries the route pattern (never the path's ids), the status and the request id
    (span,) = spans.get_finished_spans()
    assert span.name == "GET /console/api/apps/<str:app_id>"
    assert span.attributes["http.route"] == "/console/api/apps/<str:app_id>"
    assert span.attributes["http.response.status_code"] == response.status_code == 401
    assert span.attributes["dify.request_id"] == "r-1"
    assert span.status.status_code != StatusCode.ERROR


def test_a_workflow_run_and_each_node_are_spans_under_the_request(spans, setup, fake_llm) -> None:  # noqa: F811
    # given a workflow app whose LLM node answers from the loopback model
    app, client = _workflow_app(setup)
    fake_llm.push(Reply(text="traced answer", usage=(7, 3)))
    # when it runs
    answer = client.post(
        "/workflows/run", json={"inputs": {"query": "q"}, "user": "u", "response_mode": "blocking"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["status"] == "succeeded"
    # then the run is a child of the request's span, in the same trace
    (run,) = _wait_for(spans, "run")
    (request,) = [s for s in spans.get_finished_spans() if s.name == "POST /v1/workflows/run"]
    assert run.parent.span_id == request.context.span_id
    assert run.context.trace_id == request.context.trace_id
    assert run.attributes["dify.app.mode"] == "workflow"
    assert run.attributes["dify.app.id"] == str(app.id)
    assert run.attributes["dify.status"] == "succeeded"
    assert run.attributes["dify.run.id"] == answer.json()["workflow_run_id"]
    assert run.attributes["dify.tokens"] == 10
    # and each node execution is a child of the run, with its type, status and tokens
    nodes = {
        s.attributes["dify.node.type"]: s for s in spans.get_finished_spans() if s.name.startswith("node ")
    }
    assert set(nodes) == {"start", "llm", "end"}
    assert all(node.parent.span_id == run.context.span_id for node in nodes.values())
    assert nodes["llm"].name == "node llm"
    assert nodes["llm"].attributes["dify.status"] == "succeeded"
    assert nodes["llm"].attributes["dify.tokens"] == 10
    assert nodes["llm"].attributes["dify.node.title"] == "Answer"
    assert nodes["llm"].start_time <= nodes["llm"].end_time
    assert run.start_time <= nodes["start"].start_time and nodes["end"].end_time <= run.end_time


def test_a_failed_node_marks_its_span_and_the_run_as_errors(spans, setup, fake_llm) -> None:  # noqa: F811
    _, client = _workflow_app(setup)
    fake_llm.push(Reply.error(400, "bad request from the model"))
    answer = client.post(
        "/workflows/run", json={"inputs": {"query": "q"}, "user": "u", "response_mode": "blocking"}
    )
    assert answer.status_code == 200, answer.text
    (run,) = _wait_for(spans, "run")
    assert run.attributes["dify.status"] == "failed"
    assert run.status.status_code == StatusCode.ERROR
    (llm,) = [s for s in spans.get_finished_spans() if s.name == "node llm"]
    assert llm.attributes["dify.status"] == "failed"
    assert llm.status.status_code == StatusCode.ERROR


def test_no_spans_and_no_exporter_without_an_endpoint(settings) -> None:
    # given no OTEL_EXPORTER_OTLP_ENDPOINT
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = ""
    # then configuring installs nothing and the tracer records nothing
    assert tracing.configure() is False
    assert not tracing.enabled()
    with tracing.tracer().start_as_current_span("x") as span:
        assert not span.is_recording()
    response = APIClient().get("/v1/")
    assert response.status_code in (200, 401, 404)


def test_an_endpoint_installs_the_otlp_exporter(settings) -> None:
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:4318"
    try:
        assert tracing.configure() is True
        processor = tracing._provider._active_span_processor._span_processors[0]
        assert processor.span_exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    finally:
        tracing._provider.shutdown()
        tracing.use_provider(None)


def _workflow_app(setup):  # noqa: F811
    app, client = setup(mode=AppMode.WORKFLOW)
    workflow = app.workflow  # the published version: Start -> LLM -> End instead of Start -> End
    workflow.graph = LLM_GRAPH
    workflow.save(update_fields=["graph"])
    return app, client
