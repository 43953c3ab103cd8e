"""Request and response shapes of the Service API (Dify's field names; timestamps in Unix seconds)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from apps.models import Conversation, Message
from dify_project.api.fields import ResultOut, TimestampField, timestamp  # noqa: F401 (ResultOut re-exported)
from files.signing import sign_tool_file_path

QUERY_MAX_LENGTH = 100_000  # generous; Dify bounds it only by the model's context


class UserQuery(serializers.Serializer):
    user = serializers.CharField(required=False, allow_blank=True, max_length=255)


class UserBody(serializers.Serializer):
    user = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)


class SimpleConversationOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    inputs = serializers.JSONField()
    status = serializers.CharField()
    introduction = serializers.CharField(allow_blank=True)
    created_at = TimestampField()
    updated_at = TimestampField()


class ConversationListQuery(UserQuery):
    last_id = serializers.UUIDField(required=False, allow_null=True)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    sort_by = serializers.ChoiceField(
        required=False,
        default="-updated_at",
        choices=["created_at", "-created_at", "updated_at", "-updated_at"],
    )

    def to_internal_value(self, data: Any) -> Any:
        # Dify's SDK sends `last_id=` (empty) on the first page; treat it as absent.
        if hasattr(data, "dict"):
            data = data.dict()
        data = {k: v for k, v in dict(data).items() if not (k == "last_id" and v in ("", None))}
        return super().to_internal_value(data)


class ConversationListOut(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = SimpleConversationOut(many=True)


class RenameIn(UserBody):
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    auto_generate = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("auto_generate") and not (attrs.get("name") or "").strip():
            raise serializers.ValidationError({"name": "name is required when auto_generate is false"})
        return attrs


class MessageListQuery(UserQuery):
    conversation_id = serializers.UUIDField()
    first_id = serializers.UUIDField(required=False, allow_null=True)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "dict"):
            data = data.dict()
        data = {k: v for k, v in dict(data).items() if not (k == "first_id" and v in ("", None))}
        return super().to_internal_value(data)


class MessageFileOut(serializers.Serializer):
    id = serializers.UUIDField()
    filename = serializers.CharField()
    type = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    mime_type = serializers.CharField(allow_null=True)
    size = serializers.IntegerField(allow_null=True)
    transfer_method = serializers.CharField()
    belongs_to = serializers.CharField()
    upload_file_id = serializers.UUIDField(allow_null=True)


def file_preview_url(upload_file_id: object) -> str:
    return f"{settings.FILES_URL.rstrip('/')}/v1/files/{upload_file_id}/preview"


def message_file_out(message_file: Any) -> dict[str, Any]:
    # A tool file's row keeps its path; the URL is signed at read time, as Dify does.
    upload = message_file.upload_file
    return {
        "id": str(message_file.id),
        "filename": upload.name if upload else message_file.url.rsplit("/", 1)[-1],
        "type": message_file.type,
        "url": file_preview_url(upload.id) if upload else sign_tool_file_path(message_file.url),
        "mime_type": upload.mime_type if upload else None,
        "size": upload.size if upload else None,
        "transfer_method": message_file.transfer_method,
        "belongs_to": message_file.belongs_to,
        "upload_file_id": str(upload.id) if upload else None,
    }


class AgentThoughtOut(serializers.Serializer):
    id = serializers.UUIDField()
    message_id = serializers.UUIDField()
    chain_id = serializers.CharField(allow_null=True)
    position = serializers.IntegerField()
    thought = serializers.CharField(allow_blank=True)
    tool = serializers.CharField(allow_blank=True)
    tool_labels = serializers.JSONField()
    tool_input = serializers.CharField(allow_blank=True)
    observation = serializers.CharField(allow_blank=True)
    files = serializers.ListField(child=serializers.CharField())
    created_at = serializers.IntegerField()


def agent_thought_out(thought: Any) -> dict[str, Any]:
    return {
        "id": str(thought.id),
        "message_id": str(thought.message_id),
        "chain_id": None,
        "position": thought.position,
        "thought": thought.thought,
        "tool": thought.tool,
        "tool_labels": thought.tool_labels,
        "tool_input": thought.tool_input,
        "observation": thought.observation,
        "files": thought.message_files,
        "created_at": timestamp(thought.created_at),
    }


class MessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    parent_message_id = serializers.UUIDField(allow_null=True)
    inputs = serializers.JSONField()
    query = serializers.CharField()
    answer = serializers.CharField()
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    message_files = MessageFileOut(many=True)
    feedback = serializers.JSONField(allow_null=True)
    retriever_resources = serializers.ListField(child=serializers.JSONField())
    agent_thoughts = AgentThoughtOut(many=True)
    extra_contents = serializers.ListField(child=serializers.JSONField())
    created_at = serializers.IntegerField()
    message_tokens = serializers.IntegerField()
    answer_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    total_price = serializers.CharField()
    currency = serializers.CharField()
    provider_response_latency = serializers.FloatField()


def message_out(message: Message) -> dict[str, Any]:
    """One history item. Expects ``files``, ``agent_thoughts`` and ``feedbacks`` to be prefetched."""
    user_feedback = next((f for f in message.feedbacks.all() if f.from_source == "user"), None)
    return {
        "id": str(message.id),
        "conversation_id": str(message.conversation_id),
        "parent_message_id": str(message.parent_message_id) if message.parent_message_id else None,
        "inputs": message.inputs,
        "query": message.query,
        "answer": message.answer,
        "status": message.status,
        "error": message.error or None,
        "message_files": [message_file_out(f) for f in message.files.all()],
        "feedback": {"rating": user_feedback.rating} if user_feedback else None,
        "retriever_resources": (message.message_metadata or {}).get("retriever_resources", []),
        "agent_thoughts": [agent_thought_out(t) for t in message.agent_thoughts.all()],
        "extra_contents": [],
        "created_at": timestamp(message.created_at),
        "message_tokens": message.message_tokens,
        "answer_tokens": message.answer_tokens,
        "total_tokens": message.message_tokens + message.answer_tokens,
        "total_price": str(message.total_price),
        "currency": message.currency,
        "provider_response_latency": message.provider_response_latency,
    }


class MessageListOut(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = MessageOut(many=True)


class FeedbackIn(UserBody):
    rating = serializers.ChoiceField(choices=["like", "dislike"], allow_null=True, required=False)
    content = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10_000)


class FeedbackOut(serializers.Serializer):
    id = serializers.UUIDField()
    app_id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    message_id = serializers.UUIDField()
    rating = serializers.CharField()
    content = serializers.CharField(allow_blank=True)
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class FeedbackListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=101)


class ConversationVariableOut(serializers.Serializer):
    id = serializers.CharField(source="variable_id")
    name = serializers.CharField()
    value_type = serializers.CharField()
    value = serializers.JSONField()
    description = serializers.CharField(allow_blank=True)
    created_at = TimestampField()
    updated_at = TimestampField()


class VariableListQuery(UserQuery):
    last_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    variable_name = serializers.RegexField(r"^[A-Za-z0-9_.\-]+$", required=False, max_length=255)


class VariableListOut(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = ConversationVariableOut(many=True)


class VariableUpdateIn(UserBody):
    value = serializers.JSONField()


class FileUploadOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    extension = serializers.CharField()
    mime_type = serializers.CharField()
    created_by = serializers.UUIDField()
    created_at = TimestampField()
    preview_url = serializers.CharField(allow_null=True)
    source_url = serializers.CharField(allow_blank=True)


class EndUserOut(serializers.Serializer):
    id = serializers.UUIDField()
    tenant_id = serializers.UUIDField()
    app_id = serializers.UUIDField()
    type = serializers.CharField()
    external_user_id = serializers.CharField()
    name = serializers.CharField()
    is_anonymous = serializers.BooleanField()
    session_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AppInfoOut(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    mode = serializers.CharField()
    author_name = serializers.CharField(allow_null=True)


class SiteOut(serializers.Serializer):
    title = serializers.CharField()
    chat_color_theme = serializers.CharField(allow_blank=True)
    chat_color_theme_inverted = serializers.BooleanField()
    icon_type = serializers.CharField(allow_blank=True)
    icon = serializers.CharField(allow_blank=True)
    icon_background = serializers.CharField(allow_blank=True)
    icon_url = serializers.SerializerMethodField()
    description = serializers.CharField(allow_blank=True)
    copyright = serializers.CharField(allow_blank=True)
    privacy_policy = serializers.CharField(allow_blank=True)
    custom_disclaimer = serializers.CharField(allow_blank=True)
    default_language = serializers.CharField()
    show_workflow_steps = serializers.BooleanField()
    use_icon_as_answer_icon = serializers.BooleanField()

    def get_icon_url(self, site: Any) -> str | None:
        return site.icon if site.icon_type == "image" and site.icon else None


def conversation_out(conversation: Conversation) -> dict[str, Any]:
    return SimpleConversationOut(conversation).data


class _RunIn(serializers.Serializer):
    inputs = serializers.DictField(required=False, default=dict)
    response_mode = serializers.ChoiceField(
        choices=["blocking", "streaming"], required=False, default="blocking", allow_null=True
    )
    user = serializers.CharField(max_length=255, allow_blank=True, required=False, allow_null=True)
    files = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)
    trace_id = serializers.RegexField(r"^[A-Za-z0-9_-]{1,128}$", required=False, allow_null=True)

    def validate_response_mode(self, value: str | None) -> str:
        return value or "blocking"


class WorkflowRunIn(_RunIn):
    inputs = serializers.DictField()
    # Pins a published version, as the path form ``/workflows/{workflow_id}/run`` does (issue 16).
    workflow_id = serializers.UUIDField(required=False, allow_null=True)


class ChatMessageIn(_RunIn):
    query = serializers.CharField(max_length=settings.SERVICE_API_QUERY_MAX_LENGTH, trim_whitespace=False)
    inputs = serializers.DictField()
    conversation_id = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)
    auto_generate_name = serializers.BooleanField(required=False, default=True)
    workflow_id = serializers.UUIDField(required=False, allow_null=True)

    def validate_conversation_id(self, value: str | None) -> str | None:
        if not value:
            return None
        import uuid

        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise serializers.ValidationError("conversation_id must be a valid UUID") from None


class CompletionIn(_RunIn):
    inputs = serializers.DictField()
    query = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        max_length=settings.SERVICE_API_QUERY_MAX_LENGTH,
    )


class WorkflowRunDataOut(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_id = serializers.UUIDField()
    status = serializers.CharField()
    outputs = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_at = serializers.IntegerField()
    finished_at = serializers.IntegerField(allow_null=True)


class WorkflowRunBlockingOut(serializers.Serializer):
    task_id = serializers.CharField()
    workflow_run_id = serializers.UUIDField()
    data = WorkflowRunDataOut()


class ChatBlockingOut(serializers.Serializer):
    event = serializers.CharField()
    task_id = serializers.CharField()
    id = serializers.UUIDField()
    message_id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    mode = serializers.CharField()
    answer = serializers.CharField()
    metadata = serializers.JSONField()
    created_at = serializers.IntegerField()


class WorkflowLogsQuery(serializers.Serializer):
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)
    status = serializers.ChoiceField(
        choices=["succeeded", "failed", "stopped", "partial-succeeded"], required=False
    )
    created_at__before = serializers.DateTimeField(required=False)
    created_at__after = serializers.DateTimeField(required=False)
    created_by_end_user_session_id = serializers.CharField(required=False, max_length=255)
    created_by_account = serializers.CharField(required=False, max_length=255)
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


class WorkflowLogRunOut(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_at = serializers.IntegerField()
    finished_at = serializers.IntegerField(allow_null=True)
    exceptions_count = serializers.IntegerField()
    triggered_from = serializers.CharField()


class WorkflowLogOut(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_run = WorkflowLogRunOut()
    created_from = serializers.CharField()
    created_by_role = serializers.CharField()
    created_by_account = serializers.JSONField(allow_null=True)
    created_by_end_user = serializers.JSONField(allow_null=True)
    created_at = serializers.IntegerField()


class WorkflowLogsPageOut(serializers.Serializer):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = WorkflowLogOut(many=True)
