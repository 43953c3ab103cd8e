"""Apps from the console: create, list, read, update, copy, delete, toggles, roles and workspace scoping."""

from __future__ import annotations

import pytest

from accounts.models import TenantRole
from apps.models import (
    ApiToken,
    App,
    AppAnnotationSetting,
    AppModelConfig,
    Conversation,
    EndUser,
    Message,
    MessageAnnotation,
    MessageFeedback,
    Site,
    Tag,
    TagBinding,
)
from apps.services.api_keys import api_key_create
from tests import factories
from tests.console.conftest import (
    app_log_factory,
    conversation_factory,
    end_user_factory,
    message_factory,
    node_execution_factory,
    published_workflow,
    run_factory,
)
from workflows.models import Workflow, WorkflowAppLog, WorkflowNodeExecution, WorkflowRun

MODES = ["chat", "completion", "agent-chat", "advanced-chat", "workflow"]


@pytest.mark.parametrize("mode", MODES)
def test_create_blank_app_of_each_mode_gets_site_and_defaults(owner_client, mode):
    # when an app of the mode is created from blank
    response = owner_client.post(
        "/console/api/apps", {"name": f"My {mode}", "mode": mode, "icon": "🤖"}, format="json"
    )
    # then it answers 201 with Dify's detail fields, a site, and the mode's starting configuration
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["mode"] == mode and body["name"] == f"My {mode}"
    assert body["site"]["access_token"] and body["api_base_url"].endswith("/v1")
    assert body["enable_site"] is True and body["enable_api"] is True
    app = App.objects.get(id=body["id"])
    if mode in ("workflow", "advanced-chat"):
        assert body["model_config"] is None
        draft = Workflow.objects.get(app_id=app.id, version="draft")
        node_types = {n["data"]["type"] for n in draft.graph["nodes"]}
        assert "start" in node_types and (
            "answer" in node_types if mode == "advanced-chat" else "end" in node_types
        )
    else:
        assert body["model_config"]["model"]["provider"]
        assert app.app_model_config is not None
        if mode == "completion":
            assert body["model_config"]["user_input_form"][0]["paragraph"]["variable"] == "query"


def test_create_refuses_missing_or_unknown_mode(owner_client):
    for payload, expected in ((({"name": "x"}), "mode"), ({"name": "x", "mode": "robot"}, "robot")):
        # when the mode is missing or unknown
        response = owner_client.post("/console/api/apps", payload, format="json")
        # then 400 names it, and no app was created
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_param"
        assert expected in response.json()["message"]
    assert not App.objects.exists()


def test_normal_member_reads_but_cannot_create_or_edit(make_app, normal_client):
    app = make_app("chat", name="Readable")
    # a normal member can read the list and the detail
    assert normal_client.get("/console/api/apps").json()["total"] == 1
    assert normal_client.get(f"/console/api/apps/{app.id}").status_code == 200
    # but not create, update or delete
    assert (
        normal_client.post("/console/api/apps", {"name": "x", "mode": "chat"}, format="json").status_code
        == 403
    )
    assert normal_client.put(f"/console/api/apps/{app.id}", {"name": "y"}, format="json").status_code == 403
    assert normal_client.delete(f"/console/api/apps/{app.id}").status_code == 403
    app.refresh_from_db()
    assert app.name == "Readable"


def test_another_workspaces_app_is_not_found(make_app, owner_client, other_tenant):
    owner_elsewhere = factories.member_factory(tenant=other_tenant, role=TenantRole.OWNER)
    foreign = make_app("chat", in_tenant=other_tenant, by=owner_elsewhere)
    # when the owner of this workspace reads or deletes the other workspace's app
    for method in ("get", "delete"):
        response = getattr(owner_client, method)(f"/console/api/apps/{foreign.id}")
        # then it is not found, and still exists
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert App.objects.filter(id=foreign.id).exists()
    assert owner_client.get("/console/api/apps").json()["total"] == 0


def test_malformed_app_id_is_a_named_404(owner_client):
    response = owner_client.get("/console/api/apps/not-a-uuid/workflows/draft")
    assert response.status_code == 404
    assert "not-a-uuid" in response.json()["message"]


def test_list_filters_and_paginates_in_dify_shape(make_app, owner, owner_client, tenant, editor_client):
    # given apps of several modes, one tagged, one created by an editor
    chat = make_app("chat", name="Alpha chat")
    make_app("workflow", name="Beta flow")
    make_app("completion", name="Gamma")
    tag = Tag.objects.create(tenant=tenant, type="app", name="sales")
    TagBinding.objects.create(tenant=tenant, tag=tag, target_id=chat.id)
    editor_client.post("/console/api/apps", {"name": "Editor's", "mode": "chat"}, format="json")
    # then the shape and each filter
    page = owner_client.get("/console/api/apps", {"page": 1, "limit": 2}).json()
    assert set(page) == {"page", "limit", "total", "has_more", "data"}
    assert (page["total"], page["has_more"], len(page["data"])) == (4, True, 2)
    assert [
        a["name"] for a in owner_client.get("/console/api/apps", {"mode": "workflow"}).json()["data"]
    ] == ["Beta flow"]
    assert [a["name"] for a in owner_client.get("/console/api/apps", {"name": "alpha"}).json()["data"]] == [
        "Alpha chat"
    ]
    tagged = owner_client.get("/console/api/apps", {"tag_ids": str(tag.id)}).json()["data"]
    assert [a["name"] for a in tagged] == ["Alpha chat"]
    assert tagged[0]["tags"] == [{"id": str(tag.id), "name": "sales", "type": "app"}]
    mine = owner_client.get("/console/api/apps", {"is_created_by_me": "true"}).json()
    assert mine["total"] == 3 and all(a["create_user_name"] == owner.name for a in mine["data"])
    # and bad filters are named
    bad = owner_client.get("/console/api/apps", {"tag_ids": "nope"})
    assert bad.status_code == 400 and "tag_ids" in bad.json()["message"]
    assert owner_client.get("/console/api/apps", {"mode": "robot"}).status_code == 400


def test_list_costs_a_fixed_number_of_queries(make_app, owner_client, tenant, django_assert_max_num_queries):
    for i in range(3):
        app = make_app("chat" if i % 2 else "workflow")
        tag = Tag.objects.create(tenant=tenant, type="app", name=f"t{i}")
        TagBinding.objects.create(tenant=tenant, tag=tag, target_id=app.id)
    owner_client.get("/console/api/apps")  # warm up (authentication writes last_active_at once)
    with django_assert_max_num_queries(8) as small:
        assert len(owner_client.get("/console/api/apps", {"limit": 3}).json()["data"]) == 3
    baseline = len(small)  # read now: each request resets Django's query log
    for i in range(12):
        make_app("chat" if i % 2 else "workflow")
    with django_assert_max_num_queries(baseline):
        assert len(owner_client.get("/console/api/apps", {"limit": 15}).json()["data"]) == 15


def test_update_name_icon_and_settings(make_app, owner_client):
    app = make_app("chat")
    response = owner_client.put(
        f"/console/api/apps/{app.id}",
        {
            "name": "Renamed",
            "description": "New words",
            "icon_type": "emoji",
            "icon": "🦊",
            "icon_background": "#000000",
            "use_icon_as_answer_icon": True,
            "max_active_requests": 5,
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["icon"], body["max_active_requests"]) == (
        "Renamed",
        "New words",
        "🦊",
        5,
    )
    assert body["use_icon_as_answer_icon"] is True
    assert (
        owner_client.post(f"/console/api/apps/{app.id}/name", {"name": "Again"}, format="json").json()["name"]
        == "Again"
    )
    icon = owner_client.post(
        f"/console/api/apps/{app.id}/icon", {"icon": "🐙", "icon_background": "#fff"}, format="json"
    )
    assert icon.json()["icon"] == "🐙"
    # bad input is refused and changes nothing
    bad = owner_client.put(f"/console/api/apps/{app.id}", {"name": "x" * 300}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()["message"]
    app.refresh_from_db()
    assert app.name == "Again"


def test_site_and_api_toggles_with_roles(make_app, owner_client, editor_client):
    app = make_app("chat")
    assert (
        editor_client.post(
            f"/console/api/apps/{app.id}/site-enable", {"enable_site": False}, format="json"
        ).json()["enable_site"]
        is False
    )
    # the API toggle is for admins and owners
    assert (
        editor_client.post(
            f"/console/api/apps/{app.id}/api-enable", {"enable_api": False}, format="json"
        ).status_code
        == 403
    )
    assert (
        owner_client.post(
            f"/console/api/apps/{app.id}/api-enable", {"enable_api": False}, format="json"
        ).json()["enable_api"]
        is False
    )
    app.refresh_from_db()
    assert (app.enable_site, app.enable_api) == (False, False)


@pytest.mark.parametrize("mode", ["chat", "workflow"])
def test_copy_makes_an_independent_app(make_app, owner_client, mode):
    app = make_app(mode, name="Original")
    response = owner_client.post(f"/console/api/apps/{app.id}/copy", {"name": "The copy"}, format="json")
    assert response.status_code == 201, response.json()
    copy = App.objects.get(id=response.json()["id"])
    assert copy.id != app.id and copy.name == "The copy" and copy.mode == mode
    if mode == "workflow":
        original = Workflow.objects.get(app_id=app.id, version="draft")
        copied = Workflow.objects.get(app_id=copy.id, version="draft")
        assert copied.graph == original.graph and copied.id != original.id
    else:
        assert copy.app_model_config.config["model"] == app.app_model_config.config["model"]
        assert copy.app_model_config_id != app.app_model_config_id


def test_delete_cascades_everything_in_one_go(make_app, owner, owner_client, tenant):
    # given a chatflow with a published version, runs, node executions, logs, conversations, messages,
    # feedback, annotations, settings, keys and tags
    app = make_app("advanced-chat")
    workflow = published_workflow(app, owner)
    user = end_user_factory(app=app)
    conversation = conversation_factory(app=app, end_user=user)
    message = message_factory(conversation=conversation)
    MessageFeedback.objects.create(
        tenant=tenant, app=app, conversation=conversation, message=message, rating="like", from_source="user"
    )
    MessageAnnotation.objects.create(tenant=tenant, app=app, message_id=message.id, question="q", content="a")
    AppAnnotationSetting.objects.create(tenant=tenant, app=app, enabled=True)
    run = run_factory(app=app, workflow=workflow, created_by=user.id)
    node_execution_factory(run=run, index=1, node_id="start", node_type="start")
    app_log_factory(run=run)
    api_key_create(tenant=tenant, type="app", app=app)
    tag = Tag.objects.create(tenant=tenant, type="app", name="keep me")
    TagBinding.objects.create(tenant=tenant, tag=tag, target_id=app.id)
    other = make_app("chat", name="Untouched")
    # when it is deleted
    response = owner_client.delete(f"/console/api/apps/{app.id}")
    # then nothing of it remains, and nothing else was touched
    assert response.status_code == 204
    assert not App.objects.filter(id=app.id).exists()
    for model in (
        Site,
        ApiToken,
        EndUser,
        Conversation,
        Message,
        MessageFeedback,
        MessageAnnotation,
        AppAnnotationSetting,
        AppModelConfig,
    ):
        assert not model.objects.filter(app_id=app.id).exists(), model.__name__
    for model in (Workflow, WorkflowRun, WorkflowNodeExecution, WorkflowAppLog):
        assert not model.objects.filter(app_id=app.id).exists(), model.__name__
    assert not TagBinding.objects.filter(target_id=app.id).exists()
    assert Tag.objects.filter(id=tag.id).exists()
    assert App.objects.filter(id=other.id).exists() and Site.objects.filter(app=other).exists()


def test_templates_are_listed_and_create_apps(owner_client):
    templates = owner_client.get("/console/api/app-templates").json()["data"]
    assert {t["mode"] for t in templates} >= {"completion", "chat", "workflow", "advanced-chat"}
    for template in templates:
        response = owner_client.post(
            "/console/api/apps", {"name": f"From {template['id']}", "template": template["id"]}, format="json"
        )
        assert response.status_code == 201, response.json()
        assert response.json()["mode"] == template["mode"]
    missing = owner_client.post("/console/api/apps", {"name": "x", "template": "nope"}, format="json")
    assert missing.status_code == 404 and "nope" in missing.json()["message"]


def test_template_workflows_validate_and_publish(owner_client):
    # the shipped workflow templates are ready to publish as they are
    for template in ("summarizer-workflow", "support-chatflow"):
        app_id = owner_client.post(
            "/console/api/apps", {"name": "t", "template": template}, format="json"
        ).json()["id"]
        response = owner_client.post(f"/console/api/apps/{app_id}/workflows/publish", {}, format="json")
        assert response.status_code == 200, response.json()
