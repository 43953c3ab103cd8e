"""Webhook triggers called the way curl calls them, over a real socket: JSON, forms, query strings,
signatures, and every refusal in Dify's error body."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from apps.models import App
from tests import factories
from triggers.models import AppTrigger, WebhookTrigger
from triggers.webhooks import SIGNATURE_HEADER, webhook_signature
from workflows.models import DRAFT, Workflow, WorkflowRun

from .conftest import graph_with, webhook_node

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def curl(live_asgi):
    """A caller with no session or token: the URL (and the signature) is all it has."""
    with httpx.Client(base_url=live_asgi.url, timeout=10) as client:
        yield client


def post_json(curl, url, body, **headers):
    return curl.post(url, content=json.dumps(body), headers={**JSON, **headers})


def test_the_console_gives_each_webhook_node_its_url_on_difys_paths(db, make_workflow_app, owner_client):
    app = make_workflow_app(graph_with(webhook_node()))
    path = f"/console/api/apps/{app.id}/workflows/triggers/webhook"
    response = owner_client.get(path, {"node_id": "hook"})
    assert response.status_code == 200
    body = response.json()
    assert len(body["webhook_id"]) == 24
    assert body["webhook_url"] == f"http://testserver/triggers/webhook/{body['webhook_id']}"
    assert body["webhook_debug_url"].endswith(f"/triggers/webhook-debug/{body['webhook_id']}")
    assert body["node_id"] == "hook" and body["signing_secret_set"] is False
    assert owner_client.get(path, {"node_id": "hook"}).json()["webhook_id"] == body["webhook_id"]
    missing = owner_client.get(path, {"node_id": "t"})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    listed = owner_client.get(f"/console/api/apps/{app.id}/triggers").json()["data"]
    assert [(t["trigger_type"], t["node_id"], t["status"]) for t in listed] == [
        ("trigger-webhook", "hook", "enabled")
    ]
    # another workspace sees nothing
    stranger = factories.member_factory(tenant=factories.tenant_factory(name="Other"), role="owner")
    from accounts.tokens import issue_access_token

    foreign = owner_client.__class__()
    foreign.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(account_id=str(stranger.id))}")
    assert foreign.get(path, {"node_id": "hook"}).status_code == 404


def test_a_sync_json_call_answers_the_runs_result_and_records_a_webhook_run(
    make_workflow_app, hook_url, curl
):
    app = make_workflow_app(graph_with(webhook_node()))
    response = post_json(curl, hook_url(app) + "?units=metric", {"city": "Lyon", "extra": 1})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["data"]["status"] == "succeeded"
    assert body["data"]["outputs"] == {"text": "Weather in Lyon (metric)"}
    run = WorkflowRun.objects.get(id=body["workflow_run_id"])
    assert run.triggered_from == "webhook"
    assert run.status == "succeeded" and run.app_id == app.id
    assert run.inputs["webhook_data"]["body"] == {"city": "Lyon", "extra": 1}
    assert run.created_by_role == "end_user"
    hook_execution = run.node_executions.get(node_id="hook")
    assert hook_execution.outputs["city"] == "Lyon" and hook_execution.outputs["units"] == "metric"


def test_the_real_curl(make_workflow_app, hook_url, live_asgi):
    app = make_workflow_app(graph_with(webhook_node()))
    out = subprocess.run(
        [
            "curl", "-s", "-X", "POST", f"{live_asgi.url}{hook_url(app)}?units=metric",
            "-H", "Content-Type: application/json", "-d", '{"city": "Lyon"}',
        ],
        capture_output=True, check=True, timeout=20,
    )  # fmt: skip
    assert json.loads(out.stdout)["data"]["outputs"] == {"text": "Weather in Lyon (metric)"}


def test_a_form_urlencoded_call(make_workflow_app, hook_url, curl):
    hook = webhook_node(content_type="application/x-www-form-urlencoded", method="PUT")
    app = make_workflow_app(graph_with(hook))
    response = curl.put(hook_url(app), content="city=S%C3%A8te&units=imperial", headers=FORM)
    assert response.status_code == 200, response.json()
    # units is a query parameter of the node, not a body field: the body's copy is not it
    assert response.json()["data"]["outputs"] == {"text": "Weather in Sète (None)"}


def test_a_multipart_call_with_a_file(make_workflow_app, hook_url, curl):
    hook = webhook_node(
        content_type="multipart/form-data",
        body=[
            {"name": "city", "type": "string", "required": True},
            {"name": "report", "type": "file", "required": True},
        ],
    )
    app = make_workflow_app(graph_with(hook, "{{ city }}"))
    response = curl.post(
        hook_url(app),
        data={"city": "Brest"},
        files={"report": ("report.txt", b"sunny all week", "text/plain")},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["outputs"] == {"text": "Brest"}
    run = WorkflowRun.objects.get(id=response.json()["workflow_run_id"])
    stored = run.node_executions.get(node_id="hook").outputs["report"]
    assert stored["filename"] == "report.txt" and stored["transfer_method"] == "local_file"
    assert stored["size"] == len(b"sunny all week")
    # the required file missing: 400
    response = curl.post(
        hook_url(app), data={"city": "Brest"}, files={"other": ("x.txt", b"x", "text/plain")}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Required body parameter missing: report"


def test_a_get_call_with_query_parameters(make_workflow_app, hook_url, curl):
    hook = webhook_node(method="GET", body=[], params=[{"name": "city", "type": "string", "required": True}])
    app = make_workflow_app(graph_with(hook, "{{ city }}"))
    response = curl.get(hook_url(app), params={"city": "Paris"})
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["outputs"] == {"text": "Paris"}


def test_an_async_call_is_answered_at_once_and_the_run_happens_in_the_worker(
    make_workflow_app, hook_url, curl, enqueued, run_queued
):
    hook = webhook_node(async_mode=True, status_code=202, response_body='{"queued": true}')
    app = make_workflow_app(graph_with(hook))
    response = post_json(curl, hook_url(app), {"city": "Oslo"})
    # then the configured answer, before any run exists
    assert (response.status_code, response.json()) == (202, {"queued": True})
    assert not WorkflowRun.objects.filter(app_id=app.id).exists()
    assert len(enqueued) == 1 and enqueued[0]["triggered_from"] == "webhook"
    # when the worker runs it
    run_queued(enqueued[0])
    run = WorkflowRun.objects.get(app_id=app.id)
    assert run.triggered_from == "webhook" and run.status == "succeeded"
    assert run.outputs == {"text": "Weather in Oslo (None)"}


def test_the_default_answer_is_difys_async_one(make_workflow_app, hook_url, curl, enqueued):
    hook = webhook_node()
    del hook["data"]["async_mode"]  # Dify's default: async
    app = make_workflow_app(graph_with(hook))
    response = post_json(curl, hook_url(app), {"city": "Oslo"})
    assert (response.status_code, response.json()) == (
        200,
        {"status": "success", "message": "Webhook processed successfully"},
    )
    assert len(enqueued) == 1


def test_sync_with_a_configured_response_answers_it_after_the_run(make_workflow_app, hook_url, curl):
    app = make_workflow_app(graph_with(webhook_node(status_code=201, response_body="thanks")))
    response = post_json(curl, hook_url(app), {"city": "Rome"})
    assert (response.status_code, response.json()) == (201, {"message": "thanks"})
    assert WorkflowRun.objects.get(app_id=app.id).status == "succeeded"


def test_a_signed_webhook_refuses_a_bad_or_missing_signature(make_workflow_app, hook_url, owner_client, curl):
    app = make_workflow_app(graph_with(webhook_node()))
    url = hook_url(app)
    secret_path = f"/console/api/apps/{app.id}/workflows/triggers/webhook/signing-secret"
    made = owner_client.post(secret_path, {"node_id": "hook"}, format="json")
    assert made.status_code == 200
    secret = made.json()["signing_secret"]
    assert made.json()["signing_secret_set"] is True
    assert secret not in WebhookTrigger.objects.get(app=app).signing_secret  # stored encrypted
    raw = json.dumps({"city": "Lyon"})
    bad = curl.post(url, content=raw, headers={**JSON, SIGNATURE_HEADER: "sha256=" + "0" * 64})
    assert bad.status_code == 401
    assert bad.json() == {
        "code": "invalid_signature",
        "message": f"Invalid or missing {SIGNATURE_HEADER}.",
        "status": 401,
    }
    assert curl.post(url, content=raw, headers=JSON).status_code == 401
    signed = webhook_signature(secret, raw.encode())
    tampered = raw.replace("Lyon", "Nice")  # a signature of another body does not do
    assert curl.post(url, content=tampered, headers={**JSON, SIGNATURE_HEADER: signed}).status_code == 401
    assert not WorkflowRun.objects.filter(app_id=app.id).exists()
    good = curl.post(url, content=raw, headers={**JSON, SIGNATURE_HEADER: signed})
    assert good.status_code == 200, good.json()
    assert WorkflowRun.objects.filter(app_id=app.id).count() == 1
    # signing switched off again
    assert owner_client.delete(secret_path + "?node_id=hook").status_code == 200
    assert curl.post(url, content=raw, headers=JSON).status_code == 200


@pytest.mark.parametrize(
    ("send", "status", "code", "message"),
    [
        (
            lambda curl, url: curl.post(url, content="city=Lyon", headers=FORM),
            415,
            "unsupported_media_type",
            "Content-type mismatch. Expected application/json, got application/x-www-form-urlencoded",
        ),
        (
            lambda curl, url: curl.get(url),
            405,
            "method_not_allowed",
            "HTTP method mismatch. Expected POST, got GET",
        ),
        (
            lambda curl, url: post_json(curl, url, {"town": "Lyon"}),
            400,
            "invalid_param",
            "Required body parameter missing: city",
        ),
        (
            lambda curl, url: post_json(curl, url, {"city": ["Lyon"]}),
            400,
            "invalid_param",
            "Parameter 'city' validation failed: Expected string, got list",
        ),
        (lambda curl, url: curl.post(url, content="{not json", headers=JSON), 400, "invalid_param", None),
        (
            lambda curl, url: post_json(curl, url, ["Lyon"]),
            400,
            "invalid_param",
            "The JSON body must be an object.",
        ),
    ],
)
def test_a_call_that_does_not_fit_is_refused_in_difys_error_body(
    make_workflow_app, hook_url, curl, send, status, code, message
):
    app = make_workflow_app(graph_with(webhook_node()))
    response = send(curl, hook_url(app))
    assert response.status_code == status
    body = response.json()
    assert (body["code"], body["status"]) == (code, status)
    if message:
        assert body["message"] == message
    assert not WorkflowRun.objects.filter(app_id=app.id).exists()


def test_an_unpublished_app_a_disabled_trigger_or_a_deleted_app_answers_404(
    make_workflow_app, hook_url, owner_client, tenant, curl
):
    # a draft-only app: the console shows the URL (as Dify's editor does), the URL answers 404
    draft_only = App.objects.create(tenant=tenant, name="Draft only", mode="workflow")
    Workflow.objects.create(
        tenant=tenant, app_id=draft_only.id, type="workflow", version=DRAFT, graph=graph_with(webhook_node())
    )
    response = post_json(curl, hook_url(draft_only), {"city": "Lyon"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert post_json(curl, "/triggers/webhook/nosuchwebhookid12345678", {"city": "Lyon"}).status_code == 404
    # a published app whose trigger is switched off, then on again
    app = make_workflow_app(graph_with(webhook_node()))
    url = hook_url(app)
    trigger = AppTrigger.objects.get(app=app)
    enable = f"/console/api/apps/{app.id}/trigger-enable"
    off = owner_client.post(enable, {"trigger_id": str(trigger.id), "enable_trigger": False}, format="json")
    assert off.status_code == 200 and off.json()["status"] == "disabled"
    assert post_json(curl, url, {"city": "Lyon"}).status_code == 404
    owner_client.post(enable, {"trigger_id": str(trigger.id), "enable_trigger": True}, format="json")
    assert post_json(curl, url, {"city": "Lyon"}).status_code == 200
    # the app deleted: its URL row goes with it
    assert owner_client.delete(f"/console/api/apps/{app.id}").status_code == 204
    assert not WebhookTrigger.objects.filter(app_id=app.id).exists()
    assert post_json(curl, url, {"city": "Lyon"}).status_code == 404


def test_calls_over_the_rate_answer_429_with_retry_after(
    make_workflow_app, hook_url, settings, curl, enqueued
):
    settings.WEBHOOK_RATE_LIMIT_PER_MINUTE = 2
    app = make_workflow_app(graph_with(webhook_node(async_mode=True)))
    url = hook_url(app)
    assert [post_json(curl, url, {"city": "Lyon"}).status_code for _ in range(2)] == [200, 200]
    refused = post_json(curl, url, {"city": "Lyon"})
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) >= 1
    assert len(enqueued) == 2


def test_a_body_over_the_size_limit_answers_413(make_workflow_app, hook_url, settings, curl):
    settings.WEBHOOK_REQUEST_BODY_MAX_SIZE = 100
    app = make_workflow_app(graph_with(webhook_node()))
    response = post_json(curl, hook_url(app), {"city": "x" * 200})
    assert response.status_code == 413
    assert response.json()["code"] == "request_entity_too_large"
