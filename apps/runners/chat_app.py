"""Running chat, agent-chat and completion apps: prompt, the model call (the tools loop of
``agent_chat`` for an agent with tools), Dify's events.

``prepare_chat_run`` (in ``chat_prepare``) reads and checks everything (inputs against the form, the conversation, history)
before any row is written. ``execute_chat_run`` streams the model's answer as ``message`` (or
``agent_message``/``agent_thought``) events, ends with ``message_end`` (usage and price) and records the
conversation and message; a model error mid-stream becomes an ``error`` event and the message keeps
what was produced, marked as an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.response import Response

from apps.models import App, AppMode, Conversation, EndUser, Message, MessageAgentThought
from apps.runners.agent_chat import (
    AgentModel,
    AgentOutcome,
    AgentTool,
    Thought,
    agent_tools_of,
    max_rounds,
    model_calls_tools,
    prepare_tools,
    run_agent,
    uses_react,
)
from apps.runners.agent_datasets import AgentToolPort, DatasetTools, dataset_agent_tools, dataset_ids_of
from apps.runners.agent_files import AgentFiles
from apps.runners.chat_prepare import (
    ChatIdentity,
    PreparedChat,
    prepare_chat_run,
)
from apps.runners.files import message_files_create
from apps.runners.ports import StorageFilePort
from apps.runners.prompts import build_prompt
from apps.runners.replies import (
    AnnotationHit,
    annotation_match,
    record_annotation_hit,
)
from apps.runs import control, remote
from apps.runs.bus import RunWriter
from apps.runs.errors import stream_error_body
from apps.runs.ids import RunIds
from apps.runs.launch import launch, stream_response
from apps.runs.payloads import ChatResult
from dify_project.api.errors import ApiError, InvalidParam
from dify_project.db import db_sync_to_async
from providers.tools.port import TenantToolPort

logger = logging.getLogger(__name__)


async def _add_context(prepared: PreparedChat) -> list[dict[str, Any]]:
    """Search the app's datasets and rebuild the prompt with what was found (Dify leaves the context
    block out when nothing is found). Answers Dify's ``retriever_resources``."""
    from knowledge.retrieval_port import retrieve_context

    query = prepared.retrieval_query()
    model = prepared.config.get("model") or {}
    context, resources = await retrieve_context(
        tenant_id=str(prepared.app.tenant_id),
        app_id=str(prepared.app.id),
        dataset_configs=prepared.config.get("dataset_configs") or {},
        query=query,
        user=prepared.user_key,
        model={
            "provider": prepared.provider,
            "name": prepared.model,
            "completion_params": model.get("completion_params") or {},
        },
        retriever_from="dev" if prepared.message.invoke_from in ("debugger", "explore") else "api",
    )
    if context:
        prompt = build_prompt(
            app_mode=prepared.app.mode,
            config=prepared.config,
            inputs=prepared.message.inputs or {},
            query=prepared.message.query or "",
            context=context,
            history=prepared.history,
            files=prepared.files,
        )
        prepared.prompt_messages = prompt.messages
    return resources


def _insert_opening(prepared: PreparedChat) -> None:
    with transaction.atomic():
        if prepared.conversation is not None:
            prepared.conversation.save(force_insert=True)
        prepared.message.save(force_insert=True)
        message_files_create(message=prepared.message, files=prepared.files)


async def execute_chat_run(prepared: PreparedChat, writer: RunWriter) -> ChatResult:
    """Call the model, stream the answer, record the message. Never raises."""
    from providers.services.invocation import llm_stream

    identity = prepared.identity
    loop = asyncio.get_running_loop()
    opening: asyncio.Task | None = None

    def open_records() -> None:
        # The conversation and message rows are written beside the run, not before it: on the plain model
        # path once the first piece of the answer is out (at the second piece, or at the end), so the insert
        # never delays the first token.
        nonlocal opening
        if opening is None:
            opening = loop.create_task(db_sync_to_async(_insert_opening)(prepared))

    started = time.perf_counter()
    answer: list[str] = []
    stopped = asyncio.Event()
    control.register_task(
        identity.task_id,
        lambda _reason: stopped.set(),
        app_id=str(prepared.app.id),
        user_key=prepared.user_key,
    )
    thought_id = str(uuid.uuid4())
    message_event = "agent_message" if prepared.agent else "message"
    usage = None
    error: ApiError | None = None
    direct = await _direct_answer(prepared)
    resources: list[dict[str, Any]] = []
    thoughts: list[Thought] | None = None
    agent_files = AgentFiles(
        identity=identity,
        created_by_role="end_user" if prepared.message.from_end_user_id else "account",
        created_by=prepared.message.from_end_user_id or prepared.message.from_account_id,
        emit=writer.publish,
    )
    try:
        if direct is not None or prepared.agent:
            open_records()
        if direct is None and not prepared.agent:  # an agent searches its datasets as tools instead
            resources = await _add_context(prepared)
        port = _agent_port(prepared) if prepared.agent and direct is None else None
        tools = await prepare_tools(port, _configured_tools(prepared)) if port is not None else {}
        if prepared.agent and not tools:
            writer.publish(_agent_thought_event(identity, Thought(id=thought_id, position=1)))
        if tools and port is not None:  # the tools loop records its own thoughts, one per round
            outcome = await _run_agent(prepared, writer, port, tools, stopped, agent_files)
            answer, usage, thoughts = [outcome.answer], outcome.usage, outcome.thoughts
            if port.datasets is not None:
                resources = port.datasets.resources
        elif direct is not None:
            # An annotation or a moderation preset answers; Dify streams it like model output.
            answer.append(direct.text)
            writer.publish({**identity.envelope(message_event), "answer": direct.text})
        else:
            stream = await llm_stream(
                tenant_id=str(prepared.app.tenant_id),
                provider=prepared.provider,
                model=prepared.model,
                messages=prepared.prompt_messages,
                parameters=prepared.parameters,
                stop=prepared.stop,
                user=prepared.user_key,
                source={"app_id": str(prepared.app.id), "message_id": identity.message_id},
            )
            async with stream:
                async for chunk in stream:
                    if stopped.is_set():
                        break
                    text = chunk.text
                    if text:
                        answer.append(text)
                        writer.publish({**identity.envelope(message_event), "answer": text})
                        # Let the readers forward it now: chunks that arrived together would otherwise all
                        # be parsed before the event loop turns to the response.
                        await asyncio.sleep(0)
                        if len(answer) > 1 and prepared.open_early:
                            open_records()
            if not stopped.is_set():
                usage = stream.result.usage
    except Exception as exc:  # the model failed: Dify streams an error event and keeps the message
        code, status, message = stream_error_body(exc)
        error = ApiError(message, code=code, status=status)
        if status >= 500:
            logger.exception("chat run %s failed", identity.message_id)
    finally:
        control.unregister_task(identity.task_id, app_id=str(prepared.app.id))
    replacement = None
    if prepared.moderation is not None and error is None and direct is None:
        replacement = await prepared.moderation.check_output("".join(answer))
    if replacement is not None:
        writer.publish(
            {**identity.envelope("message_replace"), "answer": replacement, "reason": "output_moderation"}
        )
        answer = [replacement]
    latency = time.perf_counter() - started
    text = "".join(answer)
    show_sources = bool((prepared.config.get("retriever_resource") or {}).get("enabled"))
    metadata: dict[str, Any] = {
        "usage": _usage_dict(usage, latency),
        "retriever_resources": resources if show_sources else [],
    }
    if direct is not None and direct.annotation_reply is not None:
        metadata["annotation_reply"] = direct.annotation_reply
    try:
        # Nothing opened the records during the run (a blocking call, an answer in one piece): the opening
        # and the end go in one write, one thread round trip less on the way to the answer.
        if opening is not None:
            await opening
        await db_sync_to_async(_record_end)(
            prepared,
            text,
            usage,
            latency,
            metadata,
            error,
            thought_id,
            thoughts,
            opened=opening is not None,
            files=agent_files,
        )
    except Exception:
        logger.exception("could not record message %s", identity.message_id)
    if error is not None:
        envelope = identity.envelope("error")
        envelope.pop("task_id", None)
        writer.publish({**envelope, "code": error.code, "status": error.status, "message": error.message})
    else:
        if prepared.agent and thoughts is None:
            writer.publish(_agent_thought_event(identity, Thought(id=thought_id, position=1, thought=text)))
        writer.publish({**identity.envelope("message_end"), "metadata": metadata, "files": []})
    await writer.close()
    if prepared.auto_name and error is None:
        from apps.runners.naming import schedule_auto_name

        schedule_auto_name(
            conversation_id=identity.conversation_id,
            tenant_id=str(prepared.app.tenant_id),
            provider=prepared.provider,
            model=prepared.model,
            query=prepared.message.query,
        )
    return ChatResult(answer=text, metadata=metadata, error=error)


@dataclass
class DirectAnswer:
    text: str
    annotation_reply: dict[str, Any] | None = None


async def _direct_answer(prepared: PreparedChat) -> DirectAnswer | None:
    """An answer that needs no model: a moderation preset for flagged input, or a matching annotation."""
    query = prepared.message.query
    if prepared.moderation is not None:
        preset = await prepared.moderation.check_inputs(query, prepared.message.inputs or {})
        if preset is not None:
            return DirectAnswer(text=preset)
    if prepared.app.mode == AppMode.COMPLETION:
        return None
    hit = await annotation_match(app=prepared.app, query=query, prefetched=prepared.annotations)
    if hit is None:
        return None
    account_name = await db_sync_to_async(_record_hit)(prepared, hit)
    return DirectAnswer(
        text=hit.content,
        annotation_reply={"id": hit.annotation_id, "account": {"id": hit.account_id, "name": account_name}},
    )


def _record_hit(prepared: PreparedChat, hit: AnnotationHit) -> str:
    from accounts.models import Account

    record_annotation_hit(
        app=prepared.app,
        hit=hit,
        query=prepared.message.query,
        message_id=str(prepared.message.id),
        account_id=prepared.message.from_account_id,
    )
    account = Account.objects.filter(id=hit.account_id).only("name").first() if hit.account_id else None
    return account.name if account else ""


def _configured_tools(prepared: PreparedChat) -> list[AgentTool]:
    return [*agent_tools_of(prepared.config), *dataset_agent_tools(dataset_ids_of(prepared.config))]


def _agent_port(prepared: PreparedChat) -> AgentToolPort:
    datasets = DatasetTools(
        tenant_id=str(prepared.app.tenant_id),
        app_id=str(prepared.app.id),
        dataset_configs=prepared.config.get("dataset_configs") or {},
        retriever_from="dev" if prepared.message.invoke_from in ("debugger", "explore") else "api",
    )
    return AgentToolPort(_tool_port(prepared), datasets)


def _tool_port(prepared: PreparedChat) -> TenantToolPort:
    message = prepared.message
    files = StorageFilePort(
        tenant_id=str(prepared.app.tenant_id),
        user_id=str(message.from_end_user_id or message.from_account_id or ""),
        conversation_id=prepared.identity.conversation_id,
    )
    return TenantToolPort(tenant_id=str(prepared.app.tenant_id), user=prepared.user_key, files=files)


async def _run_agent(
    prepared: PreparedChat,
    writer: RunWriter,
    port: AgentToolPort,
    tools: dict[str, AgentTool],
    stopped: asyncio.Event,
    files: AgentFiles,
) -> AgentOutcome:
    identity = prepared.identity
    model = AgentModel(
        tenant_id=str(prepared.app.tenant_id),
        provider=prepared.provider,
        model=prepared.model,
        parameters=prepared.parameters,
        stop=prepared.stop,
        user=prepared.user_key,
        source={"app_id": str(prepared.app.id), "message_id": identity.message_id},
    )

    def publish_text(text: str) -> None:
        writer.publish({**identity.envelope("agent_message"), "answer": text})

    def publish_thought(thought: Thought) -> None:
        writer.publish(_agent_thought_event(identity, thought))

    calls_tools = await model_calls_tools(
        tenant_id=str(prepared.app.tenant_id), provider=prepared.provider, model=prepared.model
    )
    if uses_react(prepared.config, calls_tools=calls_tools):
        from apps.runners.react import run_react

        system, history = _split_prompt(prepared.prompt_messages)
        return await run_react(
            model=model,
            port=port,
            tools=tools,
            instruction=system,
            query=prepared.message.query or "",
            rounds=max_rounds(prepared.config),
            user=prepared.user_key,
            publish_text=publish_text,
            publish_thought=publish_thought,
            stopped=stopped,
            history=history,
            publish_files=files.publish,
            ask_to_continue=True,
        )
    return await run_agent(
        model=model,
        port=port,
        tools=tools,
        messages=prepared.prompt_messages,
        rounds=max_rounds(prepared.config),
        user=prepared.user_key,
        publish_text=publish_text,
        publish_thought=publish_thought,
        stopped=stopped,
        publish_files=files.publish,
    )


def _split_prompt(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The app's instruction (its system message) and the conversation before the query, for ReAct,
    which writes its own system prompt around the instruction and asks the query itself."""
    rest = list(messages)
    system = ""
    if rest and rest[0].get("role") == "system":
        content = rest.pop(0).get("content")
        system = content if isinstance(content, str) else ""
    if rest and rest[-1].get("role") == "user":
        rest.pop()
    return system, rest


def _agent_thought_event(identity: ChatIdentity, thought: Thought) -> dict[str, Any]:
    body = identity.envelope("agent_thought")
    body.update(
        id=thought.id,
        position=thought.position,
        thought=thought.thought,
        observation=thought.observation,
        tool=thought.tool,
        tool_labels=thought.tool_labels,
        tool_input=thought.tool_input,
        message_files=thought.message_files,
    )
    return body


def _thought_row(message_id: Any, thought: Thought) -> MessageAgentThought:
    usage = thought.usage
    return MessageAgentThought(
        id=thought.id,
        message_id=message_id,
        position=thought.position,
        thought=thought.thought,
        tool=thought.tool,
        tool_labels=thought.tool_labels,
        tool_meta=thought.tool_meta,
        tool_input=thought.tool_input,
        observation=thought.observation,
        answer=thought.thought,
        message_files=thought.message_files,
        tokens=usage.total_tokens if usage else 0,
        latency=thought.latency,
        total_price=Decimal(str(usage.total_price)) if usage else Decimal(0),
        currency=usage.currency if usage else "USD",
    )


def _usage_dict(usage: Any, latency: float) -> dict[str, Any]:
    if usage is None:
        return {
            "prompt_tokens": 0,
            "prompt_unit_price": "0",
            "prompt_price_unit": "0",
            "prompt_price": "0",
            "completion_tokens": 0,
            "completion_unit_price": "0",
            "completion_price_unit": "0",
            "completion_price": "0",
            "total_tokens": 0,
            "total_price": "0",
            "currency": "USD",
            "latency": round(latency, 6),
        }
    return {
        "prompt_tokens": usage.prompt_tokens,
        "prompt_unit_price": str(usage.prompt_unit_price),
        "prompt_price_unit": str(usage.prompt_price_unit),
        "prompt_price": str(usage.prompt_price),
        "completion_tokens": usage.completion_tokens,
        "completion_unit_price": str(usage.completion_unit_price),
        "completion_price_unit": str(usage.completion_price_unit),
        "completion_price": str(usage.completion_price),
        "total_tokens": usage.total_tokens,
        "total_price": str(usage.total_price),
        "currency": usage.currency,
        "latency": round(latency, 6),
    }


def _add_thoughts(
    prepared: PreparedChat,
    answer: str,
    usage: Any,
    latency: float,
    thought_id: str,
    thoughts: list[Thought] | None,
) -> None:
    message = prepared.message
    if thoughts:
        MessageAgentThought.objects.bulk_create([_thought_row(message.id, thought) for thought in thoughts])
    elif prepared.agent:
        MessageAgentThought.objects.create(
            id=thought_id,
            message_id=message.id,
            position=1,
            thought=answer,
            answer=answer,
            tokens=usage.total_tokens if usage else 0,
            latency=latency,
            total_price=Decimal(str(usage.total_price)) if usage else Decimal(0),
            currency=usage.currency if usage else "USD",
        )


def _record_end(
    prepared: PreparedChat,
    answer: str,
    usage: Any,
    latency: float,
    metadata: dict[str, Any],
    error: ApiError | None,
    thought_id: str,
    thoughts: list[Thought] | None = None,
    *,
    opened: bool,
    files: AgentFiles | None = None,
) -> None:
    """The run's end in one transaction: an update of the rows written while it ran (``opened``), or else
    the rows inserted in their final state."""
    fields: dict[str, Any] = {
        "answer": answer,
        "message": prepared.prompt_messages,  # the prompt as sent, with any retrieved context
        "provider_response_latency": latency,
        "message_metadata": metadata,
        "status": "error" if error else "normal",
        "error": error.message if error else "",
        "updated_at": timezone.now(),
    }
    if usage is not None:
        fields.update(
            message_tokens=usage.prompt_tokens,
            message_unit_price=Decimal(str(usage.prompt_unit_price)),
            message_price_unit=Decimal(str(usage.prompt_price_unit or "0.001")),
            answer_tokens=usage.completion_tokens,
            answer_unit_price=Decimal(str(usage.completion_unit_price)),
            answer_price_unit=Decimal(str(usage.completion_price_unit or "0.001")),
            total_price=Decimal(str(usage.total_price)),
            currency=usage.currency,
        )
    started = None if opened else prepared.conversation
    with transaction.atomic():
        if opened:
            Message.objects.filter(id=prepared.message.id).update(**fields)
        else:
            for name, value in fields.items():
                setattr(prepared.message, name, value)
            if started is not None:
                started.dialogue_count += 1
                started.updated_at = fields["updated_at"]
            _insert_opening(prepared)
        _add_thoughts(prepared, answer, usage, latency, thought_id, thoughts)
        if files is not None:
            files.record(message_id=prepared.message.id)
        if started is None:
            Conversation.objects.filter(id=prepared.message.conversation_id).update(
                dialogue_count=F("dialogue_count") + 1, updated_at=fields["updated_at"]
            )


@dataclass
class ChatRequest:
    """A chat/completion request checked and set up, ready to launch (``prepare_chat_request``)."""

    prepared: PreparedChat
    streaming: bool
    # set when a Celery worker runs it (APP_RUN_EXECUTOR=celery): what the worker rebuilds the run from
    remote_payload: dict[str, Any] | None = None


def prepare_chat_request(
    *,
    app: App,
    end_user: EndUser | None,
    data: dict[str, Any],
    streaming: bool,
    invoke_from: str,
    account_id: str | None = None,
    config_override: dict[str, Any] | None = None,
) -> ChatRequest:
    """The synchronous half of a request: every check and database read (raises Dify's errors)."""
    if app.mode == AppMode.AGENT_CHAT and not streaming:
        raise InvalidParam("Agent Chat App does not support blocking mode")
    ids = RunIds()
    prepared = prepare_chat_run(
        app=app,
        end_user=end_user,
        account_id=account_id,
        data=data,
        invoke_from=invoke_from,
        config_override=config_override,
        ids=ids,
    )
    prepared.open_early = streaming
    payload = None
    if settings.APP_RUN_EXECUTOR == "celery":
        payload = remote.chat_payload(
            app=app,
            end_user=end_user,
            account_id=account_id,
            data=data,
            invoke_from=invoke_from,
            config_override=config_override,
            ids=ids,
        )
    return ChatRequest(prepared=prepared, streaming=streaming, remote_payload=payload)


async def start_chat_request(request: ChatRequest) -> tuple[RunWriter, asyncio.Task]:
    """Launch a prepared request (in this process or on a worker); its events arrive on the writer's channel."""
    prepared, payload = request.prepared, request.remote_payload
    identity = prepared.identity
    app = prepared.app
    execute = partial(execute_chat_run, prepared) if payload is None else partial(remote.relay, payload)
    return await launch(
        app_id=str(app.id),
        app_limit=app.max_active_requests,
        keys=[identity.task_id, identity.message_id],
        execute=execute,
        mirror=payload is None,
    )


async def answer_chat_request(request: ChatRequest) -> Any:
    """Launch a prepared request and answer it: the event stream, or the blocking body at the end."""
    prepared, payload = request.prepared, request.remote_payload
    identity = prepared.identity
    app = prepared.app
    writer, task = await start_chat_request(request)
    if request.streaming:
        return stream_response(writer)
    result: ChatResult = await task
    if payload is not None:
        result = remote.chat_result_from_events(result)
    if result.error is not None:
        raise result.error
    body = {
        "event": "message",
        "task_id": identity.task_id,
        "id": identity.message_id,
        "message_id": identity.message_id,
        "mode": app.mode,
        "answer": result.answer,
        "metadata": result.metadata,
        "created_at": identity.created_at,
    }
    if identity.chat:
        body["conversation_id"] = identity.conversation_id
    return Response(body)
