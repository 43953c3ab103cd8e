"""Version-pinned calls and promotion (issue 16): `workflow_id` in the body of `workflows/run` and of
`chat-messages` for chatflows, a DSL import updating an app in place (and publishing it), and
`manage.py import_app` for CI/CD."""

from __future__ import annotations

import io

import httpx
import pytest
import yaml
from django.core.management import call_command

from apps.models import App
from tests import factories
from tests.engine.helpers import answer, chain, end, graph, start, template
from workflows.dsl import CURRENT_DSL_VERSION
from workflows.models import Workflow


def echo_graph(prefix: str) -> dict:
    return graph(
        [
            start("query"),
            template("tpl", prefix + "{{ q }}", q=["start", "query"]),
            end(out=["tpl", "output"]),
        ],
        chain("start", "tpl", "end"),
    )


def chat_graph(prefix: str) -> dict:
    return graph([start(), answer("answer", prefix + "{{#sys.query#}}")], chain("start", "answer"))


def dsl(graph_: dict, *, mode: str = "workflow", name: str = "Promoted") -> str:
    return yaml.safe_dump(
        {
            "version": CURRENT_DSL_VERSION,
            "kind": "app",
            "app": {"name": name, "mode": mode, "icon": "🤖", "icon_background": "#FFEAD5"},
            "workflow": {
                "graph": graph_,
                "features": {},
                "environment_variables": [],
                "conversation_variables": [],
            },
        },
        allow_unicode=True,
    )


def add_version(app: App, graph_: dict, *, serve: bool) -> Workflow:
    """Another published version of the app (served from now on when ``serve``)."""
    last = app.workflow
    version = Workflow.objects.create(
        tenant=app.tenant,
        app_id=app.id,
        type=last.type,
        version=f"2026-02-0{last.number + 1} 00:00:00.000000",
        number=last.number + 1,
        graph=graph_,
    )
    if serve:
        app.workflow = version
        app.save(update_fields=["workflow"])
    return version


@pytest.fixture
def api(live_asgi):
    def make(app: App) -> httpx.Client:
        key = factories.api_key_factory(app=app)
        return httpx.Client(
            base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )

    return make


# --- pinned calls ------------------------------------------------------------------------------------------


def test_workflow_id_in_the_body_of_workflows_run_pins_a_published_version(api):
    app = factories.app_factory(tenant=factories.tenant_factory(), mode="workflow", graph=echo_graph("v1: "))
    v1 = app.workflow
    add_version(app, echo_graph("v2: "), serve=True)
    client = api(app)
    run = {"inputs": {"query": "hi"}, "user": "ci"}
    pinned = client.post("/workflows/run", json={**run, "workflow_id": str(v1.id)}).json()
    assert pinned["data"]["outputs"] == {"out": "v1: hi"} and pinned["data"]["workflow_id"] == str(v1.id)
    assert client.post("/workflows/run", json=run).json()["data"]["outputs"] == {"out": "v2: hi"}
    # the path form still works, and wins over the body
    by_path = client.post(f"/workflows/{v1.id}/run", json={**run, "workflow_id": str(app.workflow_id)}).json()
    assert by_path["data"]["outputs"] == {"out": "v1: hi"}
    draft = Workflow.objects.create(
        tenant=app.tenant, app_id=app.id, type="workflow", version="draft", graph={}
    )
    refused = client.post("/workflows/run", json={**run, "workflow_id": str(draft.id)})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_param"
    missing = client.post(
        "/workflows/run", json={**run, "workflow_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert missing.status_code == 404
    assert client.post("/workflows/run", json={**run, "workflow_id": "v1"}).status_code == 400


def test_workflow_id_in_chat_messages_pins_a_chatflow_version(api):
    app = factories.app_factory(
        tenant=factories.tenant_factory(), mode="advanced-chat", graph=chat_graph("v1: ")
    )
    v1 = app.workflow
    add_version(app, chat_graph("v2: "), serve=True)
    client = api(app)
    turn = {"query": "hello", "inputs": {}, "user": "ci", "auto_generate_name": False}
    pinned = client.post("/chat-messages", json={**turn, "workflow_id": str(v1.id)})
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["answer"] == "v1: hello"
    assert client.post("/chat-messages", json=turn).json()["answer"] == "v2: hello"
    # a version of another app is not found
    other = factories.app_factory(tenant=app.tenant, mode="advanced-chat", graph=chat_graph("x"))
    assert (
        client.post("/chat-messages", json={**turn, "workflow_id": str(other.workflow_id)}).status_code == 404
    )


# --- promotion by import -----------------------------------------------------------------------------------


def _import(client, content, **fields):
    return client.post(
        "/console/api/apps/imports",
        {"mode": "yaml-content", "yaml_content": content, **fields},
        format="json",
    )


def test_an_import_with_app_id_and_publish_updates_the_app_in_place_and_serves_it(owner_client, tenant, api):
    app = factories.app_factory(tenant=tenant, mode="workflow", graph=echo_graph("old: "))
    before = App.objects.count()
    response = _import(
        owner_client, dsl(echo_graph("new: ")), app_id=str(app.id), publish=True, marked_name="release 2"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "completed" and body["app_id"] == str(app.id)
    app.refresh_from_db()
    assert str(app.workflow_id) == body["workflow_id"] and App.objects.count() == before
    published = app.workflow
    assert (published.number, published.marked_name) == (2, "release 2")
    assert published.graph == Workflow.objects.get(app_id=app.id, version="draft").graph
    run = api(app).post("/workflows/run", json={"inputs": {"query": "x"}, "user": "ci"}).json()
    assert run["data"]["outputs"] == {"out": "new: x"} and run["data"]["workflow_id"] == str(published.id)
    # without publish, only the draft moves: the app keeps serving the version it had
    again = _import(owner_client, dsl(echo_graph("draft only: ")), app_id=str(app.id)).json()
    assert "workflow_id" not in again
    app.refresh_from_db()
    assert app.workflow_id == published.id
    assert Workflow.objects.get(app_id=app.id, version="draft").graph == echo_graph("draft only: ")


def test_a_publish_that_fails_validation_changes_nothing(owner_client, tenant):
    app = factories.app_factory(tenant=tenant, mode="workflow", graph=echo_graph("old: "))
    served = app.workflow_id
    broken = echo_graph("new: ")
    broken["edges"].append({"id": "dangling", "source": "tpl", "target": "nowhere", "sourceHandle": "source"})
    response = _import(owner_client, dsl(broken), app_id=str(app.id), publish=True)
    assert response.status_code == 400 and response.json()["status"] == "failed"
    app.refresh_from_db()
    assert app.workflow_id == served and Workflow.objects.filter(app_id=app.id).count() == 1


def test_a_new_app_can_be_imported_and_published_in_one_call(owner_client):
    body = _import(
        owner_client, dsl(chat_graph("hi: "), mode="advanced-chat", name="Fresh"), publish=True
    ).json()
    app = App.objects.get(id=body["app_id"])
    assert app.name == "Fresh" and str(app.workflow_id) == body["workflow_id"] and app.workflow.number == 1


def test_a_pending_import_keeps_its_publish_until_confirmed(owner_client, tenant):
    app = factories.app_factory(tenant=tenant, mode="workflow", graph=echo_graph("old: "))
    newer = dsl(echo_graph("new: ")).replace(f"version: {CURRENT_DSL_VERSION}", "version: 0.99.0")
    pending = _import(owner_client, newer, app_id=str(app.id), publish=True).json()
    assert pending["status"] == "pending"
    confirmed = owner_client.post(f"/console/api/apps/imports/{pending['id']}/confirm").json()
    app.refresh_from_db()
    assert confirmed["status"] == "completed" and str(app.workflow_id) == confirmed["workflow_id"]


# --- manage.py import_app ----------------------------------------------------------------------------------


def test_import_app_command_promotes_a_file_and_reports_by_exit_code(tenant, owner, tmp_path):
    app = factories.app_factory(tenant=tenant, mode="workflow", graph=echo_graph("old: "))
    source = tmp_path / "app.yml"
    source.write_text(dsl(echo_graph("cli: ")), encoding="utf-8")
    out = io.StringIO()
    call_command(
        "import_app",
        str(source),
        f"--workspace={tenant.id}",
        f"--app={app.id}",
        "--publish",
        "--marked-name=ci",
        stdout=out,
    )
    assert '"status": "completed"' in out.getvalue()
    app.refresh_from_db()
    assert (app.workflow.number, app.workflow.marked_name) == (2, "ci")
    assert app.workflow.graph == echo_graph("cli: ")
    # a new app by workspace name
    call_command("import_app", str(source), f"--workspace={tenant.name}", "--name=Copy", stdout=io.StringIO())
    assert App.objects.filter(tenant=tenant, name="Copy").exists()
    # a broken file exits 1, a newer DSL waits (3) unless --yes
    source.write_text("kind: app\nversion: nope\n", encoding="utf-8")
    with pytest.raises(SystemExit) as failed:
        call_command("import_app", str(source), f"--workspace={tenant.id}", stdout=io.StringIO())
    assert failed.value.code == 1
    source.write_text(dsl(echo_graph("n: ")).replace(f"version: {CURRENT_DSL_VERSION}", "version: 0.99.0"))
    with pytest.raises(SystemExit) as pending:
        call_command(
            "import_app", str(source), f"--workspace={tenant.id}", stdout=io.StringIO(), stderr=io.StringIO()
        )
    assert pending.value.code == 3
    call_command(
        "import_app", str(source), f"--workspace={tenant.id}", "--yes", "--name=Later", stdout=io.StringIO()
    )
    assert App.objects.filter(tenant=tenant, name="Later").exists()
