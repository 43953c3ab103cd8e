"""Replay through the HTTP API: a run recorded on the live server (app setting or request flag), replayed
from the console with and without node overrides, turned into a test case, and the replay_run command."""

from __future__ import annotations

import json

import httpx
import pytest
from django.core.management import call_command

from apps.models import AppMode, RunReplayLog
from tests import factories
from tests.engine.helpers import chain, end, graph, node, start, template
from tests.providers_django.given import OPENAI_KEY, openai_values, provider_credential
from tests.support.fake_llm import Reply

MODEL = {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}}


def llm_graph() -> dict:
    llm = node(
        "llm",
        "llm",
        model=MODEL,
        prompt_template=[{"role": "user", "text": "{{#start.query#}}"}],
        context={"enabled": False},
    )
    shout = template("shout", "{{ said }}!", said=["llm", "text"])
    return graph(
        [start("query"), llm, shout, end(text=["llm", "text"], shout=["shout", "output"])],
        chain("start", "llm", "shout", "end"),
    )


@pytest.fixture
def flow(live_asgi, fake_llm, client_for):
    tenant = factories.tenant_factory()
    owner = factories.member_factory(tenant=tenant, role="owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    app = factories.app_factory(tenant=tenant, mode=AppMode.WORKFLOW, graph=llm_graph())
    key = factories.api_key_factory(app=app)
    client = httpx.Client(
        base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
    )
    yield app, client, client_for(owner)
    client.close()


def run_once(client: httpx.Client, fake_llm, **extra) -> str:
    fake_llm.push(Reply(text="bonjour", usage=(7, 3)))
    response = client.post("/workflows/run", json={"inputs": {"query": "hello"}, "user": "u1", **extra})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["outputs"] == {"text": "bonjour", "shout": "bonjour!"}
    return response.json()["workflow_run_id"]


def test_an_app_that_records_replays_its_run_without_calling_the_model(flow, fake_llm):
    app, client, console = flow
    # given the app records replay logs (console setting) and one run
    put = console.put(
        f"/console/api/apps/{app.id}/replay-settings", {"replay_log_enabled": True}, format="json"
    )
    assert put.status_code == 200 and put.json() == {"replay_log_enabled": True}
    run_id = run_once(client, fake_llm)
    record = RunReplayLog.objects.get(workflow_run_id=run_id)
    assert [(e["node_id"], e["port"]) for e in record.log["entries"]] == [("llm", "models")]
    assert OPENAI_KEY not in json.dumps(record.log)
    calls = len(fake_llm.requests_on("chat"))
    # when it is replayed
    response = console.post(f"/console/api/apps/{app.id}/workflow-runs/{run_id}/replay", {}, format="json")
    # then everything matches and the model was not called again
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outputs"] == {"text": "bonjour", "shout": "bonjour!"}
    assert body["matched"] is True, json.dumps(body["nodes"])[:3000]
    assert {n["node_id"]: n["matched"] for n in body["nodes"]} == {
        "start": True,
        "llm": True,
        "shout": True,
        "end": True,
    }
    assert len(fake_llm.requests_on("chat")) == calls


def test_a_node_override_shows_the_difference_and_an_overridden_llm_runs_live(flow, fake_llm):
    app, client, console = flow
    run_id = run_once(client, fake_llm, replay_log=True)  # the request asks; the app does not
    url = f"/console/api/apps/{app.id}/workflow-runs/{run_id}/replay"
    # a changed template: its output and the run's outputs differ, the llm still answers from the log
    body = console.post(
        url, {"node_overrides": {"shout": {"template": "{{ said }}?!"}}}, format="json"
    ).json()
    assert body["matched"] is False and body["outputs"]["shout"] == "bonjour?!"
    nodes = {n["node_id"]: n for n in body["nodes"]}
    assert nodes["llm"]["matched"] and not nodes["shout"]["matched"] and nodes["shout"]["overridden"]
    # an overridden llm node calls the model for real with its new prompt
    fake_llm.push(Reply(text="salut", usage=(5, 1)))
    override = {"llm": {"prompt_template": [{"role": "user", "text": "French: {{#start.query#}}"}]}}
    body = console.post(url, {"node_overrides": override}, format="json").json()
    assert body["outputs"] == {"text": "salut", "shout": "salut!"}
    assert fake_llm.requests_on("chat")[-1].json["messages"][-1]["content"] == "French: hello"
    # bad overrides are 400 in Dify's error body
    bad = console.post(url, {"node_overrides": {"nope": {}}}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"


def test_a_run_without_a_log_is_400_and_a_run_becomes_a_passing_test_case(flow, fake_llm):
    app, client, console = flow
    plain = run_once(client, fake_llm)
    assert not RunReplayLog.objects.filter(workflow_run_id=plain).exists()
    missing = console.post(f"/console/api/apps/{app.id}/workflow-runs/{plain}/replay", {}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "replay_log_not_found"
    # a recorded run becomes a test case: recorded llm outputs as mocks, run outputs as assertions
    run_id = run_once(client, fake_llm, replay_log=True)
    made = console.post(f"/console/api/apps/{app.id}/workflow-runs/{run_id}/test-case", {}, format="json")
    assert made.status_code == 201, made.content
    case = made.json()
    assert case["inputs"] == {"query": "hello"}
    assert [m["node_id"] for m in case["mocks"]] == ["llm"]
    assert case["expect"]["outputs"] == {"text": "bonjour", "shout": "bonjour!"}
    calls = len(fake_llm.requests_on("chat"))
    result = console.post(
        f"/console/api/apps/{app.id}/workflows/test-cases/run", {"version": "published"}, format="json"
    ).json()
    assert (result["passed"], result["failed"]) == (1, 0)
    assert len(fake_llm.requests_on("chat")) == calls  # mocked, not called


def test_the_replay_run_command_reports_and_exits_nonzero_on_a_difference(flow, fake_llm, capsys):
    _, client, _ = flow
    run_id = run_once(client, fake_llm, replay_log=True)
    call_command("replay_run", run_id)
    assert "outputs match" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        call_command("replay_run", run_id, "--override", 'shout={"template": "x"}')
    assert exited.value.code == 1
    assert "DIFF  shout  (overridden)" in capsys.readouterr().out
