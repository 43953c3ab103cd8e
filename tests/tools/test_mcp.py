"""MCP servers as workspace tools: the console's MCP provider endpoints, and tool nodes calling the tools,
against real MCP servers built with the `mcp` SDK on loopback (streamable HTTP and SSE), plus servers
that are dead, silent or list schemas we cannot read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from accounts.models import Tenant, TenantRole
from providers.tools.models import MCPToolProvider
from providers.tools.port import TenantToolPort
from tests import factories
from tests.support.mcp_servers import McpLoopback, free_port, raw_jsonrpc, silent, sse_app, streamable_app
from tests.tools.conftest import MemoryFiles
from workflows.engine import Engine, NodeFailed, NodeSucceeded, Ports, ToolRequest, parse_graph

MCP = "/console/api/workspaces/current/tool-provider/mcp"


@pytest.fixture
def streamable() -> Iterator[McpLoopback]:
    with McpLoopback(streamable_app()) as server:
        yield server


@pytest.fixture
def sse() -> Iterator[McpLoopback]:
    with McpLoopback(sse_app()) as server:
        yield server


def add_body(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "server_url": url,
        "name": "Demo MCP",
        "icon": "🤖",
        "icon_type": "emoji",
        "icon_background": "#FFEAD5",
        "server_identifier": "demo",
        "headers": {"X-Api-Key": "secret-key-123456"},
        **extra,
    }


def added(client: APIClient, url: str, **extra: Any) -> dict[str, Any]:
    response = client.post(MCP, add_body(url, **extra), format="json")
    assert response.status_code == 200, response.content
    return response.json()


# --- console ---------------------------------------------------------------------------------------------


def test_an_added_server_is_authorised_and_lists_its_tools_with_schemas(
    owner_client: APIClient, tenant: Tenant, streamable: McpLoopback
) -> None:
    # given a server added to the workspace (saved, not yet connected: as Dify)
    provider = added(owner_client, f"{streamable.url}/mcp")
    assert provider["type"] == "mcp" and provider["is_team_authorization"] is False
    assert provider["icon"] == {"content": "🤖", "background": "#FFEAD5"}
    # when the console authorises it
    auth = owner_client.post(f"{MCP}/auth", {"provider_id": provider["id"]}, format="json")
    # then it connected with the custom header, and the tools are kept with Dify's parameter schema
    assert auth.status_code == 200, auth.content
    assert auth.json() == {"result": "success"}
    assert any(h.get("x-api-key") == "secret-key-123456" for h in streamable.headers)
    detail = owner_client.get(f"{MCP}/tools/{provider['id']}").json()
    assert detail["is_team_authorization"] is True
    tools = {tool["name"]: tool for tool in detail["tools"]}
    assert set(tools) == {"add", "shout", "pixel", "fail"}
    assert tools["add"]["description"]["en_US"] == "Add two integers."
    assert [(p["name"], p["type"], p["required"], p["form"]) for p in tools["add"]["parameters"]] == [
        ("a", "number", True, "llm"),
        ("b", "number", True, "llm"),
    ]
    # and secrets are masked: the URL's path and the header values
    assert detail["server_url"] == f"{streamable.url}/******"
    assert detail["masked_headers"]["X-Api-Key"] != "secret-key-123456"
    assert "secret-key-123456" not in str(
        owner_client.get("/console/api/workspaces/current/tools/mcp").json()
    )
    row = MCPToolProvider.objects.get(id=provider["id"])
    assert row.server_url == f"{streamable.url}/mcp" and row.headers == {"X-Api-Key": "secret-key-123456"}
    # and it shows in the provider lists, addressed by server identifier where tool nodes pick tools
    listed = owner_client.get("/console/api/workspaces/current/tools/mcp").json()
    assert [p["id"] for p in listed] == ["demo"]
    everything = owner_client.get("/console/api/workspaces/current/tool-providers", {"type": "mcp"}).json()
    assert [p["name"] for p in everything] == ["Demo MCP"]


def test_the_sse_transport_is_used_for_an_sse_url(owner_client: APIClient, sse: McpLoopback) -> None:
    provider = added(owner_client, f"{sse.url}/sse")
    refreshed = owner_client.get(f"{MCP}/update/{provider['id']}")
    assert refreshed.status_code == 200, refreshed.content
    assert {tool["name"] for tool in refreshed.json()["tools"]} == {"add", "shout", "pixel", "fail"}
    assert any(h.get("x-api-key") == "secret-key-123456" for h in sse.headers)


def test_update_keeps_the_hidden_url_and_masked_headers_and_delete_removes(
    owner_client: APIClient, streamable: McpLoopback
) -> None:
    provider = added(owner_client, f"{streamable.url}/mcp")
    owner_client.post(f"{MCP}/auth", {"provider_id": provider["id"]}, format="json")
    detail = owner_client.get(f"{MCP}/tools/{provider['id']}").json()
    # when the console sends back what it was shown, renaming the provider
    body = add_body(
        "[__HIDDEN__]", provider_id=provider["id"], name="Renamed", headers=detail["masked_headers"]
    )
    assert owner_client.put(MCP, body, format="json").json() == {"result": "success"}
    # then the URL, the header and the tools are unchanged
    row = MCPToolProvider.objects.get(id=provider["id"])
    assert row.name == "Renamed" and row.server_url == f"{streamable.url}/mcp"
    assert row.headers == {"X-Api-Key": "secret-key-123456"} and len(row.tools) == 4
    # and delete removes it
    assert owner_client.delete(MCP, {"provider_id": provider["id"]}, format="json").status_code == 200
    assert not MCPToolProvider.objects.exists()


def test_bad_input_duplicates_and_permissions(
    owner_client: APIClient, member_client: Any, streamable: McpLoopback, tenant: Tenant
) -> None:
    added(owner_client, f"{streamable.url}/mcp")
    cases = [
        add_body("ftp://example.com/mcp", name="x", server_identifier="x"),
        add_body("not a url", name="x", server_identifier="x"),
        add_body(f"{streamable.url}/other", server_identifier="other"),  # same name
        add_body(f"{streamable.url}/mcp", name="Other", server_identifier="other"),  # same URL
        add_body(f"{streamable.url}/other", name="Other"),  # same identifier
        add_body(f"{streamable.url}/other", name="Other", server_identifier="Bad Id!"),
        add_body(f"{streamable.url}/other", name="Other", server_identifier="o", timeout=-1),
        {"name": "missing fields"},
    ]
    for body in cases:
        response = owner_client.post(MCP, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["code"] == "invalid_param"
    assert MCPToolProvider.objects.count() == 1
    editor = member_client(TenantRole.EDITOR)
    assert (
        editor.post(
            MCP, add_body(f"{streamable.url}/x", name="E", server_identifier="e"), format="json"
        ).status_code
        == 403
    )
    # another workspace sees nothing
    other = factories.member_factory(tenant=factories.tenant_factory(), role=TenantRole.OWNER)
    row = MCPToolProvider.objects.get()
    client = APIClient()
    from accounts.tokens import issue_access_token

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(account_id=str(other.id))}")
    assert client.get(f"{MCP}/tools/{row.id}").status_code == 404
    assert client.post(f"{MCP}/auth", {"provider_id": str(row.id)}, format="json").status_code == 404


def test_a_dead_server_answers_a_clear_400_quickly(owner_client: APIClient) -> None:
    provider = added(owner_client, f"http://127.0.0.1:{free_port()}/mcp")
    started = time.monotonic()
    response = owner_client.post(f"{MCP}/auth", {"provider_id": provider["id"]}, format="json")
    assert time.monotonic() - started < 10
    assert response.status_code == 400
    assert response.json()["message"].startswith("Failed to connect to MCP server")
    assert MCPToolProvider.objects.get().authed is False


def test_a_silent_server_times_out_with_a_clear_400(owner_client: APIClient) -> None:
    with McpLoopback(silent()) as server:
        provider = added(owner_client, f"{server.url}/mcp", timeout=1)
        started = time.monotonic()
        response = owner_client.get(f"{MCP}/update/{provider['id']}")
    assert time.monotonic() - started < 10
    assert response.status_code == 400
    assert "did not answer" in response.json()["message"]


@pytest.mark.parametrize(
    ("tools", "reason"),
    [
        ([{"name": "bad", "inputSchema": {"type": "object", "properties": "nope"}}], "not valid MCP"),
        ([{"name": "bad", "inputSchema": {"type": "array"}}], "inputSchema.type"),
        ([{"name": "bad", "inputSchema": {"type": "object", "required": "x"}}], "not valid MCP"),
        (
            [{"name": "bad", "inputSchema": {"type": "object", "properties": {"x": {"type": 12}}}}],
            "not valid JSON Schema",
        ),
        ([{"inputSchema": {"type": "object"}}], "not valid MCP"),
    ],
)
def test_a_schema_we_cannot_read_is_refused_and_nothing_kept(
    owner_client: APIClient, tools: list[Any], reason: str
) -> None:
    with McpLoopback(raw_jsonrpc(tools)) as server:
        provider = added(owner_client, f"{server.url}/mcp")
        response = owner_client.get(f"{MCP}/update/{provider['id']}")
    assert response.status_code == 400, response.content
    assert reason in response.json()["message"]
    assert MCPToolProvider.objects.get().tools == []


def test_the_connection_goes_through_the_ssrf_guard(
    owner_client: APIClient, streamable: McpLoopback, ssrf_strict: None
) -> None:
    provider = added(owner_client, f"{streamable.url}/mcp")
    response = owner_client.post(f"{MCP}/auth", {"provider_id": provider["id"]}, format="json")
    assert response.status_code == 400
    assert "not allowed" in response.json()["message"]
    assert streamable.headers == []  # no request reached the server


# --- tool nodes ------------------------------------------------------------------------------------------


def tool_graph(arguments: dict[str, Any], tool: str = "add") -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": "start",
                "data": {
                    "type": "start",
                    "title": "Start",
                    "variables": [{"variable": "x", "label": "x", "type": "text-input", "required": False}],
                },
            },
            {
                "id": "mcp",
                "data": {
                    "type": "tool",
                    "title": "MCP",
                    "provider_type": "mcp",
                    "provider_id": "demo",
                    "provider_name": "demo",
                    "tool_name": tool,
                    "tool_configurations": {},
                    "tool_parameters": arguments,
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [
                        {"variable": "text", "value_selector": ["mcp", "text"]},
                        {"variable": "json", "value_selector": ["mcp", "json"]},
                        {"variable": "files", "value_selector": ["mcp", "files"]},
                    ],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "mcp", "sourceHandle": "source"},
            {"id": "e2", "source": "mcp", "target": "end", "sourceHandle": "source"},
        ],
    }


async def given_provider(url: str, **fields: Any) -> str:
    def make() -> str:
        from tests.support.mcp_servers import demo_mcp  # noqa: F401 - the schemas below are its own

        tenant = factories.tenant_factory()
        row = MCPToolProvider(
            tenant=tenant,
            name="Demo",
            server_identifier="demo",
            server_url=url,
            server_url_hash=url,
            authed=True,
            tools=fields.pop("tools", None) or DEMO_TOOLS,
            **fields,
        )
        row.headers = {"Authorization": "Bearer t-1"}
        row.save()
        return str(tenant.id)

    return await sync_to_async(make)()


def _schema(**properties: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in properties.items()},
        "required": list(properties),
    }


DEMO_TOOLS = [
    {"name": "add", "description": "Add two integers.", "inputSchema": _schema(a="integer", b="integer")},
    {"name": "shout", "description": "Upper-case a text.", "inputSchema": _schema(text="string")},
    {"name": "pixel", "description": "A one-pixel PNG.", "inputSchema": _schema()},
    {"name": "fail", "description": "Always fails.", "inputSchema": _schema()},
]


async def run_graph(tenant_id: str, graph: dict[str, Any], x: str = "") -> Any:
    engine = Engine(ports=Ports(tools=TenantToolPort(tenant_id=tenant_id, user="u1", files=MemoryFiles())))
    return await engine.run(parse_graph(graph), inputs={"x": x}).collect()


def node_event(outcome: Any, kind: type) -> Any:
    return next(e for e in outcome.events if isinstance(e, kind) and e.node_id == "mcp")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_a_tool_node_calls_an_mcp_tool(transport: str, request: pytest.FixtureRequest) -> None:
    server: McpLoopback = request.getfixturevalue(transport)
    tenant_id = await given_provider(
        f"{server.url}/mcp" if transport == "streamable" else f"{server.url}/sse"
    )
    # a variable given as text is cast to the schema's integer
    graph = tool_graph(
        {"a": {"type": "variable", "value": ["start", "x"]}, "b": {"type": "constant", "value": 5}}
    )
    outcome = await run_graph(tenant_id, graph, x="37")
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["text"] == "42"
    assert any(h.get("authorization") == "Bearer t-1" for h in server.headers)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_an_mcp_image_is_a_file_and_a_tool_error_fails_the_node(streamable: McpLoopback) -> None:
    tenant_id = await given_provider(f"{streamable.url}/mcp")
    image = await run_graph(tenant_id, tool_graph({}, tool="pixel"))
    assert image.status == "succeeded", image.error
    assert len(image.outputs["files"]) == 1
    failed = await run_graph(tenant_id, tool_graph({}, tool="fail"))
    assert failed.status == "failed"
    event = node_event(failed, NodeFailed)
    assert event.error.startswith("MCP tool fail failed:")
    assert event.error_type == "ToolInvokeError"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_wrong_argument_types_fail_the_node_before_any_call(streamable: McpLoopback) -> None:
    tenant_id = await given_provider(f"{streamable.url}/mcp")
    graph = tool_graph({"a": {"type": "constant", "value": "twelve"}, "b": {"type": "constant", "value": 1}})
    outcome = await run_graph(tenant_id, graph)
    event = node_event(outcome, NodeFailed)
    assert event.error_type == "ToolParameterValidationError"
    assert event.error == "Parameter a of MCP tool add must be a integer, got 'twelve'"
    missing = await run_graph(tenant_id, tool_graph({"a": {"type": "constant", "value": 1}}))
    assert "'b' is a required property" in node_event(missing, NodeFailed).error
    assert not any(h.get("content-type") == "application/json" for h in streamable.headers)  # nothing sent


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_a_dead_or_silent_server_fails_the_node_clearly_and_quickly() -> None:
    dead = await given_provider(f"http://127.0.0.1:{free_port()}/mcp")
    graph = tool_graph({"a": {"type": "constant", "value": 1}, "b": {"type": "constant", "value": 2}})
    started = time.monotonic()
    outcome = await run_graph(dead, graph)
    assert outcome.status == "failed"
    assert node_event(outcome, NodeFailed).error.startswith("Failed to connect to MCP server")
    with McpLoopback(silent()) as server:

        def point_at_silent() -> None:
            MCPToolProvider.objects.filter(tenant_id=dead).update(
                server_url=f"{server.url}/mcp", timeout=0.5, sse_read_timeout=0.5
            )

        await sync_to_async(point_at_silent)()
        silent_outcome = await run_graph(dead, graph)
    assert "did not answer" in node_event(silent_outcome, NodeFailed).error
    assert time.monotonic() - started < 15


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_the_tool_spec_an_agent_sees_is_the_servers_schema(streamable: McpLoopback) -> None:
    tenant_id = await given_provider(f"{streamable.url}/mcp")
    port = TenantToolPort(tenant_id=tenant_id)
    spec = await port.tool_spec(provider_type="mcp", provider_id="demo", tool_name="add")
    assert spec.name == "add" and spec.description == "Add two integers."
    assert spec.parameters["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}
    assert spec.parameters["required"] == ["a", "b"]
    messages = [
        m
        async for m in port.invoke(
            ToolRequest(provider_type="mcp", provider_id="demo", tool_name="shout", parameters={"text": "hi"})
        )
    ]
    assert [m.text for m in messages if m.type == "text"] == ["HI!"]
    assert isinstance(NodeSucceeded, type)
