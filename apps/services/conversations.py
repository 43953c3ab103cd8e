"""Conversations and their messages as an end user sees them: listing, renaming, deleting, history,
feedback and conversation variables. Every read is scoped to the app and the end user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from apps import exceptions as errors
from apps.models import App, Conversation, EndUser, Message, MessageFeedback
from workflows.models import ConversationVariable

_SORT_FIELDS = {"created_at", "-created_at", "updated_at", "-updated_at"}


@dataclass(frozen=True)
class Window:
    """One infinite-scroll page: ``{limit, has_more, data}`` in Dify's list endpoints."""

    limit: int
    has_more: bool
    data: list[Any]


def _user_conversations(*, app: App, end_user: EndUser) -> QuerySet[Conversation]:
    return Conversation.objects.filter(app=app, from_end_user=end_user, is_deleted=False)


def conversation_get(*, app: App, end_user: EndUser, conversation_id: str) -> Conversation:
    conversation = _user_conversations(app=app, end_user=end_user).filter(id=conversation_id).first()
    if conversation is None:
        raise errors.ConversationNotFound()
    return conversation


def conversation_list(
    *,
    app: App,
    end_user: EndUser,
    last_id: str | None,
    limit: int,
    sort_by: str,
    only_ids: list[Any] | None = None,
    exclude_ids: list[Any] | None = None,
) -> Window:
    """Newest-updated first by default; ``last_id`` continues after that conversation. ``only_ids`` /
    ``exclude_ids`` narrow the list (the web app's pinned and unpinned lists)."""
    if sort_by not in _SORT_FIELDS:
        sort_by = "-updated_at"
    field = sort_by.lstrip("-")
    descending = sort_by.startswith("-")
    queryset = _user_conversations(app=app, end_user=end_user)
    if only_ids is not None:
        queryset = queryset.filter(id__in=only_ids)
    if exclude_ids:
        queryset = queryset.exclude(id__in=exclude_ids)
    if last_id:
        last = queryset.filter(id=last_id).first()
        if last is None:
            raise errors.LastConversationNotFound()
        pivot = getattr(last, field)
        queryset = queryset.filter(**{f"{field}__lt" if descending else f"{field}__gt": pivot})
    rows = list(queryset.order_by(sort_by, "-id" if descending else "id")[: limit + 1])
    return Window(limit=limit, has_more=len(rows) > limit, data=rows[:limit])


def conversation_rename(*, conversation: Conversation, name: str) -> Conversation:
    conversation.name = name
    conversation.save(update_fields=["name", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    """Soft delete: the conversation disappears for its user; logs and statistics keep the messages."""
    conversation.is_deleted = True
    conversation.save(update_fields=["is_deleted", "updated_at"])


def message_history(*, conversation: Conversation, first_id: str | None, limit: int) -> Window:
    """Messages older than ``first_id`` (or the newest), returned oldest first, as Dify's chat scroll wants."""
    queryset = Message.objects.filter(conversation=conversation)
    if first_id:
        first = queryset.filter(id=first_id).first()
        if first is None:
            raise errors.FirstMessageNotFound()
        queryset = queryset.filter(created_at__lt=first.created_at)
    rows = list(
        queryset.select_related("conversation")
        .prefetch_related("files__upload_file", "agent_thoughts", "feedbacks")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    has_more = len(rows) > limit
    return Window(limit=limit, has_more=has_more, data=list(reversed(rows[:limit])))


def message_get_for_user(*, app: App, end_user: EndUser, message_id: str) -> Message:
    message = (
        Message.objects.select_related("conversation")
        .filter(id=message_id, app=app, from_end_user=end_user, conversation__is_deleted=False)
        .first()
    )
    if message is None:
        raise errors.MessageNotFound()
    return message


@transaction.atomic
def feedback_set(*, message: Message, end_user: EndUser, rating: str | None, content: str | None) -> None:
    """Like, dislike or revoke (``rating`` None) the end user's feedback on a message."""
    existing = MessageFeedback.objects.select_for_update().filter(message=message, from_source="user").first()
    if rating is None:
        if existing is None:
            raise errors.ApiError("rating cannot be None when feedback not exists", code="invalid_param")
        existing.delete()
        return
    if existing is None:
        MessageFeedback.objects.create(
            tenant_id=message.tenant_id,
            app_id=message.app_id,
            conversation_id=message.conversation_id,
            message=message,
            rating=rating,
            content=content or "",
            from_source="user",
            from_end_user=end_user,
        )
        return
    existing.rating = rating
    existing.content = content or ""
    existing.save(update_fields=["rating", "content", "updated_at"])


def variables_list(
    *, conversation: Conversation, last_id: str | None, limit: int, variable_name: str | None
) -> Window:
    queryset = ConversationVariable.objects.filter(conversation_id=conversation.id)
    if variable_name:
        queryset = queryset.filter(name=variable_name)
    if last_id:
        last = queryset.filter(variable_id=last_id).first()
        if last is not None:
            queryset = queryset.filter(created_at__gt=last.created_at)
    rows = list(queryset.order_by("created_at", "id")[: limit + 1])
    return Window(limit=limit, has_more=len(rows) > limit, data=rows[:limit])


def _value_matches(value_type: str, value: Any) -> bool:
    checks = {
        "string": lambda v: isinstance(v, str),
        "secret": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array[string]": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        "array[number]": lambda v: (
            isinstance(v, list) and all(isinstance(i, int | float) and not isinstance(i, bool) for i in v)
        ),
        "array[object]": lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
        "array[boolean]": lambda v: isinstance(v, list) and all(isinstance(i, bool) for i in v),
        "array[any]": lambda v: isinstance(v, list),
    }
    check = checks.get(value_type)
    return check(value) if check else True


def variable_update(*, conversation: Conversation, variable_id: str, value: Any) -> ConversationVariable:
    variable = ConversationVariable.objects.filter(
        conversation_id=conversation.id, variable_id=variable_id
    ).first()
    if variable is None:
        raise errors.ConversationVariableNotFound("Conversation Variable Not Exists.")
    if not _value_matches(variable.value_type, value):
        raise errors.ConversationVariableTypeMismatch(
            f"Type mismatch: variable '{variable.name}' expects {variable.value_type}, "
            f"but got {type(value).__name__} value"
        )
    variable.value = value
    variable.save(update_fields=["value", "updated_at"])
    return variable
