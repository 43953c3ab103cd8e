"""What a run is asked and what it answers, as values and as JSON: the request and result types of the
workflow and chat runners, the payload a Celery worker receives (``APP_RUN_EXECUTOR=celery``), and the
blocking answer rebuilt from a relayed run's events. Below both the runners and the relay, which import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.models import App, EndUser
from apps.runs.ids import RunIds
from dify_project.api.errors import ApiError
from workflows.models import Workflow


@dataclass
class WorkflowRunRequest:
    app: App
    inputs: dict[str, Any]
    invoke_from: str  # service-api | web-app | debugger
    end_user: EndUser | None = None
    account_id: str | None = None
    query: str = ""
    files: list[Any] | None = None
    conversation_id: str | None = None
    workflow_id: str | None = None  # a specific published version
    workflow: Workflow | None = None  # given directly for draft (debug) runs
    auto_generate_name: bool = True
    # Earlier turns given by the caller instead of a stored conversation ([query, answer] pairs, oldest
    # first): what LLM nodes with memory see on a first turn (the OpenAI-compatible endpoint's messages).
    history: list[Any] | None = None
    # A run a trigger root started (the `triggers` app): Dify's triggered_from (webhook | schedule) and
    # the root it starts from (a workflow may hold several triggers).
    triggered_from: str | None = None
    root_node_id: str | None = None


@dataclass
class RunResult:
    """What a blocking caller needs once the run has ended."""

    status: str
    outputs: dict[str, Any] | None
    error: str | None
    answer: str
    finished: dict[str, Any]
    usage: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    paused: dict[str, Any] | None = None


@dataclass
class ChatResult:
    answer: str
    metadata: dict[str, Any]
    error: ApiError | None = None


# -- the worker's payload -------------------------------------------------------------------------------


def workflow_payload(request: WorkflowRunRequest, ids: RunIds) -> dict[str, Any]:
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
        "history": request.history,
        "triggered_from": request.triggered_from,
        "root_node_id": request.root_node_id,
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


def load_request(payload: dict[str, Any]) -> WorkflowRunRequest | dict[str, Any]:
    """Rebuild the runner's request from a payload (in the worker)."""
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
        history=payload.get("history"),
        triggered_from=payload.get("triggered_from"),
        root_node_id=payload.get("root_node_id"),
    )


# -- the blocking answer of a relayed run ---------------------------------------------------------------


def workflow_result_from_events(events: list[dict[str, Any]]) -> RunResult:
    """The blocking answer of a relayed workflow/chatflow run, rebuilt from its events."""
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


def chat_result_from_events(events: list[dict[str, Any]]) -> ChatResult:
    error = next((e for e in events if e.get("event") == "error"), None)
    end = next((e for e in reversed(events) if e.get("event") == "message_end"), None)
    answer = "".join(e.get("answer", "") for e in events if e.get("event") in ("message", "agent_message"))
    api_error = ApiError(error["message"], code=error["code"], status=error["status"]) if error else None
    return ChatResult(answer=answer, metadata=(end or {}).get("metadata") or {}, error=api_error)
