"""OpenAI-compatible endpoints for every app: ``POST /v1/chat/completions``, ``POST /v1/responses`` and
``GET /v1/models``, authenticated with the app's key (the official ``openai`` SDK works with
``base_url=<server>/v1, api_key=<app key>``). The run is the one the Service API starts (same runners,
same rows, same limits); only the shapes differ, and errors on these paths are OpenAI's
``{"error": {...}}``. The mapping is in ``apps.service_api.openai_compat``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions as drf
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from apps.models import App, AppMode, Message
from apps.parameters import start_variables, user_input_form_from_variables
from apps.runners.chat_app import ChatRequest, prepare_chat_request, start_chat_request
from apps.runs.bus import RunWriter
from apps.runs.payloads import WorkflowRunRequest
from apps.service_api.authentication import AppKeyAuthentication
from apps.service_api.base import ServiceApiView
from apps.service_api.openai_compat import (
    AppCall,
    ChatCompletionShape,
    OpenAIError,
    ResponseShape,
    RunTranscript,
    chat_completion_call,
    first_text_input,
    openai_error,
    response_call,
)
from apps.service_api.views.generation import (
    WorkflowRequest,
    prepare_workflow_request,
    start_workflow_request,
)
from apps.services.budgets import budget_check
from dify_project.api.errors import ApiError
from dify_project.api.views import ApiView, AsyncApiView
from workflows.models import Workflow

logger = logging.getLogger(__name__)

PING = b": ping\n\n"  # an SSE comment: every client (the OpenAI SDK included) skips it
DONE = b"data: [DONE]\n\n"


def _as_openai(exc: Exception) -> OpenAIError:
    if isinstance(exc, OpenAIError):
        return exc
    if isinstance(exc, ApiError):
        return openai_error(exc.message, status=exc.status, code=exc.code, param=exc.extra.get("params"))
    if isinstance(exc, drf.ValidationError):
        detail = exc.detail
        message = json.dumps(detail, ensure_ascii=False) if not isinstance(detail, str) else detail
        return OpenAIError(message, status=400, code="invalid_param")
    if isinstance(exc, drf.APIException):
        return openai_error(str(exc.detail), status=exc.status_code, code=exc.default_code)
    if isinstance(exc, Http404):
        return OpenAIError("Not found.", status=404, code="not_found")
    logger.exception("OpenAI-compatible endpoint failed", exc_info=exc)
    return OpenAIError(
        "The server had an error while processing your request.", status=500, type="server_error"
    )


class OpenAIErrors:
    """Every error of the view, authentication included, in OpenAI's shape."""

    def handle_exception(self, exc: Exception) -> Response:
        error = _as_openai(exc)
        headers = {"WWW-Authenticate": 'Bearer realm="api"'} if error.status == 401 else {}
        retry_after = getattr(exc, "retry_after", None) or getattr(exc, "wait", None)
        if retry_after:
            headers["Retry-After"] = str(int(retry_after))
        return Response(error.body(), status=error.status, headers=headers)


class OpenAIApiView(OpenAIErrors, AsyncApiView):
    authentication_classes = [AppKeyAuthentication]
    permission_classes = [IsAuthenticated]


@dataclass
class PreparedCall:
    call: AppCall
    app: App
    run: WorkflowRequest | ChatRequest


def _check_model(app: App, model: str) -> None:
    if model not in (str(app.id), app.name):
        raise OpenAIError(
            f"The model '{model}' does not exist: this key's app is '{app.id}' (see GET /v1/models).",
            status=404,
            code="model_not_found",
            param="model",
        )


def _conversation_of_response(app: App, end_user: Any, message_id: str) -> str:
    message = (
        Message.objects.filter(id=message_id, app=app, from_end_user=end_user).only("conversation_id").first()
    )
    if message is None:
        raise OpenAIError(
            "Previous response not found.", status=404, code="not_found", param="previous_response_id"
        )
    return str(message.conversation_id)


def _form_of(app: App, workflow_id: str | None) -> list[dict[str, Any]]:
    if app.mode in AppMode.workflow_modes():
        workflow = app.workflow
        if workflow_id:
            workflow = Workflow.objects.filter(app_id=app.id, tenant_id=app.tenant_id, id=workflow_id).first()
        return user_input_form_from_variables(start_variables(workflow.graph)) if workflow else []
    config = app.app_model_config
    return list((config.config if config else {}).get("user_input_form") or [])


def prepare_call(request: Request, call: AppCall, *, auto_generate_name: bool) -> PreparedCall:
    """Every check and database read of the call (raises before anything is written)."""
    app: App = request.user.app
    _check_model(app, call.model)
    budget_check(tenant_id=app.tenant_id, app_id=app.id)  # a spent budget refuses before the run starts
    end_user = ServiceApiView.end_user(request, call.user)
    if call.previous_response_id:
        call.conversation_id = _conversation_of_response(app, end_user, call.previous_response_id)
    if call.workflow_id and app.mode not in AppMode.workflow_modes():
        raise OpenAIError("workflow_id pins a workflow version: this app has none.", param="workflow_id")
    inputs = dict(call.inputs)
    if app.mode in (AppMode.WORKFLOW, AppMode.COMPLETION):
        variable = first_text_input(_form_of(app, call.workflow_id))
        if variable and variable not in inputs:
            inputs[variable] = call.query
    files = call.files or None
    if app.mode in AppMode.workflow_modes():
        chat = app.mode == AppMode.ADVANCED_CHAT
        run_request = WorkflowRunRequest(
            app=app,
            inputs=inputs,
            invoke_from="service-api",
            end_user=end_user,
            query=call.query if chat else "",
            files=files,
            conversation_id=call.conversation_id if chat else None,
            workflow_id=call.workflow_id,
            auto_generate_name=auto_generate_name,
            history=call.history if chat else None,
        )
        run: WorkflowRequest | ChatRequest = prepare_workflow_request(run_request, streaming=True, chat=chat)
    else:
        data = {
            "query": call.query,
            "inputs": inputs,
            "files": files,
            "conversation_id": call.conversation_id,
            "auto_generate_name": auto_generate_name,
            "history": call.history,
            "response_mode": "streaming",
        }
        # Streaming underneath in every case (an agent answers only that way); blocking collects it.
        run = prepare_chat_request(
            app=app, end_user=end_user, data=data, streaming=True, invoke_from="service-api"
        )
    return PreparedCall(call=call, app=app, run=run)


async def start(prepared: PreparedCall) -> RunWriter:
    if isinstance(prepared.run, WorkflowRequest):
        writer, _ = await start_workflow_request(prepared.run)
    else:
        writer, _ = await start_chat_request(prepared.run)
    return writer


async def dify_events(writer: RunWriter) -> AsyncIterator[dict[str, Any]]:
    async for _, event in writer.channel.follow(0):
        yield event


async def collect(writer: RunWriter) -> RunTranscript:
    transcript = RunTranscript()
    async for event in dify_events(writer):
        transcript.feed(event)
    return transcript


def _frame(payload: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload, ensure_ascii=False, default=str)}\n\n".encode()


def openai_stream(frames: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_pinged(frames), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _pinged(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Frames as they come; an SSE comment when the run is silent for ``SSE_PING_INTERVAL`` seconds."""
    iterator = frames.__aiter__()
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=settings.SSE_PING_INTERVAL)
            if not done:
                yield PING
                continue
            task, pending = pending, None
            try:
                yield task.result()
            except StopAsyncIteration:
                return
    finally:
        if pending is not None:
            pending.cancel()
        await iterator.aclose()  # type: ignore[attr-defined]


async def chat_chunks(writer: RunWriter, call: AppCall) -> AsyncIterator[bytes]:
    shape, transcript = ChatCompletionShape(call.model), RunTranscript()
    opened = sent = False
    async for event in dify_events(writer):
        delta = transcript.feed(event)
        if transcript.error is not None:
            yield _frame(transcript.error.body())
            yield DONE
            return
        if not opened and (transcript.message_id or transcript.workflow_run_id):
            opened = True
            yield _frame(shape.chunk(transcript, {"role": "assistant", "content": ""}))
        if delta:
            sent = True
            yield _frame(shape.chunk(transcript, {"content": delta}))
    if not opened:
        yield _frame(shape.chunk(transcript, {"role": "assistant", "content": ""}))
    if not sent and transcript.answer:  # a workflow that streamed nothing: its outputs are the answer
        yield _frame(shape.chunk(transcript, {"content": transcript.answer}))
    yield _frame(shape.chunk(transcript, {}, "stop"))
    if call.include_usage:
        yield _frame(shape.usage_chunk(transcript))
    yield DONE


async def response_events(writer: RunWriter, call: AppCall) -> AsyncIterator[bytes]:
    shape, transcript = ResponseShape(call.model), RunTranscript()
    opened = sent = False

    def emit(kind: str, **fields: Any) -> bytes:
        name, payload = shape.event(kind, **fields)
        return _frame(payload, name)

    def opening() -> list[bytes]:
        started = shape.response(transcript, status="in_progress")
        return [
            emit("response.created", response=started),
            emit("response.in_progress", response=started),
            emit("response.output_item.added", output_index=0, item=shape.message_item("", "in_progress")),
            emit(
                "response.content_part.added",
                item_id=shape.item_id,
                output_index=0,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            ),
        ]

    def text_delta(delta: str) -> bytes:
        return emit(
            "response.output_text.delta", item_id=shape.item_id, output_index=0, content_index=0, delta=delta
        )

    async for event in dify_events(writer):
        delta = transcript.feed(event)
        if transcript.error is not None:
            error = transcript.error
            yield emit("error", code=error.code, message=error.message, param=error.param)
            yield DONE
            return
        if not opened and (transcript.message_id or transcript.workflow_run_id):
            opened = True
            for frame in opening():
                yield frame
        if delta:
            sent = True
            yield text_delta(delta)
    if not opened:
        for frame in opening():
            yield frame
    text = transcript.answer
    if not sent and text:
        yield text_delta(text)
    part = {"type": "output_text", "text": text, "annotations": []}
    yield emit("response.output_text.done", item_id=shape.item_id, output_index=0, content_index=0, text=text)
    yield emit(
        "response.content_part.done", item_id=shape.item_id, output_index=0, content_index=0, part=part
    )
    yield emit("response.output_item.done", output_index=0, item=shape.message_item(text))
    yield emit("response.completed", response=shape.response(transcript))
    yield DONE


def _auto_name(request: Request) -> bool:
    data = request.data if isinstance(request.data, dict) else {}
    return bool(data.get("auto_generate_name", True))


class ChatCompletionsApi(OpenAIApiView):
    """OpenAI's Chat Completions on the key's app (``stream: true`` for chunks ending with ``[DONE]``)."""

    def prepare_post(self, request: Request) -> PreparedCall:
        return prepare_call(
            request, chat_completion_call(request.data), auto_generate_name=_auto_name(request)
        )

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: OpenApiResponse(description="`chat.completion`, or `chat.completion.chunk` frames")},
        summary="OpenAI-compatible chat completion",
    )
    async def post(self, request: Request) -> Any:
        prepared: PreparedCall = self.prepared
        writer = await start(prepared)
        if prepared.call.stream:
            return openai_stream(chat_chunks(writer, prepared.call))
        transcript = await collect(writer)
        if transcript.error is not None:
            raise transcript.error
        return Response(ChatCompletionShape(prepared.call.model).completion(transcript))


class ResponsesApi(OpenAIApiView):
    """OpenAI's Responses API on the key's app (``previous_response_id`` continues a chat's conversation)."""

    def prepare_post(self, request: Request) -> PreparedCall:
        return prepare_call(request, response_call(request.data), auto_generate_name=_auto_name(request))

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: OpenApiResponse(description="`response`, or the Responses API's stream events")},
        summary="OpenAI-compatible response",
    )
    async def post(self, request: Request) -> Any:
        prepared: PreparedCall = self.prepared
        writer = await start(prepared)
        if prepared.call.stream:
            return openai_stream(response_events(writer, prepared.call))
        transcript = await collect(writer)
        if transcript.error is not None:
            raise transcript.error
        return Response(ResponseShape(prepared.call.model).response(transcript))


class ModelsApi(OpenAIErrors, ApiView):
    """The key's app as OpenAI's model list: one model whose id is the app's id."""

    authentication_classes = [AppKeyAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiResponse(description='{"object": "list", "data": [model]}')})
    def get(self, request: Request) -> Response:
        app: App = request.user.app
        model = {
            "id": str(app.id),
            "object": "model",
            "created": int(app.created_at.timestamp()),
            "owned_by": "dify",
            "name": app.name,
            "mode": app.mode,
        }
        return Response({"object": "list", "data": [model]})
