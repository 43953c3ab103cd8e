"""Runs executed by a Celery worker (``APP_RUN_EXECUTOR=celery``): the request travels as JSON, the
events come back through the run's Redis Stream and are relayed into this process's channel, so the
SSE response, the blocking answer and the concurrency slot work exactly as for in-process runs."""

from __future__ import annotations

import asyncio
from typing import Any

from apps.models import App, EndUser
from apps.runs.bus import RunWriter, event_log
from apps.runs.ids import RunIds

WORKER_START_TIMEOUT = 30.0


def workflow_payload(request: Any, ids: RunIds) -> dict[str, Any]:
    return {
        "kind": "workflow",
        "ids": ids.to_dict(),
        "app_id": str(request.app.id),
        "end_user_id": str(request.end_user.id) if request.end_user else None,
        "account_id": str(request.account_id) if request.account_id else None,
        "inputs": request.inputs,
        "invoke_from": request.invoke_from,
        "query": request.query,
        "files": request.files,
        "conversation_id": request.conversation_id,
        "workflow_id": request.workflow_id,
        "draft_workflow_id": str(request.workflow.id) if request.workflow is not None else None,
        "auto_generate_name": request.auto_generate_name,
    }


def chat_payload(
    *,
    app: App,
    end_user: EndUser | None,
    account_id: str | None,
    data: dict[str, Any],
    invoke_from: str,
    config_override: dict[str, Any] | None,
    ids: RunIds,
) -> dict[str, Any]:
    return {
        "kind": "chat",
        "ids": ids.to_dict(),
        "app_id": str(app.id),
        "end_user_id": str(end_user.id) if end_user else None,
        "account_id": account_id,
        "data": {k: (str(v) if k in ("workflow_id",) and v else v) for k, v in data.items()},
        "invoke_from": invoke_from,
        "config_override": config_override,
    }


def load_request(payload: dict[str, Any]) -> Any:
    """Rebuild the runner's request from a payload (in the worker)."""
    from workflows.models import Workflow

    app = App.objects.select_related("tenant", "workflow", "app_model_config").get(id=payload["app_id"])
    end_user = EndUser.objects.get(id=payload["end_user_id"]) if payload.get("end_user_id") else None
    if payload["kind"] == "chat":
        return {
            "app": app,
            "end_user": end_user,
            "account_id": payload.get("account_id"),
            "data": payload["data"],
            "invoke_from": payload["invoke_from"],
            "config_override": payload.get("config_override"),
        }
    from apps.runners.workflow_app import WorkflowRunRequest

    draft = (
        Workflow.objects.get(id=payload["draft_workflow_id"]) if payload.get("draft_workflow_id") else None
    )
    return WorkflowRunRequest(
        app=app,
        inputs=payload["inputs"],
        invoke_from=payload["invoke_from"],
        end_user=end_user,
        account_id=payload.get("account_id"),
        query=payload.get("query") or "",
        files=payload.get("files"),
        conversation_id=payload.get("conversation_id"),
        workflow_id=payload.get("workflow_id"),
        workflow=draft,
        auto_generate_name=payload.get("auto_generate_name", True),
    )


async def relay(payload: dict[str, Any], writer: RunWriter) -> list[dict[str, Any]]:
    """Enqueue the run and copy its events from Redis into ``writer`` until it ends; returns them all."""
    from apps.tasks import run_app

    await asyncio.to_thread(run_app.apply_async, args=[payload], queue="workflow")
    key = payload["ids"]["task_id"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WORKER_START_TIMEOUT
    source = None
    while source is None:
        source = await event_log().follow(key, remote_only=True)
        if source is None:
            if loop.time() > deadline:
                event = {
                    "event": "error",
                    "code": "internal_server_error",
                    "status": 500,
                    "message": "No worker picked up the run. Is a Celery worker consuming the 'workflow' queue?",
                }
                writer.publish(event)
                await writer.close()
                return [event]
            await asyncio.sleep(0.02)
    events = []
    async for _, event in source:
        events.append(event)
        writer.publish(event)
    await writer.close()
    return events


def workflow_result_from_events(events: list[dict[str, Any]]) -> Any:
    """The blocking answer of a relayed workflow/chatflow run, rebuilt from its events."""
    from apps.runners.workflow_app import RunResult

    finished = next((e["data"] for e in reversed(events) if e.get("event") == "workflow_finished"), None)
    paused = next((e["data"] for e in reversed(events) if e.get("event") == "workflow_paused"), None)
    end = next((e for e in reversed(events) if e.get("event") == "message_end"), None)
    error = next((e for e in events if e.get("event") == "error"), None)
    answer = "".join(e.get("answer", "") for e in events if e.get("event") == "message")
    if finished is None and paused is None:
        message = (error or {}).get("message") or "The run ended without a result."
        return RunResult(
            status="failed",
            outputs=None,
            error=message,
            answer=answer,
            finished={},
            usage={},
            metadata={"invalid_input": (error or {}).get("code") == "invalid_param"},
        )
    data = finished or {"status": "paused", "outputs": paused.get("outputs"), "error": None}
    metadata = dict((end or {}).get("metadata") or {})
    return RunResult(
        status=data["status"],
        outputs=data.get("outputs"),
        error=data.get("error"),
        answer=answer,
        finished=finished or {},
        usage=metadata.get("usage", {}),
        metadata=metadata,
        paused=paused,
    )


def chat_result_from_events(events: list[dict[str, Any]]) -> Any:
    from apps.runners.chat_app import ChatResult
    from dify_project.api.errors import ApiError

    error = next((e for e in events if e.get("event") == "error"), None)
    end = next((e for e in reversed(events) if e.get("event") == "message_end"), None)
    answer = "".join(e.get("answer", "") for e in events if e.get("event") in ("message", "agent_message"))
    api_error = ApiError(error["message"], code=error["code"], status=error["status"]) if error else None
    return ChatResult(answer=answer, metadata=(end or {}).get("metadata") or {}, error=api_error)
