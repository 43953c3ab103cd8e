"""Debugging apps from the console: run the draft workflow (streaming, the same events as the Service
API), run one node with given inputs, stop a debug task, and debug chat/completion with a model config
that is not saved yet. Runs are recorded with ``triggered_from = debugging`` and never appear in app logs."""

from __future__ import annotations

import time
import uuid
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.console import serializers as console_serializers
from apps.console.views import logs
from apps.console.views.common import APP_ID, AppApiView
from apps.models import App, AppMode
from apps.runners.chat_app import ChatRequest, answer_chat_request, prepare_chat_request
from apps.runners.ports import ports_for_run
from apps.runners.workflow_app import WorkflowRunRequest, engine_limits, environment_of, graph_for
from apps.runs import control
from apps.service_api.views.generation import (
    WorkflowRequest,
    answer_workflow_request,
    prepare_workflow_request,
)
from dify_project.api.errors import InvalidParam, NotFound
from dify_project.api.fields import ResultOut
from dify_project.api.views import AsyncApiView
from dify_project.db import db_sync_to_async
from workflows import engine as wf
from workflows.models import Workflow, WorkflowNodeExecution

SSE = OpenApiResponse(description="`text/event-stream` of Dify's workflow events")
WORKFLOW_MODES = (AppMode.WORKFLOW, AppMode.ADVANCED_CHAT)
CHAT_MODES = (AppMode.CHAT, AppMode.AGENT_CHAT, AppMode.COMPLETION)


class AsyncAppApiView(AsyncApiView, AppApiView):
    """An async console endpoint about one app (roles and workspace scoping as ``AppApiView``)."""

    async def app_of(self, request: Request, app_id: Any) -> App:
        return await db_sync_to_async(self.get_app)(request, app_id)


class DraftRunIn(serializers.Serializer):
    inputs = serializers.DictField(required=False, default=dict)
    files = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)


class ChatflowDraftRunIn(DraftRunIn):
    query = serializers.CharField(max_length=100_000, trim_whitespace=False)
    conversation_id = serializers.UUIDField(required=False, allow_null=True)


def _draft(app: App) -> Workflow:
    draft = Workflow.objects.filter(app_id=app.id, tenant_id=app.tenant_id, version="draft").first()
    if draft is None:
        raise NotFound("Draft workflow not found.", code="draft_workflow_not_exist")
    return draft


class DraftWorkflowRunApi(AsyncAppApiView):
    app_modes = (AppMode.WORKFLOW,)

    def prepare_post(self, request: Request, app_id: Any) -> WorkflowRequest:
        app = self.get_app(request, app_id)
        data = self.validate(DraftRunIn, request.data)
        run_request = WorkflowRunRequest(
            app=app,
            inputs=data["inputs"],
            invoke_from="debugger",
            account_id=str(request.user.id),
            files=data.get("files"),
            workflow=_draft(app),
        )
        return prepare_workflow_request(run_request, streaming=True, chat=False)

    @extend_schema(parameters=[APP_ID], request=DraftRunIn, responses={200: SSE}, summary="Run the draft")
    async def post(self, request: Request, app_id: Any) -> Any:
        return await answer_workflow_request(self.prepared)


class ChatflowDraftRunApi(AsyncAppApiView):
    app_modes = (AppMode.ADVANCED_CHAT,)

    def prepare_post(self, request: Request, app_id: Any) -> WorkflowRequest:
        app = self.get_app(request, app_id)
        data = self.validate(ChatflowDraftRunIn, request.data)
        run_request = WorkflowRunRequest(
            app=app,
            inputs=data["inputs"],
            invoke_from="debugger",
            account_id=str(request.user.id),
            query=data["query"],
            files=data.get("files"),
            workflow=_draft(app),
            conversation_id=str(data["conversation_id"]) if data.get("conversation_id") else None,
        )
        return prepare_workflow_request(run_request, streaming=True, chat=True)

    @extend_schema(
        parameters=[APP_ID],
        request=ChatflowDraftRunIn,
        responses={200: SSE},
        summary="Chat with the draft chatflow",
    )
    async def post(self, request: Request, app_id: Any) -> Any:
        return await answer_workflow_request(self.prepared)


class TaskStopApi(AsyncAppApiView):
    app_modes = None

    @extend_schema(parameters=[APP_ID], request=None, responses=ResultOut)
    async def post(self, request: Request, app_id: Any, task_id: str) -> Response:
        app = await self.app_of(request, app_id)
        # Editors stop any debug task of the app, as in Dify (no user check).
        await control.request_stop(str(task_id), app_id=str(app.id))
        return Response({"result": "success"})


class NodeRunIn(serializers.Serializer):
    inputs = serializers.DictField()
    query = serializers.CharField(required=False, allow_blank=True, default="")
    files = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)


class NodeExecutionOut(serializers.Serializer):
    id = serializers.UUIDField()
    index = serializers.IntegerField()
    predecessor_node_id = serializers.CharField(allow_null=True)
    node_id = serializers.CharField()
    node_type = serializers.CharField()
    title = serializers.CharField()
    inputs = serializers.JSONField(allow_null=True)
    process_data = serializers.JSONField(allow_null=True)
    outputs = serializers.JSONField(allow_null=True)
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    execution_metadata = serializers.JSONField(allow_null=True)
    extras = serializers.JSONField()
    created_at = serializers.IntegerField()
    created_by_role = serializers.CharField()
    finished_at = serializers.IntegerField(allow_null=True)


def _selector_key(node_id: str, key: str) -> str:
    """Dify's single-step input keys: ``#node.var#``, ``<this node>.#node.var#`` or plain ``node.var``."""
    if key.startswith(f"{node_id}.#"):
        key = key[len(node_id) + 1 :]
    return key.strip("#")


def _record_single_step(
    app: App,
    draft: Workflow,
    account_id: str,
    node: Any,
    result: wf.NodeResult | None,
    error: str | None,
    elapsed: float,
    started: float,
) -> WorkflowNodeExecution:
    from datetime import UTC, datetime

    return WorkflowNodeExecution.objects.create(
        id=uuid.uuid4(),
        tenant_id=app.tenant_id,
        app_id=app.id,
        workflow_id=draft.id,
        triggered_from="single-step",
        index=1,
        node_execution_id="",
        node_id=node.id,
        node_type=node.type,
        title=getattr(node, "title", ""),
        inputs=result.inputs if result else None,
        process_data=result.process_data if result else None,
        outputs=result.outputs if result else None,
        status="succeeded" if result and not error else "failed",
        error=error or "",
        elapsed_time=elapsed,
        execution_metadata=(result.metadata if result else None) or None,
        created_by_role="account",
        created_by=account_id,
        finished_at=datetime.fromtimestamp(started + elapsed, UTC),
    )


class DraftNodeRunApi(AsyncAppApiView):
    app_modes = WORKFLOW_MODES

    @extend_schema(
        parameters=[APP_ID],
        request=NodeRunIn,
        responses=NodeExecutionOut,
        summary="Run one node of the draft with the given inputs",
    )
    async def post(self, request: Request, app_id: Any, node_id: str) -> Response:
        app = await self.app_of(request, app_id)
        data = self.validate(NodeRunIn, request.data)
        draft = await db_sync_to_async(_draft)(app)
        graph = await db_sync_to_async(graph_for)(draft)
        node = graph.nodes.get(node_id)
        if node is None:
            raise NotFound(f"Node {node_id} not found in the draft.")
        variables = {}
        for key, value in data["inputs"].items():
            selector = _selector_key(node_id, key)
            if selector.count(".") != 1:
                raise InvalidParam(
                    f"input {key!r} is not a variable selector like '#node_id.variable#'", params="inputs"
                )
            variables[selector] = value
        account_id = str(request.user.id)
        ports = ports_for_run(
            tenant_id=str(app.tenant_id),
            user_id=account_id,
            user=account_id,
            conversation_id=None,
            source={"app_id": str(app.id), "purpose": "single-step"},
        )
        engine = wf.Engine(ports=ports, limits=engine_limits())
        system = {
            "user_id": account_id,
            "app_id": str(app.id),
            "workflow_id": str(draft.id),
            "query": data.get("query") or None,
        }
        started = time.time()
        error = None
        try:
            result, events = await engine.run_node(
                graph,
                node_id,
                variables=variables,
                system=system,
                environment=environment_of(draft),
                conversation=draft.conversation_variables or [],
            )
            if result is None:
                error = next(
                    (getattr(e, "error", "") for e in events if getattr(e, "error", "")),
                    "The node did not finish.",
                )
        except (ValueError, KeyError, wf.InputError) as exc:
            raise InvalidParam(str(exc), params="inputs") from exc
        elapsed = time.time() - started
        row = await db_sync_to_async(_record_single_step)(
            app, draft, account_id, node, result, error, elapsed, started
        )
        return Response(
            {
                "id": str(row.id),
                "index": 1,
                "predecessor_node_id": None,
                "node_id": row.node_id,
                "node_type": row.node_type,
                "title": row.title,
                "inputs": row.inputs,
                "process_data": row.process_data,
                "outputs": row.outputs,
                "status": row.status,
                "error": row.error or None,
                "elapsed_time": row.elapsed_time,
                "execution_metadata": row.execution_metadata,
                "extras": {},
                "created_at": int(started),
                "created_by_role": "account",
                "finished_at": int(started + elapsed),
            }
        )


class DebugChatIn(serializers.Serializer):
    inputs = serializers.DictField(required=False, default=dict)
    query = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False, max_length=100_000
    )
    model_config = serializers.DictField(required=False)
    conversation_id = serializers.UUIDField(required=False, allow_null=True)
    response_mode = serializers.ChoiceField(
        choices=["blocking", "streaming"], required=False, default="streaming"
    )
    files = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)


class DebugChatApi(AsyncAppApiView):
    """The console's chat/completion preview, with the model config being edited (not saved yet)."""

    app_modes = CHAT_MODES

    def prepare_post(self, request: Request, app_id: Any) -> ChatRequest:
        from apps.services.model_config import model_config_to_dict, model_config_validate

        app = self.get_app(request, app_id)
        data = self.validate(DebugChatIn, request.data)
        override = None
        if data.get("model_config"):
            override = model_config_to_dict(model_config_validate(mode=app.mode, config=data["model_config"]))
        elif app.app_model_config_id:
            override = model_config_to_dict(app.app_model_config.config)
        payload = {
            "inputs": data["inputs"],
            "query": data["query"],
            "files": data.get("files"),
            "conversation_id": str(data["conversation_id"]) if data.get("conversation_id") else None,
            "auto_generate_name": False,
        }
        return prepare_chat_request(
            app=app,
            end_user=None,
            data=payload,
            streaming=data["response_mode"] == "streaming",
            invoke_from="debugger",
            account_id=str(request.user.id),
            config_override=override,
        )

    @extend_schema(parameters=[APP_ID], request=DebugChatIn, responses={200: SSE})
    async def post(self, request: Request, app_id: Any) -> Any:
        return await answer_chat_request(self.prepared)


class ChatMessagesApi(DebugChatApi):
    """Dify serves two things on ``/apps/{id}/chat-messages``: GET is a conversation's message log, POST
    the debug chat. GET runs the log view's code (synchronous, through ``sync_to_async``)."""

    @extend_schema(
        parameters=[APP_ID, console_serializers.ConsoleMessageListQuery],
        responses=console_serializers.ConsoleMessagePageOut,
        summary="Messages of a conversation (oldest first), with feedback and annotations",
    )
    async def get(self, request: Request, app_id: Any) -> Response:
        view = logs.ChatMessageListApi()
        view.request = request
        return await db_sync_to_async(view.get)(request, app_id)
