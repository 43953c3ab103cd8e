"""Console output shapes for conversations, messages, feedback and annotations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accounts.models import Account, Tenant
from apps import selectors
from apps.console.presenters.app_shapes import (
    _str,
    simple_account,
)
from apps.models import (
    AppAnnotationHitHistory,
    Conversation,
    Message,
    MessageAnnotation,
    MessageFeedback,
)
from apps.services.model_config import model_config_to_dict
from dify_project.api.fields import timestamp

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
