"""Pausing for human input and resuming through the Service API's form endpoints."""

from __future__ import annotations

import json

import httpx
import pytest

from tests import factories
from workflows.models import HumanInputForm, WorkflowRun

GRAPH = {
    "nodes": [
        {
            "id": "start",
            "data": {
                "type": "start",
                "title": "Start",
                "variables": [{"variable": "doc", "label": "Doc", "type": "text-input", "required": True}],
            },
        },
        {
            "id": "review",
            "data": {
                "type": "human-input",
                "title": "Review",
                "form_content": "Approve {{#start.doc#}}?",
                "inputs": [],
                "user_actions": [
                    {"id": "approve", "title": "Approve", "button_style": "primary"},
                    {"id": "reject", "title": "Reject", "button_style": "default"},
                ],
            },
        },
        {
            "id": "yes",
            "data": {
                "type": "end",
                "title": "Yes",
                "outputs": [{"variable": "verdict", "value_selector": ["start", "doc"]}],
            },
        },
        {"id": "no", "data": {"type": "end", "title": "No", "outputs": []}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "review", "sourceHandle": "source"},
        {"id": "e2", "source": "review", "target": "yes", "sourceHandle": "approve"},
        {"id": "e3", "source": "review", "target": "no", "sourceHandle": "reject"},
    ],
}


def events_of(response: httpx.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


@pytest.fixture
def client(live_asgi):
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    app = factories.app_factory(tenant=tenant, mode="workflow", graph=GRAPH)
    key = factories.api_key_factory(app=app)
    with httpx.Client(
        base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ) as http:
        yield http


def test_pause_then_resume_with_the_chosen_action(client):
    with client.stream(
        "POST",
        "/workflows/run",
        json={"inputs": {"doc": "plan.pdf"}, "user": "u1", "response_mode": "streaming"},
    ) as response:
        events = events_of(response)
    names = [e["event"] for e in events]
    assert names[-2:] == ["human_input_required", "workflow_paused"]
    required = events[-2]["data"]
    assert required["form_content"] == "Approve plan.pdf?" and required["node_id"] == "review"
    assert [a["id"] for a in required["actions"]] == ["approve", "reject"]
    run_id = events[0]["workflow_run_id"]
    assert WorkflowRun.objects.get(id=run_id).status == "paused"
    token = required["form_token"]
    assert not HumanInputForm.objects.filter(token_hash=token).exists()  # stored hashed

    form = client.get(f"/form/human_input/{token}")
    assert form.status_code == 200 and form.json()["user_actions"][0]["id"] == "approve"
    unknown_action = client.post(f"/form/human_input/{token}", json={"action": "maybe", "user": "u1"})
    assert unknown_action.status_code == 400
    submitted = client.post(
        f"/form/human_input/{token}", json={"action": "approve", "inputs": {}, "user": "u1"}
    )
    assert submitted.status_code == 200 and submitted.json() == {}

    with client.stream("GET", f"/workflow/{run_id}/events", params={"user": "u1"}) as response:
        resumed = events_of(response)
    names = [e["event"] for e in resumed]
    assert names[0] == "human_input_form_filled" and names[-1] == "workflow_finished"
    assert resumed[0]["data"]["action_id"] == "approve"
    assert resumed[-1]["data"]["status"] == "succeeded"
    assert resumed[-1]["data"]["outputs"] == {"verdict": "plan.pdf"}
    run = WorkflowRun.objects.get(id=run_id)
    assert run.status == "succeeded" and run.outputs == {"verdict": "plan.pdf"}
    again = client.post(f"/form/human_input/{token}", json={"action": "approve", "user": "u1"})
    assert again.status_code == 412 and again.json()["code"] == "human_input_form_submitted"


def test_blocking_run_reports_the_pause(client):
    body = client.post("/workflows/run", json={"inputs": {"doc": "x"}, "user": "u1"}).json()
    assert body["data"]["status"] == "paused"
    assert body["data"]["paused_nodes"] == ["review"]
    assert body["data"]["reasons"][0]["TYPE"] == "human_input_required"


def test_unknown_form_is_404(client):
    assert client.get("/form/human_input/nope").status_code == 404
