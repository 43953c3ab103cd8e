"""Workflow apps through the Service API, end to end over a real socket: blocking, streaming, records."""

from __future__ import annotations

import json

import httpx
import pytest

from apps.models import AppMode
from tests import factories
from workflows.models import WorkflowAppLog, WorkflowNodeExecution, WorkflowRun


def sse_events(response: httpx.Response) -> list[dict]:
    events = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            events.append(json.loads(line[len("data: ") :]))
    return events


@pytest.fixture
def flow(live_asgi):
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    app = factories.app_factory(tenant=tenant, mode=AppMode.WORKFLOW, name="Echo")
    key = factories.api_key_factory(app=app)
    client = httpx.Client(
        base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    yield app, client
    client.close()


def test_blocking_run_returns_outputs_and_records_the_run(flow):
    _, client = flow
    response = client.post("/workflows/run", json={"inputs": {"query": "héllo"}, "user": "u1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"task_id", "workflow_run_id", "data"}
    data = body["data"]
    assert data["status"] == "succeeded" and data["outputs"] == {"query": "héllo"}
    assert data["total_steps"] == 2 and data["error"] is None
    run = WorkflowRun.objects.get(id=body["workflow_run_id"])
    assert (run.status, run.outputs, run.triggered_from) == ("succeeded", {"query": "héllo"}, "app-run")
    assert WorkflowNodeExecution.objects.filter(workflow_run=run).count() == 2
    assert WorkflowAppLog.objects.get(workflow_run=run).created_from == "service-api"
    detail = client.get(f"/workflows/run/{run.id}").json()
    assert detail["status"] == "succeeded" and detail["inputs"] == {"query": "héllo"}


def test_streaming_run_sends_difys_events_in_order(flow):
    _, client = flow
    with client.stream(
        "POST", "/workflows/run", json={"inputs": {"query": "hi"}, "user": "u1", "response_mode": "streaming"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert names.count("node_started") == 2 and names.count("node_finished") == 2
    assert "".join(e["data"]["text"] for e in events if e["event"] == "text_chunk") == "hi"
    run_id = events[0]["workflow_run_id"]
    assert all(e["workflow_run_id"] == run_id and e["task_id"] == events[0]["task_id"] for e in events)
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded" and finished["outputs"] == {"query": "hi"}
    assert finished["total_steps"] == 2 and finished["created_by"]["user"] == "u1"
    # the row is final by the time the client sees workflow_finished
    assert WorkflowRun.objects.get(id=run_id).status == "succeeded"


def test_missing_required_input_is_400_and_nothing_is_recorded(flow):
    _, client = flow
    response = client.post("/workflows/run", json={"inputs": {}, "user": "u1"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_param"
    assert "query" in response.json()["message"]
    assert not WorkflowRun.objects.exists()


def test_user_is_required(flow):
    _, client = flow
    response = client.post("/workflows/run", json={"inputs": {"query": "x"}})
    assert response.status_code == 400 and response.json()["message"] == "Arg user must be provided."


def test_workflow_routes_refuse_a_chat_app(live_asgi):
    tenant = factories.tenant_factory()
    app = factories.app_factory(tenant=tenant, mode="chat")
    key = factories.api_key_factory(app=app)
    response = httpx.post(
        f"{live_asgi.url}/v1/workflows/run",
        json={"inputs": {}, "user": "u"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 400 and response.json()["code"] == "not_workflow_app"


def test_logs_list_published_runs(flow):
    _, client = flow
    for word in ("alpha", "beta"):
        client.post("/workflows/run", json={"inputs": {"query": word}, "user": "u1"})
    logs = client.get("/workflows/logs", params={"limit": 1}).json()
    assert logs["total"] == 2 and logs["has_more"] is True and len(logs["data"]) == 1
    entry = logs["data"][0]
    assert (
        entry["workflow_run"]["status"] == "succeeded" and entry["created_by_end_user"]["session_id"] == "u1"
    )
    filtered = client.get("/workflows/logs", params={"keyword": "alpha"}).json()
    assert filtered["total"] == 1


def test_reattach_replays_a_finished_run(flow):
    _, client = flow
    run_id = client.post("/workflows/run", json={"inputs": {"query": "again"}, "user": "u1"}).json()[
        "workflow_run_id"
    ]
    with client.stream("GET", f"/workflow/{run_id}/events", params={"user": "u1"}) as response:
        events = sse_events(response)
    assert events[0]["event"] == "workflow_started" and events[-1]["event"] == "workflow_finished"
    with client.stream(
        "GET", f"/workflow/{run_id}/events", params={"user": "u1", "after": len(events) - 1}
    ) as r:
        tail = sse_events(r)
    assert [e["event"] for e in tail] == ["workflow_finished"]
    other_user = client.get(f"/workflow/{run_id}/events", params={"user": "u2"})
    assert other_user.status_code == 404
