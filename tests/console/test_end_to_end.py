"""Done-when check of issue 6: an app built only through the console endpoints runs through the Service API."""

from __future__ import annotations

import copy

import httpx
import pytest
from rest_framework.test import APIClient

from accounts.models import TenantRole
from accounts.tokens import issue_access_token
from tests import factories

pytestmark = pytest.mark.slow


def _console(tenant):
    owner = factories.member_factory(tenant=tenant, role=TenantRole.OWNER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(account_id=str(owner.id))}")
    return client


def _build(console: APIClient, mode: str, edit) -> tuple[str, str]:
    """Create an app, edit its default draft, publish it and make a key, with console calls only."""
    app_id = console.post("/console/api/apps", {"name": f"Built {mode}", "mode": mode}, format="json").json()[
        "id"
    ]
    draft = console.get(f"/console/api/apps/{app_id}/workflows/draft").json()
    graph = edit(copy.deepcopy(draft["graph"]))
    saved = console.post(
        f"/console/api/apps/{app_id}/workflows/draft",
        {
            "graph": graph,
            "features": draft["features"],
            "hash": draft["hash"],
            "environment_variables": [
                {"name": "greeting", "value": "Hello", "value_type": "string"},
                {"name": "token", "value": "s3cr3t-value", "value_type": "secret"},
            ],
        },
        format="json",
    )
    assert saved.status_code == 200, saved.json()
    published = console.post(
        f"/console/api/apps/{app_id}/workflows/publish", {"marked_name": "v1"}, format="json"
    )
    assert published.status_code == 200, published.json()
    key = console.post(f"/console/api/apps/{app_id}/api-keys").json()["token"]
    return app_id, key


def _greeter(graph):
    for node in graph["nodes"]:
        if node["data"]["type"] == "start":
            node["data"]["variables"] = [
                {"variable": "name", "label": "Name", "type": "text-input", "required": True}
            ]
        if node["data"]["type"] == "end":
            node["data"]["outputs"] = [
                {"variable": "who", "value_selector": ["start", "name"]},
                {"variable": "greeting", "value_selector": ["env", "greeting"]},
                {"variable": "token", "value_selector": ["env", "token"]},
            ]
    return graph


def _echo_chatflow(graph):
    # no model needed: Start -> Answer echoing the query
    graph["nodes"] = [n for n in graph["nodes"] if n["data"]["type"] != "llm"]
    graph["edges"] = [
        {
            "id": "start-answer",
            "source": "start",
            "target": "answer",
            "sourceHandle": "source",
            "targetHandle": "target",
        }
    ]
    for node in graph["nodes"]:
        if node["data"]["type"] == "answer":
            node["data"]["answer"] = "{{#env.greeting#}}, {{#sys.query#}}"
    return graph


def test_a_workflow_and_a_chatflow_built_in_the_console_run_through_the_service_api(live_asgi):
    tenant = factories.tenant_factory()
    factories.setup_done()
    console = _console(tenant)
    _, flow_key = _build(console, "workflow", _greeter)
    _, chat_key = _build(console, "advanced-chat", _echo_chatflow)
    with httpx.Client(base_url=f"{live_asgi.url}/v1", timeout=20) as service:
        run = service.post(
            "/workflows/run",
            json={"inputs": {"name": "Ada"}, "user": "e2e", "response_mode": "blocking"},
            headers={"Authorization": f"Bearer {flow_key}"},
        )
        assert run.status_code == 200, run.text
        assert run.json()["data"]["outputs"] == {"who": "Ada", "greeting": "Hello", "token": "s3cr3t-value"}
        chat = service.post(
            "/chat-messages",
            json={"query": "how are you?", "inputs": {}, "user": "e2e", "response_mode": "blocking"},
            headers={"Authorization": f"Bearer {chat_key}"},
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["answer"] == "Hello, how are you?"
