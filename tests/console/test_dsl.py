"""DSL import and export: the conformance folder round-trips, bad files are refused, versions are handled
as Dify handles them, secrets are blanked unless asked for."""

from __future__ import annotations

import copy
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from apps.models import App, Site
from tests.console.conftest import CONFORMANCE_DSL
from workflows.dsl import CURRENT_DSL_VERSION
from workflows.models import Workflow

# The conformance README: these files directly in dsl/ must be refused (not an app; an unknown node type).
REFUSED = {
    "minimal_not_an_app.yml": ["not a dify app", "app"],
    "knowledge_retrieval_v2_workflow.yml": ["knowledge-retrieval-v2"],
}


def _conformance_files() -> list[Path]:
    if not CONFORMANCE_DSL.is_dir():
        return []
    return sorted(p for p in CONFORMANCE_DSL.glob("*.yml") if p.is_file())


needs_conformance = pytest.mark.skipif(
    not CONFORMANCE_DSL.is_dir(), reason=f"conformance folder not found at {CONFORMANCE_DSL}"
)
APP_FILES = [p for p in _conformance_files() if p.name not in REFUSED]


def _import(client, content, **fields):
    return client.post(
        "/console/api/apps/imports",
        {"mode": "yaml-content", "yaml_content": content, **fields},
        format="json",
    )


def _export(client, app_id, **params):
    response = client.get(f"/console/api/apps/{app_id}/export", params)
    assert response.status_code == 200, response.json()
    return response.json()["data"]


def _workflow_yaml(graph=None, **extra):
    data = {
        "version": CURRENT_DSL_VERSION,
        "kind": "app",
        "app": {"name": "Hand made", "mode": "workflow", "icon": "🤖", "icon_background": "#FFEAD5"},
        "workflow": {
            "graph": graph
            or {
                "nodes": [
                    {
                        "id": "start",
                        "type": "custom",
                        "data": {"type": "start", "title": "Start", "variables": []},
                    },
                    {"id": "end", "type": "custom", "data": {"type": "end", "title": "End", "outputs": []}},
                ],
                "edges": [{"id": "e1", "source": "start", "target": "end", "sourceHandle": "source"}],
            },
            "features": {},
            "environment_variables": [],
            "conversation_variables": [],
        },
    }
    data.update(extra)
    return yaml.safe_dump(data, allow_unicode=True)


@needs_conformance
def test_the_conformance_folder_has_the_expected_files():
    names = {p.name for p in _conformance_files()}
    assert set(REFUSED) <= names
    assert len(APP_FILES) >= 18


@needs_conformance
@pytest.mark.parametrize("path", APP_FILES, ids=lambda p: p.stem)
def test_every_app_dsl_imports_exports_and_reimports_to_an_equal_graph(owner_client, path):
    original = yaml.safe_load(path.read_text())
    # when the file is imported
    response = _import(owner_client, path.read_text())
    # then it is accepted (older minor versions with a warning, as Dify does)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] in ("completed", "completed-with-warnings")
    assert body["imported_dsl_version"] == original["version"]
    assert body["app_mode"] == original["app"]["mode"]
    # and its export carries the same graph (unknown keys included), features and variables
    exported_text = _export(owner_client, body["app_id"])
    exported = yaml.safe_load(exported_text)
    assert list(exported) == sorted(exported)  # Dify's key layout: yaml.dump sorts keys
    assert exported["kind"] == "app" and exported["version"] == CURRENT_DSL_VERSION
    assert exported["app"]["name"] == original["app"]["name"]
    assert exported["workflow"]["graph"] == original["workflow"]["graph"]
    assert exported["workflow"]["features"] == original["workflow"]["features"]
    for kind in ("environment_variables", "conversation_variables"):
        for before, after in zip(
            original["workflow"].get(kind) or [], exported["workflow"][kind], strict=True
        ):
            assert {k: after[k] for k in before} == before
    # when the export is imported again, its export is the same again
    again = _import(owner_client, exported_text)
    assert again.status_code == 200 and again.json()["status"] == "completed"
    assert again.json()["app_id"] != body["app_id"]
    re_exported = yaml.safe_load(_export(owner_client, again.json()["app_id"]))
    assert re_exported == exported


@needs_conformance
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_files_that_must_be_refused_are_refused_naming_the_problem(owner_client, name):
    response = _import(owner_client, (CONFORMANCE_DSL / name).read_text())
    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["status"] == "failed" and body["code"] and body["message"] == body["error"]
    assert any(word in body["message"].lower() for word in REFUSED[name])
    assert not App.objects.exists() and not Workflow.objects.exists()


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("app: [unclosed", "Invalid YAML"),
        ("just a string", "mapping"),
        ("- a\n- list\n", "mapping"),
        (_workflow_yaml(version=1.0), "version type"),
        (_workflow_yaml(version="banana"), "banana"),
        (yaml.safe_dump({"version": "0.6.0", "kind": "app", "app": {"name": "x"}}), "mode"),
        (yaml.safe_dump({"version": "0.6.0", "app": {"name": "x", "mode": "robot"}}), "robot"),
        (yaml.safe_dump({"version": "0.6.0", "app": {"name": "x", "mode": "workflow"}}), "workflow data"),
        (yaml.safe_dump({"version": "0.6.0", "app": {"name": "x", "mode": "chat"}}), "model_config"),
        (
            _workflow_yaml(
                {
                    "nodes": [{"id": "start", "data": {"type": "start", "title": "Start"}}],
                    "edges": [{"id": "e", "source": "start", "target": "nowhere"}],
                }
            ),
            "nowhere",
        ),
        (
            _workflow_yaml(
                {
                    "nodes": [
                        {"id": "start", "data": {"type": "start", "title": "Start"}},
                        {"id": "start", "data": {"type": "end", "title": "End"}},
                    ],
                    "edges": [],
                }
            ),
            "duplicate",
        ),
        (_workflow_yaml({"nodes": "oops", "edges": []}), "nodes"),
    ],
    ids=[
        "invalid-yaml",
        "scalar",
        "list",
        "float-version",
        "bad-version",
        "no-mode",
        "unknown-mode",
        "no-workflow",
        "no-model-config",
        "dangling-edge",
        "duplicate-node",
        "nodes-not-a-list",
    ],
)
def test_bad_files_fail_with_400_naming_the_problem_and_store_nothing(owner_client, content, named):
    response = _import(owner_client, content)
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["status"] == "failed" and named.lower() in body["error"].lower()
    assert body["code"] and body["message"] == body["error"]
    assert not App.objects.exists() and not Site.objects.exists() and not Workflow.objects.exists()


def test_a_file_over_10_mb_is_refused_with_413(owner_client):
    content = _workflow_yaml() + "# " + "x" * (10 * 1024 * 1024) + "\n"
    response = _import(owner_client, content)
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large" and "10MB" in response.json()["message"]
    assert not App.objects.exists()


def test_an_alias_bomb_is_refused(owner_client):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 9):
        bomb += (
            f"l{level}: &l{level} [" + ", ".join([f"*{'a' if level == 1 else f'l{level - 1}'}"] * 10) + "]\n"
        )
    response = _import(owner_client, bomb)
    assert response.status_code == 400 and "too many values" in response.json()["message"]


def test_invalid_variables_roll_back_the_whole_import(owner_client):
    content = _workflow_yaml()
    data = yaml.safe_load(content)
    data["workflow"]["environment_variables"] = [{"name": "n", "value": "x", "value_type": "number"}]
    response = _import(owner_client, yaml.safe_dump(data))
    assert response.status_code == 400 and "'n'" in response.json()["message"]
    assert not App.objects.exists() and not Site.objects.exists()


def test_version_handling_pending_confirm_and_warnings(owner_client):
    # an older minor version: imported with a warning
    older = _import(owner_client, _workflow_yaml(version="0.3.1"))
    assert older.status_code == 200 and older.json()["status"] == "completed-with-warnings"
    assert older.json()["warnings"]
    # a newer version: pending, nothing stored, until confirmed
    count = App.objects.count()
    pending = _import(owner_client, _workflow_yaml(version="0.99.0"), name="Confirmed later")
    assert pending.status_code == 202 and pending.json()["status"] == "pending"
    assert pending.json()["app_id"] is None and App.objects.count() == count
    confirmed = owner_client.post(f"/console/api/apps/imports/{pending.json()['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "completed"
    assert App.objects.get(id=confirmed.json()["app_id"]).name == "Confirmed later"
    # a confirmed import cannot be confirmed twice; an unknown one is 404
    assert owner_client.post(f"/console/api/apps/imports/{pending.json()['id']}/confirm").status_code == 404
    assert owner_client.post("/console/api/apps/imports/nope/confirm").status_code == 404
    # a newer major version is pending too
    assert _import(owner_client, _workflow_yaml(version="1.0.0")).json()["status"] == "pending"


def test_a_pending_import_belongs_to_its_workspace(owner_client, other_tenant, client_for):
    from accounts.models import TenantRole
    from tests import factories

    pending = _import(owner_client, _workflow_yaml(version="0.99.0")).json()
    outsider = client_for(factories.member_factory(tenant=other_tenant, role=TenantRole.OWNER))
    assert outsider.post(f"/console/api/apps/imports/{pending['id']}/confirm").status_code == 404


def test_overwrite_a_workflow_app_with_app_id(make_app, owner_client):
    app = make_app("workflow", name="Target")
    content = _workflow_yaml()
    data = yaml.safe_load(content)
    data["workflow"]["graph"]["nodes"][1]["data"]["outputs"] = [
        {"variable": "o", "value_selector": ["start", "x"]}
    ]
    response = _import(owner_client, yaml.safe_dump(data), app_id=str(app.id))
    assert response.status_code == 200 and response.json()["app_id"] == str(app.id)
    assert Workflow.objects.get(app_id=app.id, version="draft").graph == data["workflow"]["graph"]
    assert App.objects.count() == 1
    # chat apps cannot be overwritten, nor can a workflow app with a chatflow; nothing changes
    chat = make_app("chat")
    refused = _import(owner_client, content, app_id=str(chat.id))
    assert refused.status_code == 400 and "Only workflow" in refused.json()["message"]
    chatflow = yaml.safe_load(content)
    chatflow["app"]["mode"] = "advanced-chat"
    mismatch = _import(owner_client, yaml.safe_dump(chatflow), app_id=str(app.id))
    assert mismatch.status_code == 400 and "advanced-chat" in mismatch.json()["message"]
    assert _import(owner_client, content, app_id="00000000-0000-0000-0000-000000000000").status_code == 404
    assert Workflow.objects.get(app_id=app.id, version="draft").graph == data["workflow"]["graph"]


def test_secrets_are_blanked_on_export_unless_asked_for(make_app, owner_client):
    data = yaml.safe_load(_workflow_yaml())
    data["workflow"]["environment_variables"] = [
        {
            "id": "k",
            "name": "api_key",
            "value": "sk-secret-123456789",
            "value_type": "secret",
            "description": "",
        },
        {"id": "r", "name": "region", "value": "eu", "value_type": "string", "description": ""},
    ]
    data["workflow"]["graph"]["nodes"].append(
        {
            "id": "tool",
            "type": "custom",
            "data": {
                "type": "tool",
                "title": "T",
                "provider_id": "time",
                "provider_type": "builtin",
                "provider_name": "time",
                "tool_name": "current_time",
                "tool_parameters": {},
                "tool_configurations": {},
                "credential_id": "cred-1",
            },
        }
    )
    app_id = _import(owner_client, yaml.safe_dump(data)).json()["app_id"]
    plain = yaml.safe_load(_export(owner_client, app_id))
    env = {v["name"]: v["value"] for v in plain["workflow"]["environment_variables"]}
    assert env == {"api_key": "", "region": "eu"}
    tool = next(n for n in plain["workflow"]["graph"]["nodes"] if n["id"] == "tool")
    assert "credential_id" not in tool["data"]
    with_secrets = yaml.safe_load(_export(owner_client, app_id, include_secret="true"))
    assert {v["name"]: v["value"] for v in with_secrets["workflow"]["environment_variables"]}[
        "api_key"
    ] == "sk-secret-123456789"
    assert plain["dependencies"] == [
        {
            "type": "marketplace",
            "value": {"marketplace_plugin_unique_identifier": "langgenius/time"},
            "current_identifier": None,
        }
    ]


def test_unknown_keys_survive_a_round_trip(owner_client):
    data = yaml.safe_load(_workflow_yaml())
    data["workflow"]["graph"]["nodes"][0]["data"]["future_setting"] = {"nested": [1, 2, {"deep": True}]}
    data["workflow"]["graph"]["nodes"][0]["customWrapperKey"] = "kept"
    data["workflow"]["graph"]["edges"][0]["data"] = {"isInIteration": False, "unknownEdgeKey": 7}
    app_id = _import(owner_client, yaml.safe_dump(data)).json()["app_id"]
    exported = yaml.safe_load(_export(owner_client, app_id))
    assert exported["workflow"]["graph"] == data["workflow"]["graph"]


def test_chat_app_export_and_import(make_app, owner_client):
    app = make_app("chat", name="Chatty")
    config = copy.deepcopy(app.app_model_config.config)
    config["pre_prompt"] = "Be kind."
    config["agent_mode"] = {
        "enabled": True,
        "tools": [{"provider_id": "time", "credential_id": "secret-cred"}],
    }
    owner_client.post(f"/console/api/apps/{app.id}/model-config", config, format="json")
    exported = yaml.safe_load(_export(owner_client, app.id))
    assert exported["app"]["mode"] == "chat" and exported["model_config"]["pre_prompt"] == "Be kind."
    assert "credential_id" not in exported["model_config"]["agent_mode"]["tools"][0]
    imported = _import(owner_client, yaml.safe_dump(exported))
    assert imported.status_code == 200
    copy_app = App.objects.get(id=imported.json()["app_id"])
    assert copy_app.app_model_config.config["pre_prompt"] == "Be kind."


def test_import_needs_an_editor_and_a_mode(normal_client, owner_client):
    assert _import(normal_client, _workflow_yaml()).status_code == 403
    response = owner_client.post(
        "/console/api/apps/imports", {"mode": "yaml-ftp", "yaml_content": "x"}, format="json"
    )
    assert response.status_code == 400 and "yaml-ftp" in response.json()["message"]
    missing = owner_client.post("/console/api/apps/imports", {"mode": "yaml-content"}, format="json")
    assert missing.status_code == 400 and "yaml_content" in missing.json()["message"]


class _DslHandler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes]] = {}

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, b"missing"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dsl_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DslHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _DslHandler.routes
    server.shutdown()
    server.server_close()
    _DslHandler.routes.clear()


def test_import_from_a_private_address_is_refused_by_default(owner_client, dsl_server, ssrf_strict):
    base, routes = dsl_server
    routes["/app.yml"] = (200, _workflow_yaml().encode())
    response = owner_client.post(
        "/console/api/apps/imports", {"mode": "yaml-url", "yaml_url": f"{base}/app.yml"}, format="json"
    )
    assert response.status_code == 400 and "not allowed" in response.json()["message"]
    assert not App.objects.exists()


def test_import_from_a_url(owner_client, dsl_server, settings):
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]  # the test server is on loopback
    base, routes = dsl_server
    routes["/app.yml"] = (200, _workflow_yaml().encode())
    response = owner_client.post(
        "/console/api/apps/imports", {"mode": "yaml-url", "yaml_url": f"{base}/app.yml"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "completed"
    missing = owner_client.post(
        "/console/api/apps/imports", {"mode": "yaml-url", "yaml_url": f"{base}/nope"}, format="json"
    )
    assert missing.status_code == 400 and "404" in missing.json()["message"]
    assert (
        owner_client.post(
            "/console/api/apps/imports", {"mode": "yaml-url", "yaml_url": "file:///etc/passwd"}, format="json"
        ).status_code
        == 400
    )
    assert App.objects.count() == 1


def test_check_dependencies_reports_unknown_plugins(owner_client):
    data = yaml.safe_load(_workflow_yaml())
    data["dependencies"] = [
        {
            "type": "marketplace",
            "value": {"marketplace_plugin_unique_identifier": "langgenius/openai:0.0.1@abc"},
        },
        {"type": "marketplace", "value": {"marketplace_plugin_unique_identifier": "someone/unknown:1.0@def"}},
    ]
    body = _import(owner_client, yaml.safe_dump(data)).json()
    assert len(body["dependencies"]) == 2
    leaked = owner_client.get(f"/console/api/apps/imports/{body['app_id']}/check-dependencies").json()
    assert [d["value"]["marketplace_plugin_unique_identifier"] for d in leaked["leaked_dependencies"]] == [
        "someone/unknown:1.0@def"
    ]


def _dify_encrypted(dataset_id: str, tenant_id: str) -> str:
    """A dataset id as Dify's export writes it (AES-CBC, key SHA-256 of the workspace id, PKCS7, base64)."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = hashlib.sha256(tenant_id.encode()).digest()
    padder = padding.PKCS7(128).padder()
    padded = padder.update(dataset_id.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def _retrieval_graph(dataset_ids: list[str]) -> dict:
    return {
        "nodes": [
            {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
            {
                "id": "kr",
                "data": {
                    "type": "knowledge-retrieval",
                    "title": "Docs",
                    "query_variable_selector": ["sys", "user_id"],
                    "dataset_ids": dataset_ids,
                    "retrieval_mode": "multiple",
                    "multiple_retrieval_config": {"top_k": 2},
                },
            },
            {"id": "end", "data": {"type": "end", "title": "End", "outputs": []}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "kr", "sourceHandle": "source"},
            {"id": "e2", "source": "kr", "target": "end", "sourceHandle": "source"},
        ],
    }


def test_knowledge_references_are_decrypted_as_dify_does(owner_client, tenant, owner):
    from knowledge.services.datasets import dataset_create
    from tests import factories

    ours = dataset_create(tenant=tenant, account_id=owner.id, name="Ours", indexing_technique="economy")
    mine_encrypted = dataset_create(
        tenant=tenant, account_id=owner.id, name="Exported by Dify", indexing_technique="economy"
    )
    elsewhere = factories.tenant_factory(name="Elsewhere")
    theirs = dataset_create(
        tenant=elsewhere, account_id=owner.id, name="Theirs", indexing_technique="economy"
    )
    ids = [
        str(ours.id),  # a plain id: kept (retrieval only ever reads the run's workspace)
        _dify_encrypted(str(mine_encrypted.id), str(tenant.id)),  # encrypted for this workspace: decrypted
        _dify_encrypted(str(theirs.id), str(elsewhere.id)),  # encrypted for another workspace: dropped
        "not-an-id",  # neither: dropped
    ]
    response = _import(owner_client, _workflow_yaml(_retrieval_graph(ids)))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert any("2 knowledge base reference(s)" in w and w.startswith("Docs") for w in body["warnings"])
    draft = Workflow.objects.get(app_id=body["app_id"], version="draft")
    node = next(n for n in draft.graph["nodes"] if n["id"] == "kr")
    assert node["data"]["dataset_ids"] == [str(ours.id), str(mine_encrypted.id)]


@pytest.mark.parametrize("kind", ["trigger-webhook", "trigger-schedule", "trigger-plugin"])
def test_a_workflow_started_by_a_trigger_imports_and_exports_blanking_its_endpoint(owner_client, kind):
    trigger = {
        "id": "trigger",
        "data": {
            "type": kind,
            "title": "Trigger",
            "webhook_url": "https://dify.example/triggers/webhook/abc",
            "subscription_id": "sub-1",
            "mode": "visual",
            "frequency": "daily",
        },
    }
    graph = {
        "nodes": [trigger, {"id": "end", "data": {"type": "end", "title": "End", "outputs": []}}],
        "edges": [{"id": "e1", "source": "trigger", "target": "end", "sourceHandle": "source"}],
    }
    response = _import(owner_client, _workflow_yaml(graph))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "completed"
    exported = yaml.safe_load(_export(owner_client, response.json()["app_id"]))
    data = exported["workflow"]["graph"]["nodes"][0]["data"]
    if kind == "trigger-webhook":
        assert data["webhook_url"] == ""
    if kind == "trigger-plugin":
        assert data["subscription_id"] == ""
    if kind == "trigger-schedule":
        assert data["config"]["frequency"] == "daily" and data["config"]["timezone"] == "UTC"


def test_exports_encrypt_dataset_ids_for_this_workspace_and_reimport_here(
    owner_client, tenant, owner, settings
):
    from knowledge.services.datasets import dataset_create

    dataset = dataset_create(tenant=tenant, account_id=owner.id, name="Docs", indexing_technique="economy")
    app_id = _import(owner_client, _workflow_yaml(_retrieval_graph([str(dataset.id)]))).json()["app_id"]
    exported = _export(owner_client, app_id)
    encrypted = yaml.safe_load(exported)["workflow"]["graph"]["nodes"][1]["data"]["dataset_ids"]
    # Dify's format, readable with this workspace's key only
    assert encrypted == [_dify_encrypted(str(dataset.id), str(tenant.id))]
    again = _import(owner_client, exported).json()
    draft = Workflow.objects.get(app_id=again["app_id"], version="draft")
    assert draft.graph["nodes"][1]["data"]["dataset_ids"] == [str(dataset.id)]
    assert again["warnings"] == []
    settings.DSL_EXPORT_ENCRYPT_DATASET_ID = False
    plain = yaml.safe_load(_export(owner_client, app_id))["workflow"]["graph"]["nodes"][1]["data"]
    assert plain["dataset_ids"] == [str(dataset.id)]
