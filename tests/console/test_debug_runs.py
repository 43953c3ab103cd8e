"""Debugging from the console: draft runs (streaming), one-node runs, stop, and the chat preview with an
unsaved model config. Over a real socket, since these endpoints stream."""

from __future__ import annotations

import json

import httpx
import pytest

from accounts.models import TenantRole
from accounts.tokens import issue_access_token
from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.service_api.test_human_input import GRAPH as HUMAN_GRAPH
from tests.support.fake_llm import Reply
from workflows.models import Workflow, WorkflowAppLog, WorkflowNodeExecution, WorkflowRun

GRAPH = {
    "nodes": [
        {
            "id": "start",
            "data": {
                "type": "start",
                "title": "Start",
                "variables": [{"variable": "name", "label": "Name", "type": "text-input", "required": True}],
            },
        },
        {
            "id": "greet",
            "data": {
                "type": "template-transform",
                "title": "Greet",
                "template": "Hello, {{ name }}!",
                "variables": [{"variable": "name", "value_selector": ["start", "name"]}],
            },
        },
        {
            "id": "end",
            "data": {
                "type": "end",
                "title": "End",
                "outputs": [{"variable": "greeting", "value_selector": ["greet", "output"]}],
            },
        },
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "greet", "sourceHandle": "source"},
        {"id": "e2", "source": "greet", "target": "end", "sourceHandle": "source"},
    ],
}


def events_of(response: httpx.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


@pytest.fixture
def console(live_asgi):
    tenant = factories.tenant_factory()
    owner = factories.member_factory(tenant=tenant, role=TenantRole.OWNER)

    def client_for(account) -> httpx.Client:
        token = issue_access_token(account_id=str(account.id))
        return httpx.Client(
            base_url=f"{live_asgi.url}/console/api", timeout=15, headers={"Authorization": f"Bearer {token}"}
        )

    def workflow_app(graph=GRAPH, mode="workflow"):
        app = factories.app_factory(tenant=tenant, mode=mode, graph=graph)
        Workflow.objects.create(
            tenant=tenant,
            app_id=app.id,
            type="workflow" if mode == "workflow" else "chat",
            version="draft",
            graph=graph,
        )
        return app

    return tenant, owner, client_for, workflow_app


def test_draft_run_streams_and_is_recorded_as_debugging(console):
    tenant, owner, client_for, workflow_app = console
    app = workflow_app()
    with (
        client_for(owner) as client,
        client.stream(
            "POST", f"/apps/{app.id}/workflows/draft/run", json={"inputs": {"name": "Ada"}}
        ) as response,
    ):
        assert response.status_code == 200
        events = events_of(response)
    assert events[0]["event"] == "workflow_started" and events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["outputs"] == {"greeting": "Hello, Ada!"}
    run = WorkflowRun.objects.get(id=events[0]["workflow_run_id"])
    assert (
        run.triggered_from == "debugging" and run.created_by_role == "account" and run.created_by == owner.id
    )
    assert run.workflow.version == "draft" and run.graph  # the draft graph is kept with a debug run
    assert not WorkflowAppLog.objects.exists()  # debug runs are not app logs
    assert tenant


def test_draft_run_needs_an_editor_and_a_valid_input(console):
    tenant, owner, client_for, workflow_app = console
    app = workflow_app()
    normal = factories.member_factory(tenant=tenant, role=TenantRole.NORMAL)
    with client_for(normal) as client:
        assert (
            client.post(f"/apps/{app.id}/workflows/draft/run", json={"inputs": {"name": "x"}}).status_code
            == 403
        )
    with client_for(owner) as client:
        missing = client.post(f"/apps/{app.id}/workflows/draft/run", json={"inputs": {}})
        assert missing.status_code == 400 and missing.json()["code"] == "invalid_param"
    stranger = factories.member_factory(tenant=factories.tenant_factory(), role=TenantRole.OWNER)
    with client_for(stranger) as client:
        assert (
            client.post(f"/apps/{app.id}/workflows/draft/run", json={"inputs": {"name": "x"}}).status_code
            == 404
        )
    assert not WorkflowRun.objects.exists()


def test_run_one_node_with_given_inputs(console):
    _, owner, client_for, workflow_app = console
    app = workflow_app()
    with client_for(owner) as client:
        response = client.post(
            f"/apps/{app.id}/workflows/draft/nodes/greet/run", json={"inputs": {"#start.name#": "Grace"}}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "succeeded" and body["outputs"] == {"output": "Hello, Grace!"}
        assert body["node_type"] == "template-transform"
        row = WorkflowNodeExecution.objects.get(id=body["id"])
        assert row.triggered_from == "single-step" and row.workflow_run_id is None
        unknown = client.post(f"/apps/{app.id}/workflows/draft/nodes/nope/run", json={"inputs": {}})
        assert unknown.status_code == 404
        bad_key = client.post(
            f"/apps/{app.id}/workflows/draft/nodes/greet/run", json={"inputs": {"name": "x"}}
        )
        assert bad_key.status_code == 400


def test_stop_a_paused_free_debug_task_is_accepted(console):
    _, owner, client_for, workflow_app = console
    app = workflow_app(graph=HUMAN_GRAPH)
    with client_for(owner) as client:
        with client.stream(
            "POST", f"/apps/{app.id}/workflows/draft/run", json={"inputs": {"doc": "d"}}
        ) as response:
            events = events_of(response)
        assert events[-1]["event"] == "workflow_paused"
        stopped = client.post(f"/apps/{app.id}/workflow-runs/tasks/{events[0]['task_id']}/stop")
        assert stopped.json() == {"result": "success"}


def test_chat_preview_uses_the_unsaved_model_config(console, fake_llm):
    tenant, owner, client_for, _ = console
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    app = factories.app_factory(tenant=tenant, mode="chat")
    fake_llm.push(Reply(text="preview answer"))
    model_config = {
        "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
        "pre_prompt": "Answer like a pirate.",
        "user_input_form": [],
    }
    with (
        client_for(owner) as client,
        client.stream(
            "POST",
            f"/apps/{app.id}/chat-messages",
            json={"inputs": {}, "query": "hi", "model_config": model_config},
        ) as response,
    ):
        events = events_of(response)
    assert "".join(e.get("answer", "") for e in events if e["event"] == "message") == "preview answer"
    sent = fake_llm.requests[-1].json["messages"]
    assert sent[0] == {"role": "system", "content": "Answer like a pirate.\n"}
    with client_for(owner) as client:
        log = client.get(
            f"/apps/{app.id}/chat-messages", params={"conversation_id": events[0]["conversation_id"]}
        )
        assert log.status_code == 200 and log.json()["data"][0]["answer"] == "preview answer"
        bad = client.post(
            f"/apps/{app.id}/chat-messages",
            json={"inputs": {}, "query": "hi", "model_config": {"model": "not an object"}},
        )
        assert bad.status_code == 400
