"""Trigger fixtures: workflow apps whose root is a webhook or a schedule, and the broker recorded.

Runs queued for a Celery worker (async webhooks) are recorded by ``enqueued`` instead of reaching a
broker; a test that wants the run executes the payload the way the worker does (``run_queued``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from apps.tasks import execute_payload, run_app
from tests import factories


def webhook_node(**data: Any) -> dict[str, Any]:
    fields = {
        "type": "trigger-webhook",
        "title": "Webhook Trigger",
        "desc": "",
        "method": "POST",
        "content_type": "application/json",
        "headers": [],
        "params": [{"name": "units", "type": "string", "required": False}],
        "body": [{"name": "city", "type": "string", "required": True}],
        "async_mode": False,
        "status_code": 200,
        "response_body": "",
        "timeout": 30,
        "webhook_url": "",
        "variables": [
            {"variable": "_webhook_raw", "label": "raw", "value_type": "object", "value_selector": []}
        ],
    }
    fields.update(data)
    return {"id": "hook", "type": "custom", "data": fields, "position": {"x": 80, "y": 280}}


def schedule_node(**data: Any) -> dict[str, Any]:
    fields = {
        "type": "trigger-schedule",
        "title": "Schedule Trigger",
        "mode": "visual",
        "frequency": "daily",
        "visual_config": {"time": "9:30 AM", "on_minute": 0, "weekdays": ["sun"], "monthly_days": [1]},
        "timezone": "Europe/Paris",
    }
    fields.update(data)
    return {"id": "schedule", "type": "custom", "data": fields}


def rest(root_id: str, text: str = "Weather in {{ city }} ({{ units }})") -> tuple[list, list]:
    variables = [
        {"variable": "city", "value_selector": [root_id, "city"]},
        {"variable": "units", "value_selector": [root_id, "units"]},
    ]
    nodes = [
        {
            "id": "t",
            "type": "custom",
            "data": {"type": "template-transform", "title": "Text", "template": text, "variables": variables},
        },
        {
            "id": "end",
            "type": "custom",
            "data": {
                "type": "end",
                "title": "End",
                "outputs": [{"variable": "text", "value_selector": ["t", "output"]}],
            },
        },
    ]
    edges = [
        {"id": f"{root_id}-t", "source": root_id, "target": "t", "sourceHandle": "source"},
        {"id": "t-end", "source": "t", "target": "end", "sourceHandle": "source"},
    ]
    return nodes, edges


def graph_with(root: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    nodes, edges = rest(root["id"], *([text] if text else []))
    return {"nodes": [copy.deepcopy(root), *nodes], "edges": edges}


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def record(args: list[Any] | None = None, kwargs: Any = None, **options: Any) -> None:
        assert options.get("queue") == "workflow"
        sent.append(args[0])

    monkeypatch.setattr(run_app, "apply_async", record)
    return sent


@pytest.fixture
def run_queued() -> Callable[[dict[str, Any]], None]:
    """What the worker does with a queued payload (``apps.run_app``), on the test's database connection."""
    return lambda payload: async_to_sync(execute_payload)(payload)


@pytest.fixture
def make_workflow_app(tenant: Any, owner: Any) -> Callable[..., Any]:
    def make(graph: dict[str, Any], **fields: Any) -> Any:
        return factories.app_factory(tenant=tenant, mode="workflow", graph=graph, **fields)

    return make


@pytest.fixture
def hook_url(owner_client: Any) -> Callable[..., str]:
    """The webhook's path, as the console gives it (Dify's GET .../workflows/triggers/webhook)."""

    def url(app: Any, node_id: str = "hook") -> str:
        response = owner_client.get(
            f"/console/api/apps/{app.id}/workflows/triggers/webhook", {"node_id": node_id}
        )
        assert response.status_code == 200, response.json()
        return "/" + response.json()["webhook_url"].split("/", 3)[3]

    return url
