"""Shared fields and outputs of the console serializers (accounts, tags, model configs, app details, pages)."""

from __future__ import annotations

from rest_framework import serializers

ICON_TYPES = ("emoji", "image", "link")
NAME_MAX = 255


def _json(**kwargs: object) -> serializers.JSONField:
    return serializers.JSONField(**kwargs)


class TimestampOut(serializers.IntegerField):
    """Unix seconds."""


class UuidListField(serializers.CharField):
    """Comma-separated UUIDs in a query string (Dify's ``tag_ids``)."""

    def to_internal_value(self, data: object) -> list:
        import uuid

        text = super().to_internal_value(data)
        try:
            return [uuid.UUID(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise serializers.ValidationError("Invalid UUID format in tag_ids.") from None


# --- shared outputs -----------------------------------------------------------------------------------------


class ConsoleSimpleAccountOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    email = serializers.EmailField()


class ConsoleSimpleEndUserOut(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    is_anonymous = serializers.BooleanField()
    session_id = serializers.CharField()


class ConsoleTagOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    type = serializers.CharField()
    binding_count = serializers.CharField(required=False)


class ConsoleModelConfigOut(serializers.Serializer):
    opening_statement = serializers.CharField(allow_blank=True)
    suggested_questions = serializers.ListField(child=serializers.CharField())
    suggested_questions_after_answer = _json()
    speech_to_text = _json()
    text_to_speech = _json()
    retriever_resource = _json()
    annotation_reply = _json()
    more_like_this = _json()
    sensitive_word_avoidance = _json()
    external_data_tools = _json()
    model = _json()
    user_input_form = _json()
    dataset_query_variable = serializers.CharField(allow_blank=True, allow_null=True)
    pre_prompt = serializers.CharField(allow_blank=True)
    agent_mode = _json()
    prompt_type = serializers.CharField()
    chat_prompt_config = _json()
    completion_prompt_config = _json()
    dataset_configs = _json()
    file_upload = _json()
    created_by = serializers.UUIDField(allow_null=True)
    created_at = TimestampOut()
    updated_by = serializers.UUIDField(allow_null=True)
    updated_at = TimestampOut()


class ConsoleModelConfigPartialOut(serializers.Serializer):
    model = _json()
    pre_prompt = serializers.CharField(allow_blank=True)
    created_by = serializers.UUIDField(allow_null=True)
    created_at = TimestampOut()
    updated_by = serializers.UUIDField(allow_null=True)
    updated_at = TimestampOut()


class ConsoleWorkflowPartialOut(serializers.Serializer):
    id = serializers.UUIDField()
    created_by = serializers.UUIDField(allow_null=True)
    created_at = TimestampOut()
    updated_by = serializers.UUIDField(allow_null=True)
    updated_at = TimestampOut()


class ConsoleAppSiteSettingsOut(serializers.Serializer):
    access_token = serializers.CharField()
    code = serializers.CharField()
    title = serializers.CharField()
    icon_type = serializers.CharField(allow_null=True)
    icon = serializers.CharField(allow_blank=True)
    icon_background = serializers.CharField(allow_blank=True)
    icon_url = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    default_language = serializers.CharField()
    chat_color_theme = serializers.CharField(allow_null=True)
    chat_color_theme_inverted = serializers.BooleanField()
    customize_domain = serializers.CharField(allow_null=True)
    copyright = serializers.CharField(allow_null=True)
    privacy_policy = serializers.CharField(allow_null=True)
    custom_disclaimer = serializers.CharField(allow_blank=True)
    customize_token_strategy = serializers.CharField()
    prompt_public = serializers.BooleanField()
    app_base_url = serializers.CharField()
    show_workflow_steps = serializers.BooleanField()
    use_icon_as_answer_icon = serializers.BooleanField()
    created_by = serializers.UUIDField(allow_null=True)
    created_at = TimestampOut()
    updated_by = serializers.UUIDField(allow_null=True)
    updated_at = TimestampOut()


class ConsoleAppSiteOut(ConsoleAppSiteSettingsOut):
    app_id = serializers.UUIDField()


class ConsoleAppDetailOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    mode = serializers.CharField()
    icon_type = serializers.CharField()
    icon = serializers.CharField(allow_blank=True)
    icon_background = serializers.CharField(allow_blank=True)
    icon_url = serializers.CharField(allow_null=True)
    enable_site = serializers.BooleanField()
    enable_api = serializers.BooleanField()
    model_config = ConsoleModelConfigOut(allow_null=True)
    workflow = ConsoleWorkflowPartialOut(allow_null=True)
    site = ConsoleAppSiteSettingsOut(allow_null=True)
    api_base_url = serializers.CharField()
    use_icon_as_answer_icon = serializers.BooleanField()
    max_active_requests = serializers.IntegerField(allow_null=True)
    tracing = _json(allow_null=True)
    created_by = serializers.UUIDField(allow_null=True)
    created_at = TimestampOut()
    updated_by = serializers.UUIDField(allow_null=True)
    updated_at = TimestampOut()
    deleted_tools = _json()
    access_mode = serializers.CharField(allow_null=True)
    tags = ConsoleTagOut(many=True)


class ConsoleAppPartialOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    max_active_requests = serializers.IntegerField(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    mode = serializers.CharField()
    icon_type = serializers.CharField()
    icon = serializers.CharField(allow_blank=True)
    icon_background = serializers.CharField(allow_blank=True)
    icon_url = serializers.CharField(allow_null=True)
    model_config = ConsoleModelConfigPartialOut(allow_null=True)
    workflow = ConsoleWorkflowPartialOut(allow_null=True)
    use_icon_as_answer_icon = serializers.BooleanField()
    created_by = serializers.UUIDField(allow_null=True)
    created_at = TimestampOut()
    updated_by = serializers.UUIDField(allow_null=True)
    updated_at = TimestampOut()
    tags = ConsoleTagOut(many=True)
    access_mode = serializers.CharField(allow_null=True)
    create_user_name = serializers.CharField(allow_null=True)
    author_name = serializers.CharField(allow_null=True)


class ConsolePageOut(serializers.Serializer):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


class ConsoleAppPageOut(ConsolePageOut):
    data = ConsoleAppPartialOut(many=True)


class ConsoleTemplateOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    mode = serializers.CharField()
    icon_type = serializers.CharField()
    icon = serializers.CharField()
    icon_background = serializers.CharField()
    description = serializers.CharField()


class ConsoleTemplateListOut(serializers.Serializer):
    data = ConsoleTemplateOut(many=True)
