"""Output shaping for the console API: rows to the JSON bodies Dify's console returns (``fields/*.py``).

Functions taking a list batch their lookups, so a page costs a fixed number of queries. The matching
serializers in ``serializers.py`` document the same shapes in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from rest_framework.request import Request

from accounts.models import Account, Tenant
from apps import selectors
from apps.models import (
    ApiToken,
    App,
    AppAnnotationHitHistory,
    AppAnnotationSetting,
    Conversation,
    EndUser,
    Message,
    MessageAnnotation,
    MessageFeedback,
    Site,
    Tag,
)
from apps.services.model_config import model_config_to_dict
from dify_project.api.fields import timestamp
from workflows.models import Workflow, WorkflowAppLog, WorkflowNodeExecution, WorkflowRun
from workflows.services.hashing import workflow_hash
from workflows.services.variables import environment_variables_masked


def simple_account(account: Account | None) -> dict[str, Any] | None:
    if account is None:
        return None
    return {"id": str(account.id), "name": account.name, "email": account.email}


def simple_end_user(end_user: EndUser | None) -> dict[str, Any] | None:
    if end_user is None:
        return None
    return {
        "id": str(end_user.id),
        "type": end_user.type,
        "is_anonymous": end_user.is_anonymous,
        "session_id": end_user.session_id,
    }


def _str(value: Any) -> str | None:
    return str(value) if value else None


def base_url(request: Request, setting: str) -> str:
    configured = getattr(settings, setting, "") or ""
    return (configured or request.build_absolute_uri("/")).rstrip("/")


def icon_url(icon_type: str, icon: str) -> str | None:
    if icon_type != "image" or not icon:
        return None
    files_url = (getattr(settings, "FILES_URL", "") or "").rstrip("/")
    return f"{files_url}/files/{icon}/file-preview"


def tag(tag: Tag, binding_count: int | None = None) -> dict[str, Any]:
    body = {"id": str(tag.id), "name": tag.name, "type": tag.type}
    if binding_count is not None:
        body["binding_count"] = str(binding_count)
    return body


def annotation_reply(setting: AppAnnotationSetting | None) -> dict[str, Any]:
    if setting is None or not setting.enabled:
        return {"enabled": False}
    return {
        "id": str(setting.id),
        "enabled": True,
        "score_threshold": setting.score_threshold,
        "embedding_model": {
            "embedding_provider_name": setting.embedding_provider_name,
            "embedding_model_name": setting.embedding_model_name,
        },
    }


def model_config(app: App, setting: AppAnnotationSetting | None = None) -> dict[str, Any] | None:
    row = app.app_model_config
    if row is None:
        return None
    body = model_config_to_dict(row.config)
    body["annotation_reply"] = annotation_reply(setting)
    body.update(
        {
            "created_by": _str(row.created_by),
            "created_at": timestamp(row.created_at),
            "updated_by": _str(row.created_by),
            "updated_at": timestamp(row.created_at),
        }
    )
    return body


def model_config_partial(app: App) -> dict[str, Any] | None:
    row = app.app_model_config
    if row is None:
        return None
    config = model_config_to_dict(row.config)
    return {
        "model": config["model"],
        "pre_prompt": config["pre_prompt"],
        "created_by": _str(row.created_by),
        "created_at": timestamp(row.created_at),
        "updated_by": _str(row.created_by),
        "updated_at": timestamp(row.created_at),
    }


def workflow_partial(workflow: Workflow | None) -> dict[str, Any] | None:
    if workflow is None:
        return None
    return {
        "id": str(workflow.id),
        "created_by": _str(workflow.created_by),
        "created_at": timestamp(workflow.created_at),
        "updated_by": _str(workflow.updated_by),
        "updated_at": timestamp(workflow.updated_at),
    }


def site(site: Site | None, request: Request, *, with_app_id: bool = False) -> dict[str, Any] | None:
    if site is None:
        return None
    body = {
        "access_token": site.code,
        "code": site.code,
        "title": site.title,
        "icon_type": site.icon_type or None,
        "icon": site.icon,
        "icon_background": site.icon_background,
        "icon_url": icon_url(site.icon_type, site.icon),
        "description": site.description,
        "default_language": site.default_language,
        "chat_color_theme": site.chat_color_theme or None,
        "chat_color_theme_inverted": site.chat_color_theme_inverted,
        "customize_domain": site.customize_domain or None,
        "copyright": site.copyright or None,
        "privacy_policy": site.privacy_policy or None,
        "custom_disclaimer": site.custom_disclaimer,
        "customize_token_strategy": site.customize_token_strategy,
        "prompt_public": site.prompt_public,
        "app_base_url": base_url(request, "APP_WEB_URL"),
        "show_workflow_steps": site.show_workflow_steps,
        "use_icon_as_answer_icon": site.use_icon_as_answer_icon,
        "created_by": None,
        "created_at": timestamp(site.created_at),
        "updated_by": None,
        "updated_at": timestamp(site.updated_at),
    }
    if with_app_id:
        body["app_id"] = str(site.app_id)
    return body


def app_detail(app: App, request: Request, *, tenant: Tenant) -> dict[str, Any]:
    """Dify's ``app_detail_fields_with_site``, plus ``tags``, ``max_active_requests`` and ``tracing``."""
    tags = selectors.tags_by_target(tenant=tenant, target_ids=[app.id]).get(str(app.id), [])
    setting = selectors.annotation_setting_of(app=app) if app.app_model_config_id else None
    return {
        "id": str(app.id),
        "name": app.name,
        "description": app.description,
        "mode": app.mode,
        "icon_type": app.icon_type,
        "icon": app.icon,
        "icon_background": app.icon_background,
        "icon_url": icon_url(app.icon_type, app.icon),
        "enable_site": app.enable_site,
        "enable_api": app.enable_api,
        "model_config": model_config(app, setting),
        "workflow": workflow_partial(app.workflow),
        "site": site(selectors.site_of(app=app), request),
        "api_base_url": base_url(request, "SERVICE_API_URL") + "/v1",
        "use_icon_as_answer_icon": app.use_icon_as_answer_icon,
        "max_active_requests": app.max_active_requests,
        "tracing": app.tracing,
        "created_by": _str(app.created_by),
        "created_at": timestamp(app.created_at),
        "updated_by": _str(app.updated_by),
        "updated_at": timestamp(app.updated_at),
        "deleted_tools": [],
        "access_mode": None,
        "tags": [tag(t) for t in tags],
    }


def app_list(apps: Sequence[App], *, tenant: Tenant) -> list[dict[str, Any]]:
    """Dify's ``app_partial_fields`` for a page of apps: tags and creators in one query each."""
    tags = selectors.tags_by_target(tenant=tenant, target_ids=[a.id for a in apps])
    creators = selectors.accounts_by_id(a.created_by for a in apps)
    result = []
    for app in apps:
        config = model_config_partial(app)
        creator = creators.get(str(app.created_by))
        description = app.description or (config["pre_prompt"] if config else "") or ""
        result.append(
            {
                "id": str(app.id),
                "name": app.name,
                "max_active_requests": app.max_active_requests,
                "description": description,
                "mode": app.mode,
                "icon_type": app.icon_type,
                "icon": app.icon,
                "icon_background": app.icon_background,
                "icon_url": icon_url(app.icon_type, app.icon),
                "model_config": config,
                "workflow": workflow_partial(app.workflow),
                "use_icon_as_answer_icon": app.use_icon_as_answer_icon,
                "created_by": _str(app.created_by),
                "created_at": timestamp(app.created_at),
                "updated_by": _str(app.updated_by),
                "updated_at": timestamp(app.updated_at),
                "tags": [tag(t) for t in tags.get(str(app.id), [])],
                "access_mode": None,
                "create_user_name": creator.name if creator else None,
                "author_name": creator.name if creator else None,
            }
        )
    return result


def api_key(token: ApiToken, plain: str | None = None) -> dict[str, Any]:
    """A key as listed (its visible prefix) or, once at creation, with the whole secret."""
    return {
        "id": str(token.id),
        "type": token.type,
        "token": plain if plain is not None else f"{token.prefix}…",
        "last_used_at": timestamp(token.last_used_at),
        "created_at": timestamp(token.created_at),
    }


# --- workflows ------------------------------------------------------------------------------------------


def workflow(row: Workflow, accounts: dict[str, Account]) -> dict[str, Any]:
    """Dify's ``workflow_fields`` (secret environment values masked)."""
    return {
        "id": str(row.id),
        "graph": row.graph,
        "features": row.features,
        "hash": workflow_hash(graph=row.graph, features=row.features),
        "version": row.version,
        "number": row.number,
        "marked_name": row.marked_name,
        "marked_comment": row.marked_comment,
        "created_by": simple_account(accounts.get(str(row.created_by))),
        "created_at": timestamp(row.created_at),
        "updated_by": simple_account(accounts.get(str(row.updated_by))),
        "updated_at": timestamp(row.updated_at),
        "tool_published": False,
        "environment_variables": environment_variables_masked(row.environment_variables or []),
        "conversation_variables": row.conversation_variables or [],
        "rag_pipeline_variables": [],
    }


def workflows(rows: Sequence[Workflow]) -> list[dict[str, Any]]:
    accounts = selectors.accounts_by_id([r.created_by for r in rows] + [r.updated_by for r in rows])
    return [workflow(r, accounts) for r in rows]


def _creators(rows: Iterable[Any], *, tenant: Tenant) -> tuple[dict[str, Account], dict[str, EndUser]]:
    rows = list(rows)
    accounts = selectors.accounts_by_id(r.created_by for r in rows if r.created_by_role == "account")
    end_users = selectors.end_users_by_id(
        tenant=tenant, ids=(r.created_by for r in rows if r.created_by_role == "end_user")
    )
    return accounts, end_users


def workflow_runs(rows: Sequence[WorkflowRun], *, tenant: Tenant, chat: bool = False) -> list[dict[str, Any]]:
    accounts, _ = _creators(rows, tenant=tenant)
    messages: dict[str, Message] = {}
    if chat:
        messages = {
            str(m.workflow_run_id): m
            for m in Message.objects.filter(workflow_run_id__in=[r.id for r in rows]).only(
                "id", "conversation_id", "workflow_run_id"
            )
        }
    result = []
    for run in rows:
        item = {
            "id": str(run.id),
            "version": run.version,
            "status": run.status,
            "elapsed_time": run.elapsed_time,
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_by_account": simple_account(accounts.get(str(run.created_by)))
            if run.created_by_role == "account"
            else None,
            "created_at": timestamp(run.created_at),
            "finished_at": timestamp(run.finished_at),
            "exceptions_count": run.exceptions_count,
            "triggered_from": run.triggered_from,
        }
        if chat:
            message = messages.get(str(run.id))
            item["conversation_id"] = str(message.conversation_id) if message else None
            item["message_id"] = str(message.id) if message else None
        result.append(item)
    return result


def workflow_run_detail(run: WorkflowRun, *, tenant: Tenant) -> dict[str, Any]:
    accounts, end_users = _creators([run], tenant=tenant)
    return {
        "id": str(run.id),
        "version": run.version,
        "graph": run.graph,
        "inputs": run.inputs,
        "status": run.status,
        "outputs": run.outputs,
        "error": run.error or None,
        "elapsed_time": run.elapsed_time,
        "total_tokens": run.total_tokens,
        "total_steps": run.total_steps,
        "created_by_role": run.created_by_role,
        "created_by_account": simple_account(accounts.get(str(run.created_by))),
        "created_by_end_user": simple_end_user(end_users.get(str(run.created_by))),
        "created_at": timestamp(run.created_at),
        "finished_at": timestamp(run.finished_at),
        "exceptions_count": run.exceptions_count,
        "triggered_from": run.triggered_from,
        "workflow_id": str(run.workflow_id),
    }


def node_executions(rows: Sequence[WorkflowNodeExecution], *, tenant: Tenant) -> list[dict[str, Any]]:
    accounts, end_users = _creators(rows, tenant=tenant)
    return [
        {
            "id": str(n.id),
            "index": n.index,
            "predecessor_node_id": n.predecessor_node_id or None,
            "node_id": n.node_id,
            "node_type": n.node_type,
            "title": n.title,
            "inputs": n.inputs,
            "process_data": n.process_data,
            "outputs": n.outputs,
            "status": n.status,
            "error": n.error or None,
            "elapsed_time": n.elapsed_time,
            "execution_metadata": n.execution_metadata,
            "extras": {},
            "created_at": timestamp(n.created_at),
            "created_by_role": n.created_by_role,
            "created_by_account": simple_account(accounts.get(str(n.created_by))),
            "created_by_end_user": simple_end_user(end_users.get(str(n.created_by))),
            "finished_at": timestamp(n.finished_at),
            "inputs_truncated": False,
            "outputs_truncated": False,
            "process_data_truncated": False,
        }
        for n in rows
    ]


def workflow_app_logs(rows: Sequence[WorkflowAppLog], *, tenant: Tenant) -> list[dict[str, Any]]:
    accounts, end_users = _creators(rows, tenant=tenant)
    result = []
    for log in rows:
        run = log.workflow_run
        result.append(
            {
                "id": str(log.id),
                "workflow_run": {
                    "id": str(run.id),
                    "version": run.version,
                    "status": run.status,
                    "triggered_from": run.triggered_from,
                    "error": run.error or None,
                    "elapsed_time": run.elapsed_time,
                    "total_tokens": run.total_tokens,
                    "total_steps": run.total_steps,
                    "created_at": timestamp(run.created_at),
                    "finished_at": timestamp(run.finished_at),
                    "exceptions_count": run.exceptions_count,
                }
                if run
                else None,
                "details": None,
                "created_from": log.created_from,
                "created_by_role": log.created_by_role,
                "created_by_account": simple_account(accounts.get(str(log.created_by))),
                "created_by_end_user": simple_end_user(end_users.get(str(log.created_by))),
                "created_at": timestamp(log.created_at),
            }
        )
    return result


# --- conversations, messages, annotations ---------------------------------------------------------------


def _annotation(annotation: MessageAnnotation | None, accounts: dict[str, Account]) -> dict[str, Any] | None:
    if annotation is None:
        return None
    return {
        "id": str(annotation.id),
        "question": annotation.question,
        "content": annotation.content,
        "account": simple_account(accounts.get(str(annotation.account_id))),
        "created_at": timestamp(annotation.created_at),
    }


def _model_config_of_conversation(
    conversation: Conversation, configs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    config = configs.get(str(conversation.app_model_config_id)) or {}
    if conversation.override_model_configs:
        config = {**config, **conversation.override_model_configs}
    full = model_config_to_dict(config)
    return {
        "model": full["model"],
        "pre_prompt": full["pre_prompt"],
        "opening_statement": full["opening_statement"],
        "suggested_questions": full["suggested_questions"],
        "user_input_form": full["user_input_form"],
        "agent_mode": full["agent_mode"],
    }


def _configs_by_id(conversations: Sequence[Conversation]) -> dict[str, dict[str, Any]]:
    from apps.models import AppModelConfig

    ids = {c.app_model_config_id for c in conversations if c.app_model_config_id}
    if not ids:
        return {}
    return {str(row.id): row.config for row in AppModelConfig.objects.filter(id__in=ids)}


def conversations(rows: Sequence[Conversation], *, tenant: Tenant, chat: bool) -> list[dict[str, Any]]:
    """Dify's ``conversation_with_summary_fields`` (chat) or ``conversation_fields`` (completion)."""
    ids = [c.id for c in rows]
    end_users = selectors.end_users_by_id(tenant=tenant, ids=(c.from_end_user_id for c in rows))
    accounts = selectors.accounts_by_id(c.from_account_id for c in rows)
    feedback = selectors.feedback_stats_by_conversation(ids)
    configs = _configs_by_id(rows)
    first_messages = selectors.first_messages_by_conversation(ids)
    annotations: dict[str, MessageAnnotation] = {}
    for annotation in MessageAnnotation.objects.filter(conversation_id__in=ids).order_by("created_at"):
        annotations.setdefault(str(annotation.conversation_id), annotation)
    annotation_accounts = selectors.accounts_by_id(a.account_id for a in annotations.values())
    status_counts = selectors.status_counts_by_conversation(ids) if chat else {}
    result = []
    for conversation in rows:
        cid = str(conversation.id)
        end_user = end_users.get(str(conversation.from_end_user_id))
        account = accounts.get(str(conversation.from_account_id))
        first = first_messages.get(cid)
        config = _model_config_of_conversation(conversation, configs)
        item: dict[str, Any] = {
            "id": cid,
            "status": conversation.status,
            "from_source": conversation.from_source,
            "from_end_user_id": _str(conversation.from_end_user_id),
            "from_end_user_session_id": end_user.session_id if end_user else None,
            "from_account_id": _str(conversation.from_account_id),
            "from_account_name": account.name if account else None,
            "read_at": timestamp(conversation.read_at),
            "created_at": timestamp(conversation.created_at),
            "updated_at": timestamp(conversation.updated_at),
            "model_config": {"model": config["model"], "pre_prompt": config["pre_prompt"]},
            "user_feedback_stats": feedback[cid]["user"],
            "admin_feedback_stats": feedback[cid]["admin"],
        }
        if chat:
            item.update(
                {
                    "name": conversation.name,
                    "summary": conversation.summary or (first.query if first else "") or conversation.name,
                    "annotated": cid in annotations,
                    "message_count": getattr(conversation, "message_count", 0),
                    "status_count": status_counts.get(cid),
                }
            )
        else:
            item["annotation"] = _annotation(annotations.get(cid), annotation_accounts)
            item["message"] = (
                {
                    "inputs": first.inputs,
                    "query": first.query,
                    "message": (
                        first.message[0].get("text", "")
                        if isinstance(first.message, list)
                        and first.message
                        and isinstance(first.message[0], dict)
                        else ""
                    ),
                    "answer": first.answer,
                }
                if first
                else None
            )
        result.append(item)
    return result


def conversation_detail(conversation: Conversation, *, tenant: Tenant, chat: bool) -> dict[str, Any]:
    configs = _configs_by_id([conversation])
    feedback = selectors.feedback_stats_by_conversation([conversation.id])[str(conversation.id)]
    body: dict[str, Any] = {
        "id": str(conversation.id),
        "status": conversation.status,
        "from_source": conversation.from_source,
        "from_end_user_id": _str(conversation.from_end_user_id),
        "from_account_id": _str(conversation.from_account_id),
        "created_at": timestamp(conversation.created_at),
        "model_config": _model_config_of_conversation(conversation, configs),
    }
    if chat:
        body.update(
            {
                "updated_at": timestamp(conversation.updated_at),
                "annotated": bool(selectors.annotated_conversation_ids([conversation.id])),
                "introduction": conversation.introduction,
                "message_count": getattr(conversation, "message_count", 0),
                "user_feedback_stats": feedback["user"],
                "admin_feedback_stats": feedback["admin"],
            }
        )
    else:
        first = selectors.first_messages_by_conversation([conversation.id]).get(str(conversation.id))
        body["message"] = messages([first], tenant=tenant)[0] if first else None
    return body


def _feedback(feedback: MessageFeedback, accounts: dict[str, Account]) -> dict[str, Any]:
    return {
        "rating": feedback.rating,
        "content": feedback.content or None,
        "from_source": feedback.from_source,
        "from_end_user_id": _str(feedback.from_end_user_id),
        "from_account": simple_account(accounts.get(str(feedback.from_account_id))),
    }


def messages(rows: Sequence[Message], *, tenant: Tenant) -> list[dict[str, Any]]:
    """Dify's ``message_detail_fields`` for a page of messages, with feedback and annotations."""
    ids = [m.id for m in rows]
    feedbacks = selectors.feedbacks_by_message(ids)
    annotations = selectors.annotations_by_message(ids)
    hits = selectors.annotation_hits_by_message(ids)
    account_ids = [f.from_account_id for fs in feedbacks.values() for f in fs]
    account_ids += [a.account_id for a in annotations.values()]
    account_ids += [h.annotation.account_id for h in hits.values() if h.annotation_id]
    accounts = selectors.accounts_by_id(account_ids)
    from apps.models import MessageAgentThought, MessageFile

    thoughts: dict[str, list[MessageAgentThought]] = {}
    for thought in MessageAgentThought.objects.filter(message_id__in=ids).order_by("position"):
        thoughts.setdefault(str(thought.message_id), []).append(thought)
    files: dict[str, list[MessageFile]] = {}
    for file in MessageFile.objects.filter(message_id__in=ids).order_by("created_at"):
        files.setdefault(str(file.message_id), []).append(file)
    result = []
    for message in rows:
        mid = str(message.id)
        hit = hits.get(mid)
        result.append(
            {
                "id": mid,
                "conversation_id": str(message.conversation_id),
                "inputs": message.inputs,
                "query": message.query,
                "message": message.message,
                "message_tokens": message.message_tokens,
                "answer": message.answer,
                "answer_tokens": message.answer_tokens,
                "provider_response_latency": message.provider_response_latency,
                "from_source": message.from_source,
                "from_end_user_id": _str(message.from_end_user_id),
                "from_account_id": _str(message.from_account_id),
                "feedbacks": [_feedback(f, accounts) for f in feedbacks.get(mid, [])],
                "workflow_run_id": _str(message.workflow_run_id),
                "annotation": _annotation(annotations.get(mid), accounts),
                "annotation_hit_history": {
                    "annotation_id": str(hit.annotation_id),
                    "annotation_create_account": simple_account(accounts.get(str(hit.annotation.account_id))),
                    "created_at": timestamp(hit.created_at),
                }
                if hit
                else None,
                "created_at": timestamp(message.created_at),
                "agent_thoughts": [
                    {
                        "id": str(t.id),
                        "chain_id": None,
                        "message_id": mid,
                        "position": t.position,
                        "thought": t.thought,
                        "tool": t.tool,
                        "tool_labels": t.tool_labels,
                        "tool_input": t.tool_input,
                        "created_at": timestamp(t.created_at),
                        "observation": t.observation,
                        "files": t.message_files,
                    }
                    for t in thoughts.get(mid, [])
                ],
                "message_files": [
                    {
                        "id": str(f.id),
                        "type": f.type,
                        "url": f.url,
                        "transfer_method": f.transfer_method,
                        "belongs_to": f.belongs_to,
                        "upload_file_id": _str(f.upload_file_id),
                    }
                    for f in files.get(mid, [])
                ],
                "metadata": message.message_metadata,
                "status": message.status,
                "error": message.error or None,
                "parent_message_id": _str(message.parent_message_id),
            }
        )
    return result


def annotation(row: MessageAnnotation) -> dict[str, Any]:
    """Dify's ``annotation_fields``."""
    return {
        "id": str(row.id),
        "question": row.question,
        "answer": row.content,
        "hit_count": row.hit_count,
        "created_at": timestamp(row.created_at),
    }


def annotation_hits(rows: Sequence[AppAnnotationHitHistory]) -> list[dict[str, Any]]:
    return [
        {
            "id": str(h.id),
            "source": h.source,
            "score": h.score,
            "question": h.question,
            "created_at": timestamp(h.created_at),
            "match": h.annotation_question,
            "response": h.annotation_content,
        }
        for h in rows
    ]
