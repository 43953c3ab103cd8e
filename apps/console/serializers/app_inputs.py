"""Console inputs for apps (list, create, update, copy, site, API keys) and model configs."""

from __future__ import annotations

from rest_framework import serializers

from apps.console.serializers.shared import (
    ICON_TYPES,
    NAME_MAX,
    TimestampOut,
    UuidListField,
    _json,
)
from apps.models import AppMode

# --- apps: inputs ---------------------------------------------------------------------------------------------


class ConsoleAppListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    mode = serializers.CharField(
        required=False,
        default="all",
        max_length=32,
        help_text="all, or an app mode: " + ", ".join(AppMode.values),
    )

    def validate_mode(self, value: str) -> str:
        if value not in ("all", "channel", *AppMode.values):
            raise serializers.ValidationError(f"'{value}' is not a valid app mode.")
        return value

    name = serializers.CharField(required=False, allow_blank=True, max_length=NAME_MAX)
    tag_ids = UuidListField(required=False, allow_blank=True)
    is_created_by_me = serializers.BooleanField(required=False, default=False)


class _ConsoleIconFields(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4000)
    icon_type = serializers.ChoiceField(choices=ICON_TYPES, required=False, allow_null=True)
    icon = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    icon_background = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)


class ConsoleAppCreateIn(_ConsoleIconFields):
    name = serializers.CharField(max_length=NAME_MAX)
    mode = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=32,
        help_text="chat, completion, agent-chat, advanced-chat or workflow",
    )
    template = serializers.CharField(
        required=False,
        allow_blank=False,
        max_length=100,
        help_text="Id of a shipped template (GET /app-templates); sets the mode.",
    )

    def validate_mode(self, value: str | None) -> str | None:
        if value is not None and value not in AppMode.values:
            raise serializers.ValidationError(
                f"'{value}' is not a valid app mode; expected one of {', '.join(AppMode.values)}."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("mode") and not attrs.get("template"):
            raise serializers.ValidationError({"mode": "mode is required"})
        return attrs


class ConsoleAppUpdateIn(_ConsoleIconFields):
    name = serializers.CharField(max_length=NAME_MAX)
    max_active_requests = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    use_icon_as_answer_icon = serializers.BooleanField(required=False, allow_null=True)


class ConsoleAppCopyIn(_ConsoleIconFields):
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=NAME_MAX)


class ConsoleAppNameIn(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX)


class ConsoleAppIconIn(serializers.Serializer):
    icon = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    icon_background = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)


class ConsoleSiteEnableIn(serializers.Serializer):
    enable_site = serializers.BooleanField()


class ConsoleApiEnableIn(serializers.Serializer):
    enable_api = serializers.BooleanField()


class ConsoleExportQuery(serializers.Serializer):
    include_secret = serializers.BooleanField(required=False, default=False)
    workflow_id = serializers.CharField(required=False, allow_blank=True, max_length=64)


class ConsoleExportOut(serializers.Serializer):
    data = serializers.CharField(help_text="The DSL as YAML text.")


class ConsoleSiteIn(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=255)
    icon_type = serializers.ChoiceField(choices=ICON_TYPES, required=False, allow_null=True)
    icon = serializers.CharField(required=False, allow_blank=True, max_length=255)
    icon_background = serializers.CharField(required=False, allow_blank=True, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    default_language = serializers.CharField(required=False, max_length=32)
    chat_color_theme = serializers.CharField(required=False, allow_blank=True, max_length=255)
    chat_color_theme_inverted = serializers.BooleanField(required=False)
    customize_domain = serializers.CharField(required=False, allow_blank=True, max_length=255)
    copyright = serializers.CharField(required=False, allow_blank=True, max_length=255)
    privacy_policy = serializers.CharField(required=False, allow_blank=True, max_length=255)
    custom_disclaimer = serializers.CharField(required=False, allow_blank=True, max_length=512)
    customize_token_strategy = serializers.ChoiceField(
        choices=["must", "allow", "not_allow", "uuid"], required=False
    )
    prompt_public = serializers.BooleanField(required=False)
    show_workflow_steps = serializers.BooleanField(required=False)
    use_icon_as_answer_icon = serializers.BooleanField(required=False)


class ConsoleApiKeyOut(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    token = serializers.CharField(
        help_text="The whole key only in the creation response; a prefix afterwards."
    )
    last_used_at = TimestampOut(allow_null=True)
    created_at = TimestampOut()


class ConsoleApiKeyListOut(serializers.Serializer):
    data = ConsoleApiKeyOut(many=True)


# --- model config -----------------------------------------------------------------------------------------


class ConsoleModelConfigIn(serializers.Serializer):
    """Dify's model config keys; each is validated by the model-config service (shapes and types, model
    parameters against the provider catalogue's rules)."""

    model = _json()
    pre_prompt = serializers.CharField(required=False, allow_blank=True)
    prompt_type = serializers.CharField(required=False)
    user_input_form = _json(required=False)
    opening_statement = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    suggested_questions = _json(required=False)
    suggested_questions_after_answer = _json(required=False)
    speech_to_text = _json(required=False)
    text_to_speech = _json(required=False)
    retriever_resource = _json(required=False)
    more_like_this = _json(required=False)
    sensitive_word_avoidance = _json(required=False)
    external_data_tools = _json(required=False)
    dataset_query_variable = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    agent_mode = _json(required=False)
    chat_prompt_config = _json(required=False)
    completion_prompt_config = _json(required=False)
    dataset_configs = _json(required=False)
    file_upload = _json(required=False)
