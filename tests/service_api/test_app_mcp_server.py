"""Apps as MCP servers: the console enables, changes, disables and refreshes an app's server, and the
official `mcp` SDK client drives `/mcp/server/<code>/mcp` on the live ASGI server (list tools, call,
errors), for a workflow app and a chat app answered by the loopback model."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from accounts.models import TenantRole
from accounts.tokens import issue_access_token
from apps.models import AppMCPServer, AppMode
from tests import factories
from tests.providers_django.given import openai_values, provider_credential

GRAPH = {
    "nodes": [
        {
            "id": "start",
            "data": {
                "type": "start",
                "title": "Start",
                "variables": [
                    {"variable": "city", "label": "City", "type": "text-input", "required": True},
                    {"variable": "days", "label": "Days", "type": "number", "required": False},
                    {
                        "variable": "unit",
                        "label": "Unit",
                        "type": "select",
                        "options": ["C", "F"],
                        "required": False,
                    },
                    {"variable": "photo", "label": "Photo", "type": "file", "required": False},
                ],
            },
        },
        {
            "id": "tpl",
            "data": {
                "type": "template-transform",
                "title": "T",
                "variables": [
                    {"variable": "city", "value_selector": ["start", "city"]},
                    {"variable": "days", "value_selector": ["start", "days"]},
                ],
                "template": "{{ city }} for {{ days }} days",
            },
        },
        {
            "id": "end",
            "data": {
                "type": "end",
                "title": "End",
                "outputs": [{"variable": "plan", "value_selector": ["tpl", "output"]}],
            },
        },
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "tpl", "sourceHandle": "source"},
        {"id": "e2", "source": "tpl", "target": "end", "sourceHandle": "source"},
    ],
}


@pytest.fixture
def world(live_asgi, fake_llm) -> dict[str, Any]:
    tenant = factories.tenant_factory()
    owner = factories.member_factory(tenant=tenant, role=TenantRole.OWNER)
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    console = httpx.Client(
        base_url=f"{live_asgi.url}/console/api",
        headers={"Authorization": f"Bearer {issue_access_token(account_id=str(owner.id))}"},
        timeout=15,
    )
    return {"tenant": tenant, "console": console, "url": live_asgi.url}


def enable(world: dict[str, Any], app: Any, **body: Any) -> dict[str, Any]:
    response = world["console"].post(
        f"/apps/{app.id}/server",
        json={"description": "Plans trips", "parameters": {"city": "Where to go"}, **body},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def session_do(url: str, operation: Any) -> Any:
    with anyio.fail_after(30):
        async with (
            httpx2.AsyncClient(timeout=20) as client,
            streamable_http_client(url, http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            return init, await operation(session)


def test_a_workflow_app_as_mcp_server_lists_and_calls_its_tool(world: dict[str, Any]) -> None:
    app = factories.app_factory(
        tenant=world["tenant"], mode=AppMode.WORKFLOW, graph=GRAPH, name="trip_planner"
    )
    server = enable(world, app)
    assert server["status"] == "active" and len(server["server_code"]) == 16
    assert world["console"].get(f"/apps/{app.id}/server").json()["id"] == server["id"]
    url = f"{world['url']}/mcp/server/{server['server_code']}/mcp"

    async def scenario(session: ClientSession) -> Any:
        tools = await session.list_tools()
        ok = await session.call_tool("trip_planner", {"city": "Lyon", "days": 3})
        bad = await session.call_tool("trip_planner", {"days": "many"})
        return tools, ok, bad

    init, (tools, ok, bad) = anyio.run(session_do, url, scenario)
    assert init.server_info.name == "Dify" and init.instructions == "Plans trips"
    (tool,) = tools.tools
    assert tool.name == "trip_planner" and tool.description == "Plans trips"
    assert tool.input_schema == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "Where to go"},
            "days": {"type": "number", "description": "Days"},
            "unit": {"type": "string", "description": "Unit", "enum": ["C", "F"]},
        },
        "required": ["city"],
    }
    assert ok.is_error is False
    assert ok.content[0].text == '{"plan": "Lyon for 3 days"}'
    # wrong arguments: a JSON-RPC error the SDK reports as a failed call, naming the problem
    assert bad.is_error is True
    assert bad.content[0].text == "Invalid arguments: 'city' is a required property"


def test_a_chat_app_takes_a_query(world: dict[str, Any], fake_llm) -> None:
    app = factories.app_factory(tenant=world["tenant"], mode=AppMode.CHAT, name="helper")
    server = enable(world, app, parameters={})
    url = f"{world['url']}/mcp/server/{server['server_code']}/mcp"

    async def scenario(session: ClientSession) -> Any:
        tools = await session.list_tools()
        return tools, await session.call_tool("helper", {"query": "hello there"})

    _init, (tools, answer) = anyio.run(session_do, url, scenario)
    assert tools.tools[0].input_schema["required"] == ["query"]
    assert answer.is_error is False
    assert "hello there" in answer.content[0].text  # the loopback model echoes the question


def test_disable_refresh_and_unknown_codes(world: dict[str, Any]) -> None:
    app = factories.app_factory(tenant=world["tenant"], mode=AppMode.WORKFLOW, graph=GRAPH, name="trips")
    server = enable(world, app)
    console = world["console"]
    mcp = httpx.Client(base_url=world["url"], timeout=15)
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    path = f"/mcp/server/{server['server_code']}/mcp"
    assert mcp.post(path, json=ping).json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    # disabled: the endpoint answers a JSON-RPC error
    body = {"id": server["id"], "description": "", "parameters": {}, "status": "inactive"}
    changed = console.put(f"/apps/{app.id}/server", json=body)
    assert changed.status_code == 200 and changed.json()["status"] == "inactive"
    assert changed.json()["description"] == ""  # the app has no description either
    assert mcp.post(path, json=ping).json()["error"]["message"] == "Server is not active"
    assert console.put(f"/apps/{app.id}/server", json={**body, "status": "bogus"}).status_code == 400
    console.put(f"/apps/{app.id}/server", json={**body, "status": "active"})
    # refreshed: the old code is gone, the new one answers
    refreshed = console.get(f"/apps/{server['id']}/server/refresh").json()
    assert refreshed["server_code"] != server["server_code"]
    assert mcp.post(path, json=ping).json()["error"]["message"] == "Server Not Found"
    new_path = f"/mcp/server/{refreshed['server_code']}/mcp"
    assert "result" in mcp.post(new_path, json=ping).json()
    # malformed input never 500s
    assert mcp.post(new_path, content=b"{not json").status_code == 400
    assert (
        mcp.post(new_path, json={"jsonrpc": "2.0", "id": 2, "method": "nope"}).json()["error"]["code"]
        == -32601
    )
    assert (
        mcp.post(new_path, json={"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202
    )
    assert mcp.post(new_path, json=[1, 2]).json()["error"]["code"] == -32600
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "other", "arguments": {}}}
    assert mcp.post(new_path, json=call).json()["error"]["message"] == "Unknown tool: other"
    assert mcp.get(new_path).status_code == 405
    # a second server for the same app is refused; another workspace cannot see or refresh it
    assert console.post(f"/apps/{app.id}/server", json={"parameters": {}}).status_code == 400
    stranger = factories.member_factory(tenant=factories.tenant_factory(), role=TenantRole.OWNER)
    other = httpx.Client(
        base_url=f"{world['url']}/console/api",
        headers={"Authorization": f"Bearer {issue_access_token(account_id=str(stranger.id))}"},
    )
    assert other.get(f"/apps/{app.id}/server").status_code == 404
    assert other.get(f"/apps/{server['id']}/server/refresh").status_code == 404
    assert console.get("/apps/not-a-uuid/server/refresh").status_code == 404
    assert AppMCPServer.objects.count() == 1
