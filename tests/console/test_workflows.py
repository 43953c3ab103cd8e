"""Workflows from the console: draft with hash, variables, publish, versions, restore, compare."""

from __future__ import annotations

import copy

import pytest

from apps.models import App
from dify_project import crypto
from workflows.models import Workflow
from workflows.services.variables import environment_values


def _draft(client, app):
    response = client.get(f"/console/api/apps/{app.id}/workflows/draft")
    assert response.status_code == 200, response.json()
    return response.json()


def _save(client, app, draft, **changes):
    payload = {
        "graph": draft["graph"],
        "features": draft["features"],
        "hash": draft["hash"],
        "environment_variables": draft["environment_variables"],
        "conversation_variables": draft["conversation_variables"],
    }
    payload.update(changes)
    return client.post(f"/console/api/apps/{app.id}/workflows/draft", payload, format="json")


def _with_output(graph, name="greeting"):
    graph = copy.deepcopy(graph)
    for node in graph["nodes"]:
        if node["data"]["type"] == "start":
            node["data"]["variables"] = [
                {"variable": "name", "label": "Name", "type": "text-input", "required": True}
            ]
        if node["data"]["type"] == "end":
            node["data"]["outputs"] = [{"variable": name, "value_selector": ["start", "name"]}]
    return graph


def test_draft_round_trip_with_hash(make_app, editor_client):
    app = make_app("workflow")
    draft = _draft(editor_client, app)
    assert set(draft) >= {
        "id",
        "graph",
        "features",
        "hash",
        "environment_variables",
        "conversation_variables",
    }
    # when the draft is saved with its current hash
    graph = _with_output(draft["graph"])
    response = _save(editor_client, app, draft, graph=graph)
    # then it is stored and the new hash is returned (and matches what GET reports)
    assert response.status_code == 200
    body = response.json()
    assert body["result"] == "success" and body["hash"] != draft["hash"]
    again = _draft(editor_client, app)
    assert again["hash"] == body["hash"] and again["graph"] == graph


def test_stale_hash_is_refused_with_409_and_changes_nothing(make_app, owner_client, editor_client):
    app = make_app("workflow")
    draft = _draft(owner_client, app)
    # given another editor saved in between
    assert _save(editor_client, app, draft, graph=_with_output(draft["graph"], "first")).status_code == 200
    stored = Workflow.objects.get(app_id=app.id, version="draft").graph
    # when the first editor saves with the old hash (or with none)
    for stale in (draft["hash"], None):
        response = _save(owner_client, app, draft, graph=_with_output(draft["graph"], "second"), hash=stale)
        # then 409 draft_workflow_not_sync, and the stored draft is the other editor's
        assert response.status_code == 409
        assert response.json()["code"] == "draft_workflow_not_sync"
    assert Workflow.objects.get(app_id=app.id, version="draft").graph == stored


def test_draft_saved_as_text_plain_like_difys_beacon(make_app, editor_client):
    import json

    app = make_app("workflow")
    draft = _draft(editor_client, app)
    payload = {"graph": _with_output(draft["graph"]), "features": draft["features"], "hash": draft["hash"]}
    response = editor_client.post(
        f"/console/api/apps/{app.id}/workflows/draft", json.dumps(payload), content_type="text/plain"
    )
    assert response.status_code == 200, response.json()
    assert _draft(editor_client, app)["graph"] == payload["graph"]
    broken = editor_client.post(
        f"/console/api/apps/{app.id}/workflows/draft", "{not json", content_type="text/plain"
    )
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_param"


def test_json_nested_too_deeply_is_a_400_not_a_500(make_app, editor_client):
    app = make_app("workflow")
    body = '{"graph": ' + "[" * 200_000 + "]" * 200_000 + ', "features": {}}'
    response = editor_client.post(
        f"/console/api/apps/{app.id}/workflows/draft", body, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"


def test_draft_save_refuses_bad_shapes(make_app, editor_client):
    app = make_app("workflow")
    draft = _draft(editor_client, app)
    for graph in ({"nodes": "x", "edges": []}, {"nodes": [], "edges": {}}):
        response = _save(editor_client, app, draft, graph=graph)
        assert response.status_code == 400 and "nodes" in response.json()["message"]
    deep: list = []
    for _ in range(600):
        deep = [deep]
    response = _save(
        editor_client, app, draft, graph={"nodes": [{"id": "x", "data": {"deep": deep}}], "edges": []}
    )
    assert response.status_code == 400 and "nests" in response.json()["message"]
    assert (
        editor_client.post(
            f"/console/api/apps/{app.id}/workflows/draft", {"graph": {}}, format="json"
        ).status_code
        == 400
    )
    assert _draft(editor_client, app)["hash"] == draft["hash"]


def test_workflow_endpoints_are_for_workflow_apps_and_editors(make_app, normal_client, owner_client):
    chat = make_app("chat")
    response = owner_client.get(f"/console/api/apps/{chat.id}/workflows/draft")
    assert response.status_code == 400 and response.json()["code"] == "app_unavailable"
    flow = make_app("workflow")
    draft = _draft(normal_client, flow)  # members read
    assert _save(normal_client, flow, draft).status_code == 403
    assert (
        normal_client.post(f"/console/api/apps/{flow.id}/workflows/publish", {}, format="json").status_code
        == 403
    )


def test_secret_environment_variables_are_encrypted_masked_and_kept(make_app, editor_client):
    app = make_app("advanced-chat")
    draft = _draft(editor_client, app)
    env = [
        {
            "name": "api_key",
            "value": "sk-very-secret-value-123",
            "value_type": "secret",
            "description": "key",
        },
        {"name": "region", "value": "eu", "value_type": "string"},
        {"name": "limit", "value": 3, "value_type": "number"},
    ]
    assert _save(editor_client, app, draft, environment_variables=env).status_code == 200
    stored = Workflow.objects.get(app_id=app.id, version="draft").environment_variables
    secret = next(v for v in stored if v["name"] == "api_key")
    # at rest the secret is encrypted, never plain
    assert secret["value"].startswith(crypto.PREFIX) and "sk-very-secret" not in str(stored)
    # in responses it is masked
    listed = editor_client.get(f"/console/api/apps/{app.id}/workflows/draft/environment-variables").json()[
        "items"
    ]
    masked = next(v for v in listed if v["name"] == "api_key")["value"]
    assert masked == crypto.mask("sk-very-secret-value-123") and masked != "sk-very-secret-value-123"
    assert "sk-very-secret-value-123" not in str(_draft(editor_client, app))
    # sending [__HIDDEN__] (or the mask) back keeps the stored value
    again = _draft(editor_client, app)
    kept = [dict(v) for v in again["environment_variables"]]
    kept[0]["value"] = "[__HIDDEN__]"
    assert _save(editor_client, app, again, environment_variables=kept).status_code == 200
    values = environment_values(Workflow.objects.get(app_id=app.id, version="draft").environment_variables)
    assert values == {"api_key": "sk-very-secret-value-123", "region": "eu", "limit": 3}
    # the variables endpoint replaces them too, with the same rule
    replaced = [{"id": kept[0]["id"], "name": "api_key", "value": masked, "value_type": "secret"}]
    response = editor_client.post(
        f"/console/api/apps/{app.id}/workflows/draft/environment-variables",
        {"environment_variables": replaced},
        format="json",
    )
    assert response.status_code == 200
    values = environment_values(Workflow.objects.get(app_id=app.id, version="draft").environment_variables)
    assert values == {"api_key": "sk-very-secret-value-123"}


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ([{"name": "n", "value": "x", "value_type": "number"}], "'n'"),
        ([{"name": "n", "value": 1, "value_type": "object"}], "value_type"),
        ([{"name": "1n", "value": "x", "value_type": "string"}], "name"),
        (
            [
                {"name": "n", "value": "a", "value_type": "string"},
                {"name": "n", "value": "b", "value_type": "string"},
            ],
            "twice",
        ),
        ([{"name": "s", "value": "[__HIDDEN__]", "value_type": "secret"}], "no stored secret"),
    ],
)
def test_bad_environment_variables_are_named_and_nothing_changes(make_app, editor_client, variables, named):
    app = make_app("workflow")
    draft = _draft(editor_client, app)
    response = _save(
        editor_client, app, draft, environment_variables=variables, graph=_with_output(draft["graph"])
    )
    assert response.status_code == 400 and named in response.json()["message"]
    stored = Workflow.objects.get(app_id=app.id, version="draft")
    assert stored.environment_variables == [] and stored.graph == draft["graph"]


def test_conversation_variables(make_app, editor_client):
    app = make_app("advanced-chat")
    variables = [
        {
            "id": "opt-comp-prompt-var",
            "name": "memo",
            "value": "-",
            "value_type": "string",
            "description": "d",
        },
        {"name": "items", "value": ["a"], "value_type": "array[string]"},
    ]
    response = editor_client.post(
        f"/console/api/apps/{app.id}/workflows/draft/conversation-variables",
        {"conversation_variables": variables},
        format="json",
    )
    assert response.status_code == 200
    items = editor_client.get(f"/console/api/apps/{app.id}/workflows/draft/conversation-variables").json()[
        "items"
    ]
    assert items[0]["id"] == "opt-comp-prompt-var"
    assert items[1]["selector"] == ["conversation", "items"]
    bad = editor_client.post(
        f"/console/api/apps/{app.id}/workflows/draft/conversation-variables",
        {"conversation_variables": [{"name": "items", "value": [1], "value_type": "array[string]"}]},
        format="json",
    )
    assert bad.status_code == 400 and "items" in bad.json()["message"]
    assert (
        len(
            editor_client.get(f"/console/api/apps/{app.id}/workflows/draft/conversation-variables").json()[
                "items"
            ]
        )
        == 2
    )


def test_publish_creates_an_immutable_numbered_version_the_app_serves(make_app, owner_client):
    app = make_app("workflow")
    draft = _draft(owner_client, app)
    _save(owner_client, app, draft, graph=_with_output(draft["graph"]))
    # when the draft is published twice
    first = owner_client.post(
        f"/console/api/apps/{app.id}/workflows/publish",
        {"marked_name": "v1", "marked_comment": "first"},
        format="json",
    )
    assert first.status_code == 200, first.json()
    second = owner_client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json")
    # then each is a numbered version, and the app points at the latest
    assert (first.json()["number"], second.json()["number"]) == (1, 2)
    app.refresh_from_db()
    assert str(app.workflow_id) == second.json()["id"]
    assert app.workflow.graph == Workflow.objects.get(app_id=app.id, version="draft").graph
    published = owner_client.get(f"/console/api/apps/{app.id}/workflows/publish").json()
    assert published["id"] == second.json()["id"]
    # the version list is Dify's {items, page, limit, has_more}, newest first
    page = owner_client.get(f"/console/api/apps/{app.id}/workflows", {"limit": 1}).json()
    assert set(page) == {"items", "page", "limit", "has_more"}
    assert page["has_more"] is True and page["items"][0]["id"] == second.json()["id"]
    named = owner_client.get(f"/console/api/apps/{app.id}/workflows", {"named_only": "true"}).json()["items"]
    assert [v["marked_name"] for v in named] == ["v1"]
    # a published version can be renamed, not rewritten
    renamed = owner_client.patch(
        f"/console/api/apps/{app.id}/workflows/{first.json()['id']}", {"marked_name": "launch"}, format="json"
    )
    assert renamed.status_code == 200 and renamed.json()["marked_name"] == "launch"
    too_long = owner_client.post(
        f"/console/api/apps/{app.id}/workflows/publish", {"marked_name": "x" * 21}, format="json"
    )
    assert too_long.status_code == 400 and "marked_name" in too_long.json()["message"]


def test_publishing_an_invalid_graph_is_refused_naming_the_problem(make_app, owner_client):
    app = make_app("workflow")
    good = owner_client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json")
    assert good.status_code == 200
    draft = _draft(owner_client, app)
    # given a draft with a dangling edge and an unknown node type
    graph = copy.deepcopy(draft["graph"])
    graph["edges"].append({"id": "dangling", "source": "start", "target": "ghost", "sourceHandle": "source"})
    graph["nodes"].append({"id": "odd", "type": "custom", "data": {"type": "teleport", "title": "Odd"}})
    assert _save(owner_client, app, draft, graph=graph).status_code == 200  # drafts may be work in progress
    # when it is published
    response = owner_client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json")
    # then 400 names both problems, no version is added and the app keeps serving the good one
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_param"
    assert "ghost" in body["message"] and "teleport" in body["message"]
    assert {issue["code"] for issue in body["issues"]} >= {"MISSING_NODE", "UNKNOWN_NODE_TYPE"}
    assert Workflow.objects.filter(app_id=app.id).exclude(version="draft").count() == 1
    app.refresh_from_db()
    assert str(app.workflow_id) == good.json()["id"]


def test_restore_a_version_into_the_draft(make_app, owner_client):
    app = make_app("workflow")
    v1 = owner_client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json").json()
    draft = _draft(owner_client, app)
    _save(owner_client, app, draft, graph=_with_output(draft["graph"]))
    # when version 1 is restored
    response = owner_client.post(f"/console/api/apps/{app.id}/workflows/{v1['id']}/restore")
    # then the draft has v1's graph again and the hash changed back
    assert response.status_code == 200
    assert response.json()["hash"] == draft["hash"]
    assert _draft(owner_client, app)["graph"] == Workflow.objects.get(id=v1["id"]).graph
    # restoring a missing version, the draft, or a malformed id is refused; the draft stays
    before = Workflow.objects.get(app_id=app.id, version="draft").graph
    missing = owner_client.post(
        f"/console/api/apps/{app.id}/workflows/00000000-0000-0000-0000-000000000000/restore"
    )
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert owner_client.post(f"/console/api/apps/{app.id}/workflows/draft/restore").status_code == 400
    assert owner_client.post(f"/console/api/apps/{app.id}/workflows/nope/restore").status_code == 404
    assert Workflow.objects.get(app_id=app.id, version="draft").graph == before


def test_a_version_of_another_app_is_not_found(make_app, owner_client):
    app, other = make_app("workflow"), make_app("workflow")
    foreign = owner_client.post(f"/console/api/apps/{other.id}/workflows/publish", {}, format="json").json()
    assert (
        owner_client.post(f"/console/api/apps/{app.id}/workflows/{foreign['id']}/restore").status_code == 404
    )
    assert owner_client.get(f"/console/api/apps/{app.id}/workflows/{foreign['id']}").status_code == 404


def test_compare_two_versions(make_app, owner_client):
    app = make_app("advanced-chat")
    v1 = owner_client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json").json()
    draft = _draft(owner_client, app)
    graph = copy.deepcopy(draft["graph"])
    llm = next(n for n in graph["nodes"] if n["data"]["type"] == "llm")
    llm["data"]["model"]["name"] = "gpt-4o"
    llm["data"]["prompt_template"][0]["text"] = "Be brief."
    llm["position"] = {"x": 999, "y": 999}  # layout only
    graph["nodes"].append(
        {"id": "extra", "type": "custom", "data": {"type": "answer", "title": "Extra", "answer": "x"}}
    )
    graph["edges"].append({"id": "llm-extra", "source": "llm", "target": "extra", "sourceHandle": "source"})
    graph["edges"] = [e for e in graph["edges"] if e["target"] != "answer"]
    graph["nodes"] = [n for n in graph["nodes"] if n["id"] != "answer"]
    features = dict(draft["features"], opening_statement="Hello")
    _save(owner_client, app, draft, graph=graph, features=features)
    # when v1 is compared with the draft
    response = owner_client.get(
        f"/console/api/apps/{app.id}/workflows/compare", {"base": v1["id"], "target": "draft"}
    )
    # then nodes, edges and configs are listed as added / removed / changed with the changed fields
    assert response.status_code == 200, response.json()
    diff = response.json()
    assert diff["identical"] is False
    assert [n["id"] for n in diff["nodes"]["added"]] == ["extra"]
    assert [n["id"] for n in diff["nodes"]["removed"]] == ["answer"]
    changed = {c["path"]: c for c in diff["nodes"]["changed"][0]["changes"]}
    assert diff["nodes"]["changed"][0]["id"] == "llm"
    assert (
        changed["data.model.name"]["before"] == "gpt-4o-mini"
        and changed["data.model.name"]["after"] == "gpt-4o"
    )
    assert "data.prompt_template[0].text" in changed
    assert not any(path.startswith("position") for path in changed)
    assert [(e["source"], e["target"]) for e in diff["edges"]["added"]] == [("llm", "extra")]
    assert [(e["source"], e["target"]) for e in diff["edges"]["removed"]] == [("llm", "answer")]
    assert [c["path"] for c in diff["features"]["changed"]] == ["opening_statement"]
    # a version compared with itself is identical; an unknown version is 404
    same = owner_client.get(
        f"/console/api/apps/{app.id}/workflows/compare", {"base": v1["id"], "target": v1["id"]}
    )
    assert same.json()["identical"] is True
    assert (
        owner_client.get(f"/console/api/apps/{app.id}/workflows/compare", {"base": "nope"}).status_code == 404
    )


def test_version_list_costs_a_fixed_number_of_queries(make_app, owner_client, django_assert_max_num_queries):
    app = make_app("workflow")
    for _ in range(2):
        owner_client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json")
    with django_assert_max_num_queries(8) as small:
        owner_client.get(f"/console/api/apps/{app.id}/workflows", {"limit": 2})
    baseline = len(small)  # read now: each request resets Django's query log
    for _ in range(8):
        owner_client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json")
    with django_assert_max_num_queries(baseline):
        assert (
            len(owner_client.get(f"/console/api/apps/{app.id}/workflows", {"limit": 10}).json()["items"])
            == 10
        )


def test_an_app_built_through_the_console_is_ready_for_the_service_api(make_app, owner_client):
    # given a workflow app built only through these endpoints
    created = owner_client.post(
        "/console/api/apps", {"name": "Greeter", "mode": "workflow"}, format="json"
    ).json()
    app = App.objects.get(id=created["id"])
    draft = _draft(owner_client, app)
    _save(owner_client, app, draft, graph=_with_output(draft["graph"]))
    owner_client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json")
    key = owner_client.post(f"/console/api/apps/{app.id}/api-keys").json()["token"]
    # then the app serves the published version, with a key, and the API on
    app.refresh_from_db()
    assert app.workflow is not None and app.workflow.version != "draft"
    assert app.workflow.graph["nodes"][-1]["data"]["outputs"][0]["variable"] == "greeting"
    assert app.enable_api and key.startswith("app-")
