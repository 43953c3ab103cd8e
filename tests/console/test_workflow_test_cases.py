"""Workflow test cases (issue 16): console CRUD, runs from the console with the engine's mocking (what a
case does not mock runs for real, here against the loopback model), results recorded, the DSL carrying
them under `x-test-cases`, and `manage.py workflow_test` with its exit code and JUnit XML."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import httpx
import pytest
import yaml
from django.core.management import CommandError, call_command

from accounts.models import TenantRole
from accounts.tokens import issue_access_token
from tests import factories
from tests.engine.helpers import chain, end, graph, node, start
from tests.providers_django.given import openai_values, provider_credential
from tests.support.fake_llm import Reply
from workflows.models import Workflow, WorkflowTestCase, WorkflowTestResult

MODEL = {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}}
GREETER = graph(
    [
        start("name"),
        node("llm", "llm", model=MODEL, prompt_template=[{"role": "user", "text": "Greet {{#start.name#}}"}]),
        end(greeting=["llm", "text"]),
    ],
    chain("start", "llm", "end"),
)

MOCKED = {
    "name": "mocked llm",
    "inputs": {"name": "Ada"},
    "mocks": [{"node_id": "llm", "outputs": {"text": "Hi Ada"}}],
    "expect": {"status": "succeeded", "outputs": {"greeting": "Hi Ada"}, "answer": "Hi Ada"},
}
BROKEN_MODEL = {
    "name": "model down",
    "inputs": {"name": "Ada"},
    "mocks": [{"node_type": "llm", "error": "model down"}],
    "expect": {"status": "failed", "error_contains": "model down"},
}
REAL_MODEL = {"name": "real model", "inputs": {"name": "Ada"}, "expect": {"answer_contains": "Ada"}}
WRONG = {
    "name": "wrong expectation",
    "inputs": {"name": "Ada"},
    "mocks": [{"node_id": "llm", "outputs": {"text": "Hi Ada"}}],
    "expect": {"outputs": {"greeting": "Bonjour"}},
}


@pytest.fixture
def console(live_asgi, fake_llm):
    tenant = factories.tenant_factory()
    owner = factories.member_factory(tenant=tenant, role=TenantRole.OWNER)
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    client = httpx.Client(
        base_url=f"{live_asgi.url}/console/api",
        timeout=15,
        headers={"Authorization": f"Bearer {issue_access_token(account_id=str(owner.id))}"},
    )
    app = factories.app_factory(tenant=tenant, mode="workflow", graph=GREETER, name="Greeter")
    Workflow.objects.create(tenant=tenant, app_id=app.id, type="workflow", version="draft", graph=GREETER)
    yield client, app, tenant
    client.close()


def cases_url(app) -> str:
    return f"/apps/{app.id}/workflows/test-cases"


def test_crud_of_test_cases(console):
    client, app, tenant = console
    created = client.post(cases_url(app), json=MOCKED)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["name"] == "mocked llm" and case["mocks"] == MOCKED["mocks"] and case["last_result"] is None
    assert client.post(cases_url(app), json=MOCKED).status_code == 409
    bad = client.post(cases_url(app), json={**MOCKED, "name": "bad", "mocks": [{"outputs": {}}]})
    assert bad.status_code == 400 and "node_id or node_type" in bad.json()["message"]
    bad_expect = client.post(cases_url(app), json={**MOCKED, "name": "bad2", "expect": {"status": "great"}})
    assert bad_expect.status_code == 400 and "expect.status" in bad_expect.json()["message"]
    # PATCH changes only what it is given
    patched = client.patch(cases_url(app), json={"id": case["id"], "expect": {"answer": "Hi Ada"}}).json()
    assert patched["expect"] == {"answer": "Hi Ada"} and patched["mocks"] == MOCKED["mocks"]
    assert [c["name"] for c in client.get(cases_url(app)).json()["data"]] == ["mocked llm"]
    # another workspace's app is not found; a chat app has no test cases
    other = factories.app_factory(tenant=factories.tenant_factory(), mode="workflow")
    assert client.get(cases_url(other)).status_code == 404
    chat = factories.app_factory(tenant=tenant, mode="chat")
    assert client.post(cases_url(chat), json=MOCKED).status_code == 400
    assert client.delete(cases_url(app), params={"id": case["id"]}).status_code == 204
    assert client.delete(cases_url(app), params={"id": case["id"]}).status_code == 404
    assert not WorkflowTestCase.objects.exists()


def test_running_cases_from_the_console_reports_and_records_each(console, fake_llm):
    client, app, _ = console
    for case in (MOCKED, BROKEN_MODEL, REAL_MODEL, WRONG):
        assert client.post(cases_url(app), json=case).status_code == 201
    fake_llm.push(Reply(text="Hello Ada, nice to meet you", route="chat"))
    response = client.post(f"{cases_url(app)}/run", json={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["passed"], body["failed"]) == (3, 1)
    results = {r["name"]: r for r in body["results"]}
    assert results["mocked llm"]["passed"] and results["mocked llm"]["answer"] == "Hi Ada"
    assert results["model down"]["passed"] and results["model down"]["status"] == "failed"
    assert results["real model"]["passed"] and results["real model"]["outputs"] == {
        "greeting": "Hello Ada, nice to meet you"
    }
    assert fake_llm.requests_on("chat")[-1].json["messages"][-1]["content"] == "Greet Ada"
    wrong = results["wrong expectation"]
    assert not wrong["passed"] and wrong["failures"] == ["outputs.greeting: expected 'Bonjour', got 'Hi Ada'"]
    draft = Workflow.objects.get(app_id=app.id, version="draft")
    assert body["workflow_id"] == str(draft.id)
    assert WorkflowTestResult.objects.filter(app_id=app.id, workflow_id=draft.id).count() == 4
    listed = {c["name"]: c for c in client.get(cases_url(app)).json()["data"]}
    assert listed["wrong expectation"]["last_result"]["passed"] is False
    # only some cases, against the published version
    one = client.post(
        f"{cases_url(app)}/run", json={"ids": [listed["mocked llm"]["id"]], "version": "published"}
    )
    assert one.json()["workflow_id"] == str(app.workflow_id) and one.json()["passed"] == 1


def test_cases_ride_in_the_dsl_and_run_headless_with_junit(console, tmp_path):
    client, app, _ = console
    for case in (MOCKED, WRONG):
        client.post(cases_url(app), json=case)
    exported = yaml.safe_load(client.get(f"/apps/{app.id}/export").json()["data"])
    assert [c["name"] for c in exported["x-test-cases"]] == ["mocked llm", "wrong expectation"]
    # importing the file brings the cases along (a case of the same name is replaced)
    imported = client.post(
        "/apps/imports",
        json={"mode": "yaml-content", "yaml_content": yaml.safe_dump(exported), "name": "Copy"},
    ).json()
    assert imported["status"] == "completed"
    copied = client.get(f"/apps/{imported['app_id']}/workflows/test-cases").json()["data"]
    assert [c["expect"] for c in copied] == [MOCKED["expect"], WRONG["expect"]]

    source, junit = tmp_path / "greeter.yml", tmp_path / "junit.xml"
    source.write_text(yaml.safe_dump(exported), encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(SystemExit) as failed:
        call_command("workflow_test", str(source), f"--junit={junit}", stdout=out)
    assert failed.value.code == 1
    assert "PASS mocked llm" in out.getvalue() and "1 passed, 1 failed" in out.getvalue()
    suite = ElementTree.parse(junit).getroot()
    assert (suite.tag, suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "testsuite",
        "Greeter",
        "2",
        "1",
    )
    failure = suite.find("testcase[@name='wrong expectation']/failure")
    assert failure is not None and "Bonjour" in failure.get("message")
    call_command("workflow_test", str(source), "--case=mocked llm", stdout=io.StringIO())  # exit 0
    # an app id runs its stored cases against its published version and records them
    with pytest.raises(SystemExit):
        call_command("workflow_test", str(app.id), stdout=io.StringIO())
    assert WorkflowTestResult.objects.filter(app_id=app.id, workflow_id=app.workflow_id).count() == 2
    # nothing to run is a usage error (exit code 2 from the command line)
    with pytest.raises(CommandError) as unusable:
        call_command(
            "workflow_test", str(tmp_path / "missing.yml"), stdout=io.StringIO(), stderr=io.StringIO()
        )
    assert unusable.value.returncode == 2
