"""Agents calling MCP tools, through the Service API: an agent-chat app and a workflow's agent node, a
loopback model that calls the tool, and a real MCP server (the `mcp` SDK, streamable HTTP) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from apps.models import AppMode
from providers.tools.models import MCPToolProvider
from tests import factories
from tests.service_api.test_chat_runs import events_of
from tests.support.fake_llm import FakeToolCall, Reply
from tests.support.mcp_servers import McpLoopback, streamable_app
from tests.tools.test_mcp import DEMO_TOOLS


@pytest.fixture
def mcp_server() -> Iterator[McpLoopback]:
    with McpLoopback(streamable_app()) as server:
        yield server


def add_provider(app, server: McpLoopback) -> None:
    url = f"{server.url}/mcp"
    row = MCPToolProvider(
        tenant_id=app.tenant_id,
        name="Demo",
        server_identifier="demo",
        server_url=url,
        server_url_hash=url,
        authed=True,
        tools=DEMO_TOOLS,
    )
    row.save()


def test_an_agent_chat_app_calls_an_mcp_tool(setup, fake_llm, mcp_server: McpLoopback) -> None:
    config = {
        "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
        "pre_prompt": "Use the tools.",
        "prompt_type": "simple",
        "user_input_form": [],
        "agent_mode": {
            "enabled": True,
            "strategy": "function_call",
            "max_iteration": 3,
            "tools": [
                {
                    "provider_type": "mcp",
                    "provider_id": "demo",
                    "provider_name": "demo",
                    "tool_name": "add",
                    "tool_parameters": {},
                    "enabled": True,
                }
            ],
        },
    }
    app, client = setup(mode="agent-chat", config=config)
    add_provider(app, mcp_server)
    fake_llm.push(
        Reply.tools(FakeToolCall("add", {"a": 40, "b": 2}, id="c1"), route="chat"),
        Reply(text="It is 42.", route="chat"),
    )
    events = events_of(
        client.post(
            "/chat-messages",
            json={
                "query": "40+2?",
                "inputs": {},
                "user": "ann",
                "response_mode": "streaming",
                "auto_generate_name": False,
            },
        )
    )
    first, second = (r.json for r in fake_llm.requests_on("chat")[-2:])
    # the model was offered the server's own schema, and read the server's answer
    function = first["tools"][0]["function"]
    assert function["name"] == "add"
    assert function["parameters"]["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}
    assert second["messages"][-1] == {"role": "tool", "content": "42", "tool_call_id": "c1"}
    thoughts = [e for e in events if e["event"] == "agent_thought" and e.get("observation")]
    assert thoughts and '"add": "42"' in thoughts[-1]["observation"]
    assert any(e["event"] == "message_end" for e in events)


def test_an_agent_node_calls_an_mcp_tool_and_a_bad_argument_goes_back_to_the_model(
    live_asgi, fake_llm, mcp_server: McpLoopback
) -> None:
    from tests.providers_django.given import openai_values, provider_credential

    tenant = factories.tenant_factory()
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    tool = {
        "enabled": True,
        "provider_name": "demo",
        "tool_name": "add",
        "type": "mcp",
        "parameters": {"a": {"auto": 1, "value": None}, "b": {"auto": 1, "value": None}},
    }
    graph = {
        "nodes": [
            {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
            {
                "id": "agent",
                "data": {
                    "type": "agent",
                    "title": "Agent",
                    "agent_strategy_provider_name": "langgenius/agent/agent",
                    "agent_strategy_name": "function_calling",
                    "agent_parameters": {
                        "model": {
                            "type": "constant",
                            "value": {"provider": "langgenius/openai/openai", "model": "gpt-4o-mini"},
                        },
                        "tools": {"type": "constant", "value": [tool]},
                        "query": {"type": "constant", "value": "add things"},
                        "maximum_iterations": {"type": "constant", "value": 3},
                    },
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [{"variable": "answer", "value_selector": ["agent", "text"]}],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "agent", "sourceHandle": "source"},
            {"id": "e2", "source": "agent", "target": "end", "sourceHandle": "source"},
        ],
    }
    app = factories.app_factory(tenant=tenant, mode=AppMode.WORKFLOW, graph=graph)
    add_provider(app, mcp_server)
    key = factories.api_key_factory(app=app)
    fake_llm.push(
        Reply.tools(FakeToolCall("add", {"a": "many", "b": 2}, id="k1"), route="chat"),
        Reply.tools(FakeToolCall("add", {"a": 1, "b": 2}, id="k2"), route="chat"),
        Reply(text="Three.", route="chat"),
    )
    with httpx.Client(base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}) as client:
        response = client.post(
            "/workflows/run", json={"inputs": {}, "user": "u1", "response_mode": "blocking"}, timeout=30
        )
    data = response.json()["data"]
    assert data["status"] == "succeeded", data
    assert data["outputs"] == {"answer": "Three."}
    second, third = (r.json for r in fake_llm.requests_on("chat")[-2:])
    assert second["messages"][-1]["content"].startswith("tool parameters validation error: Parameter a")
    assert third["messages"][-1]["content"] == "3"
