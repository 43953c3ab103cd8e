"""Reads of the apps domain for the console, always scoped to one workspace (a row of another workspace is
"not found", never "forbidden").

List selectors return querysets; the helpers named ``*_by_*`` batch the lookups a page needs, so a list
endpoint issues a fixed number of queries whatever its page size.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from accounts.models import Account, Tenant
from apps import exceptions as errors
from apps.models import (
    App,
    AppAnnotationHitHistory,
    AppAnnotationSetting,
    AppMode,
    Conversation,
    EndUser,
    Message,
    MessageAnnotation,
    MessageFeedback,
    Site,
    Tag,
    TagBinding,
)
from dify_project.api.errors import InvalidParam, NotFound

TAG_TYPES = ("app", "knowledge")


def parse_id(value: Any, *, what: str = "Resource") -> uuid.UUID:
    """A UUID from a path or body value; a malformed id is "not found", named, never a 500."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise NotFound(f"{what} not found: {str(value)[:64]!r} is not a valid id.") from None


# --- apps ---------------------------------------------------------------------------------------------


def app_get(*, tenant: Tenant, app_id: Any, modes: Iterable[str] | None = None) -> App:
    """The app of this workspace, or 404; with ``modes``, an app of another mode is "unavailable" (400)."""
    pk = parse_id(app_id, what="App")
    app = (
        App.objects.for_tenant(tenant)
        .select_related("app_model_config", "workflow")
        .filter(id=pk, status="normal")
        .first()
    )
    if app is None:
        raise errors.AppNotFound()
    if modes is not None and app.mode not in set(modes):
        raise errors.AppUnavailable(
            f"App mode '{app.mode}' does not support this operation; expected one of: {', '.join(sorted(modes))}."
        )
    return app


def app_list(
    *,
    tenant: Tenant,
    mode: str | None = None,
    name: str | None = None,
    tag_ids: list[uuid.UUID] | None = None,
    created_by: uuid.UUID | None = None,
) -> QuerySet[App]:
    """Apps of the workspace, newest first, filtered as Dify's app list filters them."""
    apps = (
        App.objects.for_tenant(tenant)
        .filter(status="normal")
        .select_related("app_model_config", "workflow")
        .order_by("-created_at", "-id")
    )
    if mode and mode != "all":
        apps = apps.filter(mode=mode)
    if name:
        apps = apps.filter(name__icontains=name[:255])
    if tag_ids:
        bound = TagBinding.objects.for_tenant(tenant).filter(
            tag_id__in=tag_ids, tag__type="app", target_id=OuterRef("id")
        )
        apps = apps.filter(Exists(bound))
    if created_by:
        apps = apps.filter(created_by=created_by)
    return apps


def tags_by_target(*, tenant: Tenant, target_ids: Iterable[Any], type: str = "app") -> dict[str, list[Tag]]:
    """Tags bound to each target, in one query."""
    ids = [str(t) for t in target_ids]
    result: dict[str, list[Tag]] = defaultdict(list)
    if not ids:
        return result
    bindings = (
        TagBinding.objects.for_tenant(tenant)
        .filter(target_id__in=ids, tag__type=type)
        .select_related("tag")
        .order_by("tag__name")
    )
    for binding in bindings:
        result[str(binding.target_id)].append(binding.tag)
    return result


def accounts_by_id(ids: Iterable[Any]) -> dict[str, Account]:
    """Accounts by id in one query (for ``created_by`` names); unknown ids are simply absent."""
    wanted = {str(i) for i in ids if i}
    if not wanted:
        return {}
    return {str(a.id): a for a in Account.objects.filter(id__in=wanted).only("id", "name", "email")}


def end_users_by_id(*, tenant: Tenant, ids: Iterable[Any]) -> dict[str, EndUser]:
    wanted = {str(i) for i in ids if i}
    if not wanted:
        return {}
    return {str(u.id): u for u in EndUser.objects.for_tenant(tenant).filter(id__in=wanted)}


def site_of(*, app: App) -> Site | None:
    return Site.objects.filter(app=app).first()


# --- tags -----------------------------------------------------------------------------------------------


def tag_list(*, tenant: Tenant, type: str | None = None, keyword: str | None = None) -> QuerySet[Tag]:
    tags = (
        Tag.objects.for_tenant(tenant)
        .annotate(binding_count=Count("bindings"))
        .order_by("-created_at", "name")
    )
    if type:
        tags = tags.filter(type=type)
    if keyword:
        tags = tags.filter(name__icontains=keyword[:255])
    return tags


def tag_get(*, tenant: Tenant, tag_id: Any) -> Tag:
    pk = parse_id(tag_id, what="Tag")
    tag = Tag.objects.for_tenant(tenant).filter(id=pk).first()
    if tag is None:
        raise NotFound("Tag not found.")
    return tag


# --- conversations and messages ---------------------------------------------------------------------


def _time_window(queryset: QuerySet, field: str, start: datetime | None, end: datetime | None) -> QuerySet:
    if start:
        queryset = queryset.filter(**{f"{field}__gte": start})
    if end:
        queryset = queryset.filter(**{f"{field}__lt": end})
    return queryset


def conversation_list(
    *,
    app: App,
    keyword: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    annotation_status: str = "all",
    message_count_gte: int | None = None,
    sort_by: str = "-updated_at",
) -> QuerySet[Conversation]:
    """Conversations of an app as the console logs list them (Dify excludes debugger conversations)."""
    conversations = (
        Conversation.objects.filter(app=app, tenant_id=app.tenant_id, is_deleted=False)
        .exclude(invoke_from="debugger")
        .annotate(message_count=Count("messages"))
    )
    if keyword:
        keyword = keyword[:255]
        in_messages = Message.objects.filter(conversation_id=OuterRef("id")).filter(
            Q(query__icontains=keyword) | Q(answer__icontains=keyword)
        )
        conversations = conversations.filter(
            Q(name__icontains=keyword) | Q(introduction__icontains=keyword) | Exists(in_messages)
        )
    conversations = _time_window(conversations, "created_at", start, end)
    annotated = MessageAnnotation.objects.filter(conversation_id=OuterRef("id"))
    if annotation_status == "annotated":
        conversations = conversations.filter(Exists(annotated))
    elif annotation_status == "not_annotated":
        conversations = conversations.exclude(Exists(annotated))
    if message_count_gte:
        conversations = conversations.filter(message_count__gte=message_count_gte)
    order = sort_by if sort_by.lstrip("-") in ("created_at", "updated_at") else "-updated_at"
    return conversations.order_by(order, "-id")


def conversation_get(*, app: App, conversation_id: Any) -> Conversation:
    pk = parse_id(conversation_id, what="Conversation")
    conversation = (
        Conversation.objects.filter(app=app, tenant_id=app.tenant_id, id=pk, is_deleted=False)
        .annotate(message_count=Count("messages"))
        .first()
    )
    if conversation is None:
        raise errors.ConversationNotFound()
    return conversation


def first_messages_by_conversation(conversation_ids: Iterable[Any]) -> dict[str, Message]:
    """The first message of each conversation, in one query."""
    ids = [str(c) for c in conversation_ids]
    if not ids:
        return {}
    result: dict[str, Message] = {}
    for message in Message.objects.filter(conversation_id__in=ids).order_by("conversation_id", "created_at"):
        result.setdefault(str(message.conversation_id), message)
    return result


def feedback_stats_by_conversation(conversation_ids: Iterable[Any]) -> dict[str, dict[str, dict[str, int]]]:
    """``{conversation_id: {"user": {"like", "dislike"}, "admin": {...}}}`` in one query."""
    ids = [str(c) for c in conversation_ids]
    stats: dict[str, dict[str, dict[str, int]]] = {
        cid: {"user": {"like": 0, "dislike": 0}, "admin": {"like": 0, "dislike": 0}} for cid in ids
    }
    if not ids:
        return stats
    rows = (
        MessageFeedback.objects.filter(conversation_id__in=ids)
        .values("conversation_id", "from_source", "rating")
        .annotate(n=Count("id"))
    )
    for row in rows:
        source = "admin" if row["from_source"] == "admin" else "user"
        rating = row["rating"] if row["rating"] in ("like", "dislike") else None
        if rating:
            stats[str(row["conversation_id"])][source][rating] += row["n"]
    return stats


def status_counts_by_conversation(conversation_ids: Iterable[Any]) -> dict[str, dict[str, int]]:
    """Workflow-run outcomes of each chatflow conversation's messages (Dify's ``status_count``)."""
    from workflows.selectors import run_status_by_id

    ids = [str(c) for c in conversation_ids]
    counts = {cid: {"success": 0, "failed": 0, "partial_success": 0} for cid in ids}
    if not ids:
        return counts
    pairs = list(
        Message.objects.filter(conversation_id__in=ids, workflow_run_id__isnull=False).values_list(
            "conversation_id", "workflow_run_id"
        )
    )
    statuses = run_status_by_id(run_id for _, run_id in pairs)
    for conversation_id, run_id in pairs:
        status = statuses.get(str(run_id))
        key = {"succeeded": "success", "failed": "failed", "partial-succeeded": "partial_success"}.get(
            status or ""
        )
        if key:
            counts[str(conversation_id)][key] += 1
    return counts


def annotated_conversation_ids(conversation_ids: Iterable[Any]) -> set[str]:
    ids = [str(c) for c in conversation_ids]
    if not ids:
        return set()
    return {
        str(c)
        for c in MessageAnnotation.objects.filter(conversation_id__in=ids).values_list(
            "conversation_id", flat=True
        )
    }


def message_list(
    *, app: App, conversation: Conversation, first_id: Any = None, limit: int = 20
) -> tuple[list[Message], bool]:
    """Dify's chat-messages page: up to ``limit`` messages before ``first_id``, oldest first, and has_more."""
    messages = Message.objects.filter(conversation=conversation, app=app).order_by("-created_at", "-id")
    if first_id:
        pk = parse_id(first_id, what="First message")
        first = Message.objects.filter(conversation=conversation, id=pk).first()
        if first is None:
            raise errors.FirstMessageNotFound()
        messages = messages.filter(
            Q(created_at__lt=first.created_at) | Q(created_at=first.created_at, id__lt=first.id)
        )
    rows = list(messages[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return rows, has_more


def message_get(*, app: App, message_id: Any) -> Message:
    pk = parse_id(message_id, what="Message")
    message = Message.objects.filter(app=app, tenant_id=app.tenant_id, id=pk).first()
    if message is None:
        raise errors.MessageNotFound()
    return message


def feedbacks_by_message(message_ids: Iterable[Any]) -> dict[str, list[MessageFeedback]]:
    ids = [str(m) for m in message_ids]
    result: dict[str, list[MessageFeedback]] = defaultdict(list)
    if ids:
        for feedback in MessageFeedback.objects.filter(message_id__in=ids).order_by("created_at"):
            result[str(feedback.message_id)].append(feedback)
    return result


def annotations_by_message(message_ids: Iterable[Any]) -> dict[str, MessageAnnotation]:
    ids = [str(m) for m in message_ids]
    if not ids:
        return {}
    return {str(a.message_id): a for a in MessageAnnotation.objects.filter(message_id__in=ids)}


def annotation_hits_by_message(message_ids: Iterable[Any]) -> dict[str, AppAnnotationHitHistory]:
    ids = [str(m) for m in message_ids]
    if not ids:
        return {}
    return {
        str(h.message_id): h
        for h in AppAnnotationHitHistory.objects.filter(message_id__in=ids).select_related("annotation")
    }


# --- annotations ----------------------------------------------------------------------------------------


def annotation_list(*, app: App, keyword: str | None = None) -> QuerySet[MessageAnnotation]:
    annotations = MessageAnnotation.objects.filter(app=app, tenant_id=app.tenant_id).order_by(
        "-created_at", "-id"
    )
    if keyword:
        keyword = keyword[:255]
        annotations = annotations.filter(Q(question__icontains=keyword) | Q(content__icontains=keyword))
    return annotations


def annotation_get(*, app: App, annotation_id: Any) -> MessageAnnotation:
    pk = parse_id(annotation_id, what="Annotation")
    annotation = MessageAnnotation.objects.filter(app=app, tenant_id=app.tenant_id, id=pk).first()
    if annotation is None:
        raise errors.AnnotationNotFound()
    return annotation


def annotation_setting_of(*, app: App) -> AppAnnotationSetting | None:
    return AppAnnotationSetting.objects.filter(app=app).first()


def annotation_hit_histories(*, app: App, annotation: MessageAnnotation) -> QuerySet[AppAnnotationHitHistory]:
    return AppAnnotationHitHistory.objects.filter(app=app, annotation=annotation).order_by(
        "-created_at", "-id"
    )


def chat_modes() -> frozenset[str]:
    return AppMode.chat_modes()


def validate_mode_filter(mode: str | None) -> str | None:
    if mode in (None, "", "all"):
        return None
    if mode not in AppMode.values:
        raise InvalidParam(f"mode: '{mode}' is not a valid app mode.", params="mode")
    return mode
