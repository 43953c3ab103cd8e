"""Workflows with tool nodes, run by the real engine with the real tool port (no mocks)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from asgiref.sync import sync_to_async

from providers.tools.models import ApiToolProvider
from providers.tools.openapi import parse_schema
from providers.tools.port import TenantToolPort
from tests import factories
from tests.tools.conftest import LoopbackServer, Reply
from tests.tools.schemas import echo_api
from workflows.engine import (
    Engine,
    HttpxHttpPort,
    NodeFailed,
    NodeSucceeded,
    Ports,
    load_app,
    parse_graph,
)
from workflows.engine.conformance import DEFAULT_SHARED

DSL = DEFAULT_SHARED / "dsl"


def succeeded(events: list[Any], node_id: str) -> NodeSucceeded:
    return next(e for e in events if isinstance(e, NodeSucceeded) and e.node_id == node_id)


async def test_chatflow_with_the_time_tool_answers_its_static_text() -> None:
    # given Dify's chatflow fixture: start -> tool(time/current_time) -> template -> answer
    app = load_app((DSL / "chatflow_time_tool_static_output_workflow.yml").read_text())
    engine = Engine(ports=Ports(tools=TenantToolPort(tenant_id="tenant-1", user="u1")))
    # when it runs
    outcome = await engine.run(
        app.graph, inputs={}, system={"query": "hi", "user_id": "u1", "files": []}
    ).collect()
    # then it succeeds with Dify's answer, and the tool's text is the current UTC time in the configured format
    assert outcome.status == "succeeded", outcome.error
    assert outcome.answer == "hello, dify!"
    tool = succeeded(outcome.events, "1754336729904")
    stamp = datetime.strptime(tool.outputs["text"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert tool.outputs["files"] == []


def http_tool_graph() -> dict[str, Any]:
    return yaml.safe_load((DSL / "http_request_with_json_tool_workflow.yml").read_text())["workflow"]["graph"]


async def test_the_http_and_json_tool_fixture_fails_clearly_on_its_placeholder_provider(
    http_server: LoopbackServer,
) -> None:
    # given Dify's fixture as written: its tool node names a provider "builtin" that only Dify's mocks answer
    http_server.route("GET", "/data", Reply(200, {"key": "value", "number": 42}))
    engine = Engine(ports=Ports(tools=TenantToolPort(tenant_id="t"), http=HttpxHttpPort()))
    # when it runs for real
    outcome = await engine.run(
        parse_graph(http_tool_graph()), inputs={"url": f"{http_server.url}/data"}
    ).collect()
    # then the HTTP node worked, and the tool node failed naming the provider, with Dify's error type
    assert outcome.status == "failed"
    assert succeeded(outcome.events, "http_node").outputs["status_code"] == 200
    failed = next(e for e in outcome.events if isinstance(e, NodeFailed))
    assert failed.node_id == "tool_node"
    assert failed.error == "builtin provider builtin not found"
    assert failed.error_type == "ToolProviderNotFoundError"


async def test_the_http_and_json_tool_fixture_with_a_real_json_provider(http_server: LoopbackServer) -> None:
    # given the same graph, its tool node pointed at json_process/parse, the parameter in the legacy
    # plain-string form, and the End node reading the tool's json output
    graph = copy.deepcopy(http_tool_graph())
    tool = next(n for n in graph["nodes"] if n["id"] == "tool_node")["data"]
    tool.update(
        provider_id="langgenius/json_process/json_process",
        provider_name="langgenius/json_process/json_process",
        tool_name="parse",
        tool_parameters={"content": "{{#http_node.body#}}", "json_filter": "$.number"},
    )
    end = next(n for n in graph["nodes"] if n["id"] == "end_node")["data"]
    end["outputs"][1].update(value_selector=["tool_node", "json"], value_type="array[object]")
    end["outputs"].append(
        {"variable": "number", "value_selector": ["tool_node", "text"], "value_type": "string"}
    )
    http_server.route("GET", "/data", Reply(200, {"key": "value", "number": 42}))
    engine = Engine(ports=Ports(tools=TenantToolPort(tenant_id="t"), http=HttpxHttpPort()))
    # when it runs
    outcome = await engine.run(parse_graph(graph), inputs={"url": f"{http_server.url}/data"}).collect()
    # then the parsed body and the filtered value come out
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {
        "status_code": 200,
        "parsed_data": [{"key": "value", "number": 42}],
        "number": "42",
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_a_workflow_calls_a_custom_api_tool(http_server: LoopbackServer, allow_private: None) -> None:
    # given a workspace's API tool provider on the loopback server
    def given() -> tuple[str, str]:
        tenant = factories.tenant_factory()
        schema = echo_api(http_server.url)
        row = ApiToolProvider(
            tenant=tenant,
            name="echo",
            schema=schema,
            tools=[b.to_dict() for b in parse_schema(schema).bundles],
        )
        row.credentials = {"auth_type": "api_key", "api_key_header": "X-Key", "api_key_value": "k-1"}
        row.save()
        return str(tenant.id), str(row.id)

    tenant_id, provider_id = await sync_to_async(given)()
    http_server.route(
        "POST", "/items/42", lambda r: Reply(200, {"echo": r.json(), "key": r.headers["x-key"]})
    )
    # and a workflow whose tool node takes a variable, a mixed template and a constant
    graph = {
        "nodes": [
            {
                "id": "start",
                "data": {
                    "type": "start",
                    "title": "Start",
                    "variables": [
                        {"variable": "count", "label": "count", "type": "number", "required": True}
                    ],
                },
            },
            {
                "id": "api",
                "data": {
                    "type": "tool",
                    "title": "Update",
                    "provider_type": "api",
                    "provider_id": provider_id,
                    "provider_name": "echo",
                    "tool_name": "updateItem",
                    "tool_configurations": {},
                    "tool_parameters": {
                        "itemId": {"type": "constant", "value": "42"},
                        "count": {"type": "variable", "value": ["start", "count"]},
                        "X-Trace": {"type": "mixed", "value": "run-{{#start.count#}}"},
                    },
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [
                        {"variable": "json", "value_selector": ["api", "json"]},
                        {"variable": "text", "value_selector": ["api", "text"]},
                    ],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "api", "sourceHandle": "source"},
            {"id": "e2", "source": "api", "target": "end", "sourceHandle": "source"},
        ],
    }
    engine = Engine(ports=Ports(tools=TenantToolPort(tenant_id=tenant_id)))
    # when it runs
    outcome = await engine.run(parse_graph(graph), inputs={"count": 7}).collect()
    # then the tool's json and text outputs carry the API's answer, built from the node's parameters
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["json"] == [{"echo": {"count": 7, "mode": "fast"}, "key": "k-1"}]
    assert '"key": "k-1"' in outcome.outputs["text"]
    assert http_server.requests[-1].headers["x-trace"] == "run-7"
