"""Workflow as tool: the console publishes a workflow app as a workspace tool (Dify's workflow tool
providers), another workflow's tool node calls it with the real engine and ports, the depth limit holds,
and a workflow calling itself fails with a clear message."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from accounts.models import Tenant, TenantRole
from apps.models import AppMode, WorkflowToolProvider
from providers.tools.port import TenantToolPort
from tests import factories
from workflows.engine import Engine, NodeFailed, Ports, parse_graph

TOOLS = "/console/api/workspaces/current/tool-provider/workflow"


def greeter_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": "start",
                "data": {
                    "type": "start",
                    "title": "Start",
                    "variables": [
                        {"variable": "name", "label": "Name", "type": "text-input", "required": True},
                        {"variable": "times", "label": "Times", "type": "number", "required": False},
                    ],
                },
            },
            {
                "id": "tpl",
                "data": {
                    "type": "template-transform",
                    "title": "T",
                    "variables": [
                        {"variable": "name", "value_selector": ["start", "name"]},
                        {"variable": "times", "value_selector": ["start", "times"]},
                    ],
                    "template": "hello {{ name }} x{{ times }}",
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [{"variable": "greeting", "value_selector": ["tpl", "output"]}],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "tpl", "sourceHandle": "source"},
            {"id": "e2", "source": "tpl", "target": "end", "sourceHandle": "source"},
        ],
    }


def caller_graph(provider_id: str, tool_name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
            {
                "id": "wf",
                "data": {
                    "type": "tool",
                    "title": "Workflow tool",
                    "provider_type": "workflow",
                    "provider_id": provider_id,
                    "provider_name": tool_name,
                    "tool_name": tool_name,
                    "tool_configurations": {},
                    "tool_parameters": parameters,
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [
                        {"variable": "json", "value_selector": ["wf", "json"]},
                        {"variable": "text", "value_selector": ["wf", "text"]},
                    ],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "wf", "sourceHandle": "source"},
            {"id": "e2", "source": "wf", "target": "end", "sourceHandle": "source"},
        ],
    }


def create_body(app_id: Any, name: str = "greeter") -> dict[str, Any]:
    return {
        "workflow_app_id": str(app_id),
        "name": name,
        "label": "Greeter",
        "description": "Greets someone",
        "icon": {"content": "👋", "background": "#FFEAD5"},
        "parameters": [{"name": "name", "description": "Who to greet", "form": "llm"}],
        "output_schema": {},
        "labels": ["social"],
    }


def test_the_console_publishes_a_workflow_as_a_tool(
    owner_client: APIClient, tenant: Tenant, member_client: Any
) -> None:
    app = factories.app_factory(tenant=tenant, mode=AppMode.WORKFLOW, graph=greeter_graph())
    response = owner_client.post(f"{TOOLS}/create", create_body(app.id), format="json")
    assert response.status_code == 200, response.content
    row = WorkflowToolProvider.objects.get()
    detail = owner_client.get(f"{TOOLS}/get", {"workflow_app_id": str(app.id)}).json()
    assert detail["workflow_tool_id"] == str(row.id) and detail["synced"] is True
    parameters = {p["name"]: p for p in detail["tool"]["parameters"]}
    assert parameters["name"]["llm_description"] == "Who to greet" and parameters["name"]["required"] is True
    assert parameters["times"]["type"] == "number"
    listed = owner_client.get("/console/api/workspaces/current/tools/workflow").json()
    assert [(p["id"], p["type"], p["name"]) for p in listed] == [(str(row.id), "workflow", "greeter")]
    tools = owner_client.get(f"{TOOLS}/tools", {"workflow_tool_id": str(row.id)}).json()
    assert tools[0]["name"] == "greeter"
    # bad input, duplicates, a non-workflow app, roles
    assert (
        owner_client.post(f"{TOOLS}/create", create_body(app.id, "bad name!"), format="json").status_code
        == 400
    )
    assert owner_client.post(f"{TOOLS}/create", create_body(app.id), format="json").status_code == 400
    chat = factories.app_factory(tenant=tenant, mode=AppMode.CHAT)
    assert owner_client.post(f"{TOOLS}/create", create_body(chat.id, "c"), format="json").status_code == 400
    editor = member_client(TenantRole.EDITOR)
    assert editor.post(f"{TOOLS}/delete", {"workflow_tool_id": str(row.id)}, format="json").status_code == 403
    update = {**create_body(app.id, "greeter2"), "workflow_tool_id": str(row.id)}
    assert owner_client.post(f"{TOOLS}/update", update, format="json").status_code == 200
    assert WorkflowToolProvider.objects.get().name == "greeter2"
    assert owner_client.get(f"{TOOLS}/get", {"workflow_tool_id": "nope"}).status_code == 400
    assert (
        owner_client.post(f"{TOOLS}/delete", {"workflow_tool_id": str(row.id)}, format="json").status_code
        == 200
    )
    assert not WorkflowToolProvider.objects.exists()


async def given_tool(graph: dict[str, Any] | None = None) -> tuple[str, str, Any]:
    def make() -> tuple[str, str, Any]:
        tenant = factories.tenant_factory()
        app = factories.app_factory(tenant=tenant, mode=AppMode.WORKFLOW, graph=graph or greeter_graph())
        row = WorkflowToolProvider.objects.create(
            tenant=tenant, app=app, name="greeter", label="Greeter", description="Greets someone"
        )
        return str(tenant.id), str(row.id), app

    return await sync_to_async(make)()


async def run(tenant_id: str, graph: dict[str, Any]) -> Any:
    engine = Engine(ports=Ports(tools=TenantToolPort(tenant_id=tenant_id, user="u1")))
    return await engine.run(parse_graph(graph), inputs={}).collect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_another_workflow_calls_the_workflow_tool() -> None:
    tenant_id, provider_id, _app = await given_tool()
    parameters = {
        "name": {"type": "constant", "value": "Ada"},
        "times": {"type": "constant", "value": "3"},  # cast to the start variable's number
    }
    outcome = await run(tenant_id, caller_graph(provider_id, "greeter", parameters))
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["json"] == [{"greeting": "hello Ada x3"}]
    assert outcome.outputs["text"] == '{"greeting": "hello Ada x3"}'
    # the agent sees the start variables as the function's parameters
    spec = await TenantToolPort(tenant_id=tenant_id).tool_spec(
        provider_type="workflow", provider_id=provider_id, tool_name="greeter"
    )
    assert spec.name == "greeter" and spec.parameters["required"] == ["name"]
    # a missing required input fails the node naming it
    missing = await run(tenant_id, caller_graph(provider_id, "greeter", {}))
    failed = next(e for e in missing.events if isinstance(e, NodeFailed) and e.node_id == "wf")
    assert "name" in failed.error


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_the_call_depth_limit_holds(settings: Any) -> None:
    settings.WORKFLOW_CALL_MAX_DEPTH = 0
    tenant_id, provider_id, _app = await given_tool()
    parameters = {"name": {"type": "constant", "value": "Ada"}}
    outcome = await run(tenant_id, caller_graph(provider_id, "greeter", parameters))
    assert outcome.status == "failed"
    assert "Max workflow call depth 0 reached" in outcome.error


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_a_workflow_calling_itself_fails_clearly() -> None:
    tenant_id, provider_id, app = await given_tool()

    def loop_back() -> dict[str, Any]:
        graph = caller_graph(provider_id, "greeter", {"name": {"type": "constant", "value": "me"}})
        workflow = app.workflow
        workflow.graph = graph
        workflow.version = "2026-01-02 00:00:00.000000"
        workflow.save()
        return graph

    graph = await sync_to_async(loop_back)()
    outcome = await run(tenant_id, graph)
    assert outcome.status == "failed"
    assert "a workflow cannot call itself" in outcome.error
