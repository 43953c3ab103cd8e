"""Running apps through the Service API: chat-messages, completion-messages, workflows/run, stop,
run detail, logs and re-attaching to a run's events. All handlers are async (they wait on models)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from apps import exceptions as errors
from apps.models import AppMode
from apps.runners import human_input
from apps.runners.chat_app import ChatRequest, answer_chat_request, prepare_chat_request
from apps.runners.workflow_app import (
    PreparedRun,
    RunResult,
    WorkflowRunRequest,
    execute_workflow_run,
    prepare_workflow_run,
)
from apps.runs import control, remote
from apps.runs.bus import RunWriter
from apps.runs.ids import RunIds
from apps.runs.launch import follow_response, launch, stream_response
from apps.service_api import serializers as s
from apps.service_api.authentication import AppKeyAuthentication
from apps.service_api.base import ServiceApiView
from apps.services.budgets import budget_check
from apps.services.end_users import end_user_get_or_create, end_user_remembered
from apps.services.replay import replay_requested
from dify_project.api.errors import ApiError, InvalidParam, NotFound
from dify_project.api.views import AsyncApiView
from dify_project.db import db_sync_to_async

SSE = OpenApiResponse(description="`text/event-stream` of Dify's events when `response_mode` is `streaming`")


class AsyncServiceApiView(AsyncApiView):
    authentication_classes = [AppKeyAuthentication]
    permission_classes = [IsAuthenticated]

    app = staticmethod(ServiceApiView.app)
    require_chat = staticmethod(ServiceApiView.require_chat)
    require_workflow = staticmethod(ServiceApiView.require_workflow)

    @staticmethod
    async def end_user(request: Request, user: Any, *, required: bool = True) -> Any:
        if user in (None, "") and required:
            raise InvalidParam("Arg user must be provided.", params="user")
        app, name = request.user.app, str(user) if user else None
        return end_user_remembered(app=app, user=name) or await db_sync_to_async(end_user_get_or_create)(
            app=app, user=name
        )


def workflow_blocking_body(prepared_identity: Any, result: RunResult) -> dict[str, Any]:
    data = result.finished
    body = {
        "task_id": prepared_identity.task_id,
        "workflow_run_id": prepared_identity.workflow_run_id,
        "data": {
            "id": data["id"],
            "workflow_id": data["workflow_id"],
            "status": data["status"],
            "outputs": data["outputs"],
            "error": data["error"],
            "elapsed_time": data["elapsed_time"],
            "total_tokens": data["total_tokens"],
            "total_steps": data["total_steps"],
            "created_at": data["created_at"],
            "finished_at": data["finished_at"],
        },
    }
    if result.paused:
        body["data"].update(
            paused_nodes=result.paused["paused_nodes"], reasons=result.paused["reasons"], finished_at=None
        )
    return body


def chat_blocking_body(identity: Any, result: RunResult, mode: str) -> dict[str, Any]:
    body = {
        "event": "message",
        "task_id": identity.task_id,
        "id": identity.message_id,
        "message_id": identity.message_id,
        "conversation_id": identity.conversation_id,
        "mode": mode,
        "answer": result.answer,
        "metadata": {"retriever_resources": [], **result.metadata},
        "created_at": identity.created_at,
    }
    if result.paused:
        body["workflow_run_id"] = identity.workflow_run_id
        body["data"] = {
            "id": identity.workflow_run_id,
            "workflow_run_id": identity.workflow_run_id,
            "status": "paused",
            "answer": result.answer,
            **result.paused,
        }
    return body


@dataclass
class WorkflowRequest:
    """A workflow or chatflow request checked and set up, ready to launch (``prepare_workflow_request``)."""

    prepared: PreparedRun
    ids: RunIds
    streaming: bool
    chat: bool


def prepare_workflow_request(
    run_request: WorkflowRunRequest, *, streaming: bool, chat: bool
) -> WorkflowRequest:
    """The synchronous half: every check and database read of the run (raises Dify's errors)."""
    ids = RunIds()
    prepared = prepare_workflow_run(run_request, ids)
    prepared.open_early = streaming
    return WorkflowRequest(prepared=prepared, ids=ids, streaming=streaming, chat=chat)


async def start_workflow_request(ready: WorkflowRequest) -> tuple[RunWriter, asyncio.Task]:
    """Launch a prepared run (in this process or on a worker); its events arrive on the writer's channel."""
    prepared, run_request = ready.prepared, ready.prepared.request
    identity = prepared.identity
    keys = [identity.task_id, identity.workflow_run_id]
    if identity.message_id:
        keys.append(identity.message_id)
    app = run_request.app
    in_worker = settings.APP_RUN_EXECUTOR == "celery"
    if in_worker:
        payload = remote.workflow_payload(run_request, ready.ids)
        execute = partial(remote.relay, payload)
    else:
        execute = partial(execute_workflow_run, prepared)
    return await launch(
        app_id=str(app.id),
        app_limit=app.max_active_requests,
        keys=keys,
        execute=execute,
        mirror=not in_worker,
    )


async def answer_workflow_request(ready: WorkflowRequest) -> Response | Any:
    """Launch a prepared run and answer it: the event stream, or the blocking body at the end."""
    prepared, run_request = ready.prepared, ready.prepared.request
    identity = prepared.identity
    app = run_request.app
    in_worker = settings.APP_RUN_EXECUTOR == "celery"
    writer, task = await start_workflow_request(ready)
    if ready.streaming:
        return stream_response(writer)
    result: RunResult = await task
    if in_worker:
        result = remote.workflow_result_from_events(result)
    if result.metadata.get("invalid_input"):
        raise InvalidParam(result.error or "Invalid input.")
    if ready.chat:
        if result.status == "failed":
            raise ApiError(result.error or "The run failed.", code="completion_request_error", status=400)
        return Response(chat_blocking_body(identity, result, app.mode))
    return Response(workflow_blocking_body(identity, result))


class WorkflowRunApi(AsyncServiceApiView):
    def prepare_post(self, request: Request, workflow_id: str | None = None) -> WorkflowRequest:
        app = self.app(request)
        self.require_workflow(app)
        data = self.validate(s.WorkflowRunIn, request.data)
        budget_check(tenant_id=app.tenant_id, app_id=app.id)  # a spent budget refuses before the run starts
        run_request = WorkflowRunRequest(
            app=app,
            inputs=data["inputs"],
            invoke_from="service-api",
            end_user=ServiceApiView.end_user(request, data.get("user")),
            files=data.get("files"),
            workflow_id=str(workflow_id or data.get("workflow_id") or "") or None,
        )
        run_request.replay_log = replay_requested(request.data)  # our extension: record a replay log
        return prepare_workflow_request(
            run_request, streaming=data["response_mode"] == "streaming", chat=False
        )

    @extend_schema(
        request=s.WorkflowRunIn, responses={200: s.WorkflowRunBlockingOut}, summary="Run the workflow"
    )
    async def post(self, request: Request, workflow_id: str | None = None) -> Response:
        return await answer_workflow_request(self.prepared)


class WorkflowVersionRunApi(WorkflowRunApi):
    """Run one specific published version (``/workflows/{workflow_id}/run``)."""

    @extend_schema(
        request=s.WorkflowRunIn,
        responses={200: s.WorkflowRunBlockingOut},
        operation_id="v1_workflow_version_run",
        summary="Run a specific published version",
    )
    async def post(self, request: Request, workflow_id: str | None = None) -> Response:
        return await super().post(request, workflow_id)


class ChatMessagesApi(AsyncServiceApiView):
    def prepare_post(self, request: Request) -> WorkflowRequest | ChatRequest:
        app = self.app(request)
        self.require_chat(app)
        data = self.validate(s.ChatMessageIn, request.data)
        budget_check(tenant_id=app.tenant_id, app_id=app.id)
        end_user = ServiceApiView.end_user(request, data.get("user"))
        streaming = data["response_mode"] == "streaming"
        if app.mode == AppMode.ADVANCED_CHAT:
            run_request = WorkflowRunRequest(
                app=app,
                inputs=data["inputs"],
                invoke_from="service-api",
                end_user=end_user,
                query=data["query"],
                files=data.get("files"),
                conversation_id=data.get("conversation_id"),
                workflow_id=str(data["workflow_id"]) if data.get("workflow_id") else None,
                auto_generate_name=data["auto_generate_name"],
            )
            run_request.replay_log = replay_requested(request.data)
            return prepare_workflow_request(run_request, streaming=streaming, chat=True)
        return prepare_chat_request(
            app=app, end_user=end_user, data=data, streaming=streaming, invoke_from="service-api"
        )

    @extend_schema(request=s.ChatMessageIn, responses={200: s.ChatBlockingOut}, summary="Send a chat message")
    async def post(self, request: Request) -> Response:
        if isinstance(self.prepared, WorkflowRequest):
            return await answer_workflow_request(self.prepared)
        return await answer_chat_request(self.prepared)


class CompletionMessagesApi(AsyncServiceApiView):
    def prepare_post(self, request: Request) -> ChatRequest:
        app = self.app(request)
        if app.mode != AppMode.COMPLETION:
            raise errors.AppUnavailable()
        data = self.validate(s.CompletionIn, request.data)
        budget_check(tenant_id=app.tenant_id, app_id=app.id)
        return prepare_chat_request(
            app=app,
            end_user=ServiceApiView.end_user(request, data.get("user")),
            data=data,
            streaming=data["response_mode"] == "streaming",
            invoke_from="service-api",
        )

    @extend_schema(request=s.CompletionIn, responses={200: s.ChatBlockingOut}, summary="Run a completion app")
    async def post(self, request: Request) -> Response:
        return await answer_chat_request(self.prepared)


class StopApi(AsyncServiceApiView):
    """Stop a streaming task; the same for chat, completion and workflow tasks (``task_id`` from any event)."""

    mode_check: str = "chat"

    @extend_schema(request=s.UserBody, responses=s.ResultOut)
    async def post(self, request: Request, task_id: str) -> Response:
        app = self.app(request)
        if self.mode_check == "chat":
            self.require_chat(app)
        elif self.mode_check == "workflow":
            self.require_workflow(app)
        elif app.mode != AppMode.COMPLETION:
            raise errors.AppUnavailable()
        data = self.validate(s.UserBody, request.data)
        end_user = await self.end_user(request, data.get("user"))
        # Dify checks the chat/completion stopper against the starting user (a mismatch is ignored);
        # the workflow stop is not checked against the run's creator.
        user_key = None if self.mode_check == "workflow" else end_user.session_id
        await control.request_stop(str(task_id), app_id=str(app.id), user_key=user_key)
        return Response({"result": "success"})


class ChatStopApi(StopApi):
    mode_check = "chat"


class CompletionStopApi(StopApi):
    mode_check = "completion"


class WorkflowStopApi(StopApi):
    mode_check = "workflow"


class WorkflowEventsApi(AsyncServiceApiView):
    """Re-attach to a run's stream and replay it from ``after`` (sequence number; 0 = from the start)."""

    @extend_schema(parameters=[s.UserQuery], responses={200: SSE})
    async def get(self, request: Request, run_id: str) -> Any:
        app = self.app(request)
        self.require_workflow(app, allow_chatflow=True)
        user = request.query_params.get("user")
        end_user = await self.end_user(request, user)
        run = await _run_of_app(app, str(run_id))
        if run.created_by_role == "end_user" and str(run.created_by) != str(end_user.id):
            raise NotFound("Workflow run not found.")
        try:
            after = max(
                int(request.query_params.get("after") or request.headers.get("Last-Event-ID") or 0), 0
            )
        except ValueError as exc:
            raise InvalidParam("after must be an integer", params="after") from exc
        response = await follow_response(str(run_id), after)
        if response is not None:
            return response
        return _finished_stream(run, app)


async def _run_of_app(app: Any, run_id: str) -> Any:
    from workflows.models import WorkflowRun

    run = await db_sync_to_async(
        WorkflowRun.objects.filter(id=run_id, app_id=app.id, tenant_id=app.tenant_id).first
    )()
    if run is None:
        raise NotFound("Workflow run not found.")
    return run


def _finished_stream(run: Any, app: Any) -> Any:
    """A run no process streams any more: one ``workflow_finished`` from the stored row, then the end."""
    from dify_project.api.sse import sse_response

    data = run_detail(run)
    event = {
        "event": "workflow_finished",
        "workflow_run_id": str(run.id),
        "task_id": str(run.id),
        "data": {
            **data,
            "created_by": {"id": str(run.created_by)},
            "exceptions_count": run.exceptions_count,
            "files": [],
        },
    }
    return sse_response(iter([event]))


def run_detail(run: Any) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "workflow_id": str(run.workflow_id),
        "status": run.status,
        "inputs": run.inputs,
        "outputs": run.outputs,
        "error": run.error or None,
        "total_steps": run.total_steps,
        "total_tokens": run.total_tokens,
        "created_at": int(run.created_at.timestamp()),
        "finished_at": int(run.finished_at.timestamp()) if run.finished_at else None,
        "elapsed_time": run.elapsed_time,
    }


class WorkflowRunDetailApi(ServiceApiView):
    @extend_schema(responses=s.WorkflowRunDataOut)
    def get(self, request: Request, run_id: str) -> Response:
        from workflows.models import WorkflowRun

        app = self.app(request)
        self.require_workflow(app, allow_chatflow=True)
        run = WorkflowRun.objects.filter(id=run_id, app_id=app.id, tenant_id=app.tenant_id).first()
        if run is None:
            raise NotFound("Workflow run not found.")
        return Response(run_detail(run))


class WorkflowLogsApi(ServiceApiView):
    @extend_schema(parameters=[s.WorkflowLogsQuery], responses=s.WorkflowLogsPageOut)
    def get(self, request: Request) -> Response:
        from apps.services.workflow_logs import workflow_logs_page

        app = self.app(request)
        self.require_workflow(app)
        query = self.validate_query(s.WorkflowLogsQuery, request)
        return Response(workflow_logs_page(app=app, **query))


class HumanInputFormIn(s.UserBody):
    action = serializers.CharField(max_length=255)
    inputs = serializers.DictField(required=False, default=dict)


class HumanInputFormApi(AsyncServiceApiView):
    """A paused run's form: read it, or submit it (the run resumes; follow it on ``/workflow/{id}/events``)."""

    @extend_schema(responses={200: OpenApiResponse(description="the form")})
    async def get(self, request: Request, form_token: str) -> Response:
        form = await db_sync_to_async(human_input.form_get)(token=form_token)
        if str(form.pause.workflow_run.app_id) != str(self.app(request).id):
            raise NotFound("Form not found.")
        return Response(human_input.form_definition(form))

    @extend_schema(request=HumanInputFormIn, responses={200: OpenApiResponse(description="{}")})
    async def post(self, request: Request, form_token: str) -> Response:
        app = self.app(request)
        data = self.validate(HumanInputFormIn, request.data)
        await self.end_user(request, data.get("user"))
        form = await db_sync_to_async(human_input.form_get)(token=form_token)
        if str(form.pause.workflow_run.app_id) != str(app.id):
            raise NotFound("Form not found.")
        form = await db_sync_to_async(human_input.form_submit)(
            token=form_token, action=data["action"], inputs=data["inputs"]
        )
        prepared = await db_sync_to_async(human_input.prepare_resume)(form=form, app_id=str(app.id))
        identity = prepared.identity
        keys = [identity.task_id, identity.workflow_run_id] + (
            [identity.message_id] if identity.message_id else []
        )
        await launch(
            app_id=str(app.id),
            app_limit=app.max_active_requests,
            keys=keys,
            execute=partial(execute_workflow_run, prepared),
        )
        return Response({})


class SuggestedQuestionsApi(AsyncServiceApiView):
    @extend_schema(
        parameters=[s.UserQuery], responses={200: OpenApiResponse(description='{"result", "data"}')}
    )
    async def get(self, request: Request, message_id: str) -> Response:
        from apps.runners.suggestions import suggested_questions
        from apps.services.conversations import message_get_for_user

        app = self.app(request)
        self.require_chat(app)
        end_user = await self.end_user(request, request.query_params.get("user"))
        message = await db_sync_to_async(message_get_for_user)(
            app=app, end_user=end_user, message_id=str(message_id)
        )
        return Response({"result": "success", "data": await suggested_questions(app=app, message=message)})
