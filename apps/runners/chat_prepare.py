"""Preparing a chat, agent-chat or completion run: the app's model settings, the inputs checked against its
form, the conversation and its history, the run's identity, all read before any row is written."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from apps import exceptions as errors
from apps.models import App, AppMode, Conversation, EndUser, Message
from apps.runners.files import build_files
from apps.runners.inputs import validate_inputs
from apps.runners.prompts import build_prompt, render
from apps.runners.replies import (
    AnnotationCandidates,
    Moderation,
    annotation_candidates,
)
from apps.runs.ids import RunIds
from dify_project.api.errors import InvalidParam

logger = logging.getLogger(__name__)

HISTORY_TURNS = 50  # Dify bounds memory by tokens; we also bound by turns so a long chat stays cheap


@dataclass
class ChatIdentity:
    task_id: str
    mode: str
    message_id: str
    conversation_id: str
    created_at: int

    @property
    def chat(self) -> bool:
        return self.mode != AppMode.COMPLETION

    def envelope(self, event: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event": event,
            "task_id": self.task_id,
            "id": self.message_id,
            "message_id": self.message_id,
        }
        if self.chat:
            body["conversation_id"] = self.conversation_id
        body["created_at"] = self.created_at
        return body


@dataclass
class PreparedChat:
    app: App
    identity: ChatIdentity
    config: dict[str, Any]
    provider: str
    model: str
    parameters: dict[str, Any]
    prompt_messages: list[dict[str, Any]]
    stop: list[str] | None
    user_key: str
    conversation: Conversation | None  # new conversation to insert
    message: Message
    agent: bool
    auto_name: bool
    files: list[dict[str, Any]] = field(default_factory=list)
    moderation: Moderation | None = None
    history: list[tuple[str, str]] = field(default_factory=list)
    annotations: AnnotationCandidates | None = None  # read with the set-up; None for completion apps
    # Write the conversation and message rows while the answer streams (a streaming client learns their
    # ids from the first event and may refer to them); a blocking run writes them once, at the end.
    open_early: bool = True

    def retrieval_query(self) -> str:
        """Chat apps search with the user's query; completion apps with the input Dify's
        ``dataset_query_variable`` names."""
        if self.app.mode == AppMode.COMPLETION:
            variable = self.config.get("dataset_query_variable") or ""
            return str((self.message.inputs or {}).get(variable) or "") if variable else ""
        return self.message.query or ""


def _model_settings(config: dict[str, Any]) -> tuple[str, str, dict[str, Any], list[str] | None]:
    model = config.get("model") or {}
    provider, name = model.get("provider"), model.get("name")
    if not provider or not name:
        raise errors.AppUnavailable("The app has no model configured.")
    params = dict(model.get("completion_params") or {})
    stop = params.pop("stop", None) or None
    return provider, name, params, stop


def _history(conversation: Conversation | None) -> list[tuple[str, str]]:
    if conversation is None:
        return []
    rows = list(
        Message.objects.filter(conversation=conversation, status="normal")
        .exclude(answer="")
        .order_by("-created_at")
        .values_list("query", "answer")[:HISTORY_TURNS]
    )
    return list(reversed(rows))


def _given_history(turns: Any) -> list[tuple[str, str]]:
    if not isinstance(turns, list | tuple):
        return []
    pairs = [(str(t[0]), str(t[1])) for t in turns if isinstance(t, list | tuple) and len(t) == 2]
    return pairs[-HISTORY_TURNS:]


def prepare_chat_run(
    *,
    app: App,
    end_user: EndUser | None,
    account_id: str | None,
    data: dict[str, Any],
    invoke_from: str,
    config_override: dict[str, Any] | None = None,
    ids: RunIds | None = None,
) -> PreparedChat:
    ids = ids or RunIds()
    model_config = app.app_model_config
    if model_config is None and config_override is None:
        raise errors.AppUnavailable()
    config = config_override or model_config.config
    query = data.get("query") or ""
    if app.mode in AppMode.chat_modes() and not query.strip():
        raise InvalidParam("query is required", params="query")
    provider, model, parameters, stop = _model_settings(config)
    files = build_files(data.get("files"), tenant_id=str(app.tenant_id))
    conversation = None
    new_conversation = None
    if app.mode != AppMode.COMPLETION and data.get("conversation_id"):
        filters = {"id": data["conversation_id"], "app": app, "is_deleted": False}
        if end_user is not None:
            filters["from_end_user"] = end_user
        else:
            filters["from_account_id"] = account_id
        conversation = Conversation.objects.filter(**filters).first()
        if conversation is None:
            raise errors.ConversationNotFound()
        if conversation.status != "normal":
            raise errors.ConversationCompleted()
        # A conversation keeps the inputs it started with; later turns' inputs are ignored, as in Dify.
        inputs = conversation.inputs or {}
    else:
        inputs = validate_inputs(config.get("user_input_form") or [], data.get("inputs") or {})
    source = "api" if end_user is not None else "console"
    if conversation is None:
        new_conversation = Conversation(
            id=ids.conversation_id,
            tenant_id=app.tenant_id,
            app=app,
            app_model_config_id=model_config.id if model_config else None,
            model_provider=provider,
            model_id=model,
            mode=app.mode,
            name="New conversation" if app.mode != AppMode.COMPLETION else "",
            inputs=inputs,
            introduction=render(config.get("opening_statement") or "", inputs),
            invoke_from=invoke_from,
            from_source=source,
            from_end_user=end_user,
            from_account_id=account_id,
        )
    conversation_id = str(conversation.id if conversation else new_conversation.id)
    # A stored conversation brings its own turns; otherwise a caller may give them (the OpenAI-compatible
    # endpoint's earlier messages), as (query, answer) pairs, oldest first.
    history = _history(conversation) if conversation is not None else _given_history(data.get("history"))
    prompt = build_prompt(
        app_mode=app.mode,
        config=config,
        inputs=inputs,
        query=query,
        context=None,
        history=history,
        files=files,
    )
    message = Message(
        id=ids.message_id,
        tenant_id=app.tenant_id,
        app=app,
        conversation_id=conversation_id,
        app_model_config_id=model_config.id if model_config else None,
        model_provider=provider,
        model_id=model,
        override_model_configs=config_override,
        inputs=inputs,
        query=query,
        message=prompt.messages,
        invoke_from=invoke_from,
        from_source=source,
        from_end_user=end_user,
        from_account_id=account_id,
        agent_based=app.mode == AppMode.AGENT_CHAT,
        app_mode=app.mode,
    )
    identity = ChatIdentity(
        task_id=ids.task_id,
        mode=app.mode,
        message_id=str(message.id),
        conversation_id=conversation_id,
        created_at=int(time.time()),
    )
    user_key = end_user.session_id if end_user is not None else str(account_id)
    return PreparedChat(
        app=app,
        identity=identity,
        config=config,
        provider=provider,
        model=model,
        parameters=parameters,
        prompt_messages=prompt.messages,
        stop=(stop or []) + (prompt.stop or []) or None,
        user_key=user_key,
        conversation=new_conversation,
        message=message,
        agent=app.mode == AppMode.AGENT_CHAT,
        auto_name=bool(data.get("auto_generate_name", True))
        and new_conversation is not None
        and app.mode != AppMode.COMPLETION,
        files=files,
        moderation=Moderation.from_config(config, tenant_id=str(app.tenant_id)),
        history=history,
        annotations=annotation_candidates(app) if app.mode != AppMode.COMPLETION else None,
    )
