"""Input validation and documented output shapes of the console app-building endpoints (Dify's names).

Inputs are validated by these serializers (``ApiView.validate``); outputs are built by ``presenters`` and
described here for the OpenAPI schema.
"""

from __future__ import annotations

from rest_framework import serializers

from apps.models import AppMode
from dify_project.api.fields import ResultOut
from workflows.services.versions import MARKED_COMMENT_MAX, MARKED_NAME_MAX

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


# --- workflows ------------------------------------------------------------------------------------------


class ConsoleVariableOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    value = _json(allow_null=True)
    value_type = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    selector = serializers.ListField(child=serializers.CharField(), required=False)


class ConsoleWorkflowOut(serializers.Serializer):
    id = serializers.UUIDField()
    graph = _json()
    features = _json()
    hash = serializers.CharField()
    version = serializers.CharField()
    number = serializers.IntegerField(allow_null=True)
    marked_name = serializers.CharField(allow_blank=True)
    marked_comment = serializers.CharField(allow_blank=True)
    created_by = ConsoleSimpleAccountOut(allow_null=True)
    created_at = TimestampOut()
    updated_by = ConsoleSimpleAccountOut(allow_null=True)
    updated_at = TimestampOut()
    tool_published = serializers.BooleanField()
    environment_variables = ConsoleVariableOut(many=True)
    conversation_variables = ConsoleVariableOut(many=True)
    rag_pipeline_variables = _json()


class ConsoleDraftSyncIn(serializers.Serializer):
    graph = serializers.DictField()
    features = serializers.DictField()
    hash = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=128)
    environment_variables = serializers.ListField(child=_json(), required=False, allow_null=True)
    conversation_variables = serializers.ListField(child=_json(), required=False, allow_null=True)


class ConsoleDraftSyncOut(serializers.Serializer):
    result = serializers.CharField()
    hash = serializers.CharField()
    updated_at = TimestampOut()


class ConsoleEnvironmentVariablesIn(serializers.Serializer):
    environment_variables = serializers.ListField(child=_json())


class ConsoleConversationVariablesIn(serializers.Serializer):
    conversation_variables = serializers.ListField(child=_json())


class ConsoleFeaturesIn(serializers.Serializer):
    features = serializers.DictField()


class ConsoleVariableItemsOut(serializers.Serializer):
    items = ConsoleVariableOut(many=True)


class ConsolePublishIn(serializers.Serializer):
    marked_name = serializers.CharField(
        required=False, allow_blank=True, max_length=MARKED_NAME_MAX, default=""
    )
    marked_comment = serializers.CharField(
        required=False, allow_blank=True, max_length=MARKED_COMMENT_MAX, default=""
    )


class ConsolePublishOut(serializers.Serializer):
    result = serializers.CharField()
    created_at = TimestampOut()
    id = serializers.UUIDField()
    version = serializers.CharField()
    number = serializers.IntegerField()


class ConsoleVersionUpdateIn(serializers.Serializer):
    marked_name = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=MARKED_NAME_MAX
    )
    marked_comment = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=MARKED_COMMENT_MAX
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("marked_name") is None and attrs.get("marked_comment") is None:
            raise serializers.ValidationError(
                "No valid fields to update: give marked_name or marked_comment."
            )
        return attrs


class ConsoleVersionListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=100)
    user_id = serializers.UUIDField(required=False)
    named_only = serializers.BooleanField(required=False, default=False)


class ConsoleVersionPageOut(serializers.Serializer):
    items = ConsoleWorkflowOut(many=True)
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()


class ConsoleCompareQuery(serializers.Serializer):
    base = serializers.CharField(max_length=64, help_text="A version id, or 'draft'.")
    target = serializers.CharField(
        max_length=64, required=False, default="draft", help_text="A version id, or 'draft' (the default)."
    )
    include_layout = serializers.BooleanField(required=False, default=False)


class _ConsoleChangeOut(serializers.Serializer):
    path = serializers.CharField()
    before = _json(allow_null=True)
    after = _json(allow_null=True)
    kind = serializers.ChoiceField(choices=["added", "removed", "changed"])


class _ConsoleNodeRefOut(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField(allow_null=True)
    title = serializers.CharField(allow_blank=True)


class _ConsoleNodeChangeOut(_ConsoleNodeRefOut):
    changes = _ConsoleChangeOut(many=True)


class _ConsoleNodeDiffOut(serializers.Serializer):
    added = _ConsoleNodeRefOut(many=True)
    removed = _ConsoleNodeRefOut(many=True)
    changed = _ConsoleNodeChangeOut(many=True)


class _ConsoleEdgeRefOut(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    source_handle = serializers.CharField()
    target = serializers.CharField()
    target_handle = serializers.CharField()


class _ConsoleEdgeChangeOut(_ConsoleEdgeRefOut):
    changes = _ConsoleChangeOut(many=True)


class _ConsoleEdgeDiffOut(serializers.Serializer):
    added = _ConsoleEdgeRefOut(many=True)
    removed = _ConsoleEdgeRefOut(many=True)
    changed = _ConsoleEdgeChangeOut(many=True)


class _ConsoleVariableChangeOut(serializers.Serializer):
    name = serializers.CharField()
    changes = _ConsoleChangeOut(many=True)


class _ConsoleVariableDiffOut(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    changed = _ConsoleVariableChangeOut(many=True)


class _ConsoleFeaturesDiffOut(serializers.Serializer):
    changed = _ConsoleChangeOut(many=True)


class _ConsoleVersionRefOut(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    number = serializers.IntegerField(allow_null=True)
    marked_name = serializers.CharField(allow_blank=True)
    hash = serializers.CharField()


class ConsoleCompareOut(serializers.Serializer):
    base = _ConsoleVersionRefOut()
    target = _ConsoleVersionRefOut()
    identical = serializers.BooleanField()
    nodes = _ConsoleNodeDiffOut()
    edges = _ConsoleEdgeDiffOut()
    features = _ConsoleFeaturesDiffOut()
    environment_variables = _ConsoleVariableDiffOut()
    conversation_variables = _ConsoleVariableDiffOut()


# --- DSL ------------------------------------------------------------------------------------------------------


class ConsoleImportIn(serializers.Serializer):
    mode = serializers.CharField(max_length=32, help_text="yaml-content or yaml-url")
    yaml_content = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, trim_whitespace=False
    )
    yaml_url = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=2048)
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=NAME_MAX)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4000)
    icon_type = serializers.ChoiceField(choices=ICON_TYPES, required=False, allow_null=True)
    icon = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    icon_background = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    app_id = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)
    # Beyond Dify (which ignores them): publish the imported draft as the app's next version.
    publish = serializers.BooleanField(required=False, default=False)
    marked_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)
    marked_comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)


class ConsoleImportOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["completed", "completed-with-warnings", "pending", "failed"])
    app_id = serializers.UUIDField(allow_null=True)
    app_mode = serializers.CharField(allow_null=True)
    current_dsl_version = serializers.CharField()
    imported_dsl_version = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    warnings = serializers.ListField(child=serializers.CharField())
    dependencies = _json()
    code = serializers.CharField(required=False, help_text="Only when failed: the error code.")
    message = serializers.CharField(
        required=False, help_text="Only when failed: the error, as in Dify's error body."
    )
    workflow_id = serializers.UUIDField(required=False, help_text="Only with publish: the version published.")


class ConsoleLeakedDependenciesOut(serializers.Serializer):
    leaked_dependencies = _json()


# --- logs ---------------------------------------------------------------------------------------------------


class ConsoleRunListQuery(serializers.Serializer):
    last_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    status = serializers.ChoiceField(
        choices=["running", "succeeded", "failed", "stopped", "partial-succeeded", "paused"], required=False
    )
    triggered_from = serializers.ChoiceField(choices=["debugging", "app-run"], required=False)


class ConsoleRunListItemOut(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    status = serializers.CharField()
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_by_account = ConsoleSimpleAccountOut(allow_null=True)
    created_at = TimestampOut()
    finished_at = TimestampOut(allow_null=True)
    exceptions_count = serializers.IntegerField()
    triggered_from = serializers.CharField()
    conversation_id = serializers.UUIDField(required=False, allow_null=True)
    message_id = serializers.UUIDField(required=False, allow_null=True)


class ConsoleRunPageOut(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = ConsoleRunListItemOut(many=True)


class ConsoleRunDetailOut(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    graph = _json()
    inputs = _json()
    status = serializers.CharField()
    outputs = _json(allow_null=True)
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_by_role = serializers.CharField()
    created_by_account = ConsoleSimpleAccountOut(allow_null=True)
    created_by_end_user = ConsoleSimpleEndUserOut(allow_null=True)
    created_at = TimestampOut()
    finished_at = TimestampOut(allow_null=True)
    exceptions_count = serializers.IntegerField()
    triggered_from = serializers.CharField()
    workflow_id = serializers.UUIDField()


class ConsoleNodeExecutionOut(serializers.Serializer):
    id = serializers.UUIDField()
    index = serializers.IntegerField()
    predecessor_node_id = serializers.CharField(allow_null=True)
    node_id = serializers.CharField()
    node_type = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    inputs = _json(allow_null=True)
    process_data = _json(allow_null=True)
    outputs = _json(allow_null=True)
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    execution_metadata = _json(allow_null=True)
    extras = _json()
    created_at = TimestampOut()
    created_by_role = serializers.CharField()
    created_by_account = ConsoleSimpleAccountOut(allow_null=True)
    created_by_end_user = ConsoleSimpleEndUserOut(allow_null=True)
    finished_at = TimestampOut(allow_null=True)
    inputs_truncated = serializers.BooleanField()
    outputs_truncated = serializers.BooleanField()
    process_data_truncated = serializers.BooleanField()


class ConsoleNodeExecutionListOut(serializers.Serializer):
    data = ConsoleNodeExecutionOut(many=True)


class ConsoleRunDetailWithNodesOut(ConsoleRunDetailOut):
    node_executions = ConsoleNodeExecutionOut(many=True)


class ConsoleAppLogQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)
    status = serializers.ChoiceField(
        choices=["running", "succeeded", "failed", "stopped", "partial-succeeded", "paused"], required=False
    )
    created_at__before = serializers.DateTimeField(required=False)
    created_at__after = serializers.DateTimeField(required=False)
    created_by_end_user_session_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    created_by_account = serializers.EmailField(required=False, allow_blank=True)


class _ConsoleRunForLogOut(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.CharField()
    status = serializers.CharField()
    triggered_from = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    elapsed_time = serializers.FloatField()
    total_tokens = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    created_at = TimestampOut()
    finished_at = TimestampOut(allow_null=True)
    exceptions_count = serializers.IntegerField()


class ConsoleAppLogOut(serializers.Serializer):
    id = serializers.UUIDField()
    workflow_run = _ConsoleRunForLogOut(allow_null=True)
    details = _json(allow_null=True)
    created_from = serializers.CharField()
    created_by_role = serializers.CharField()
    created_by_account = ConsoleSimpleAccountOut(allow_null=True)
    created_by_end_user = ConsoleSimpleEndUserOut(allow_null=True)
    created_at = TimestampOut()


class ConsoleAppLogPageOut(ConsolePageOut):
    data = ConsoleAppLogOut(many=True)


class ConsoleConversationListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)
    start = serializers.CharField(required=False, allow_blank=True, max_length=16)
    end = serializers.CharField(required=False, allow_blank=True, max_length=16)
    annotation_status = serializers.ChoiceField(
        choices=["annotated", "not_annotated", "all"], required=False, default="all"
    )
    message_count_gte = serializers.IntegerField(required=False, min_value=1)
    sort_by = serializers.ChoiceField(
        choices=["created_at", "-created_at", "updated_at", "-updated_at"],
        required=False,
        default="-updated_at",
    )


class ConsoleFeedbackStatsOut(serializers.Serializer):
    like = serializers.IntegerField()
    dislike = serializers.IntegerField()


class ConsoleChatConversationOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_end_user_session_id = serializers.CharField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    from_account_name = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_blank=True)
    summary = serializers.CharField(allow_blank=True)
    read_at = TimestampOut(allow_null=True)
    created_at = TimestampOut()
    updated_at = TimestampOut()
    annotated = serializers.BooleanField()
    model_config = _json()
    message_count = serializers.IntegerField()
    user_feedback_stats = ConsoleFeedbackStatsOut()
    admin_feedback_stats = ConsoleFeedbackStatsOut()
    status_count = _json(allow_null=True)


class ConsoleChatConversationPageOut(ConsolePageOut):
    data = ConsoleChatConversationOut(many=True)


class ConsoleCompletionConversationOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_end_user_session_id = serializers.CharField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    from_account_name = serializers.CharField(allow_null=True)
    read_at = TimestampOut(allow_null=True)
    created_at = TimestampOut()
    updated_at = TimestampOut()
    annotation = _json(allow_null=True)
    model_config = _json()
    user_feedback_stats = ConsoleFeedbackStatsOut()
    admin_feedback_stats = ConsoleFeedbackStatsOut()
    message = _json(allow_null=True)


class ConsoleCompletionConversationPageOut(ConsolePageOut):
    data = ConsoleCompletionConversationOut(many=True)


class ConsoleConversationDetailOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    created_at = TimestampOut()
    updated_at = TimestampOut(required=False)
    annotated = serializers.BooleanField(required=False)
    introduction = serializers.CharField(required=False, allow_blank=True)
    model_config = _json()
    message_count = serializers.IntegerField(required=False)
    user_feedback_stats = ConsoleFeedbackStatsOut(required=False)
    admin_feedback_stats = ConsoleFeedbackStatsOut(required=False)
    message = _json(required=False, allow_null=True)


class ConsoleMessageListQuery(serializers.Serializer):
    conversation_id = serializers.CharField(max_length=64)
    first_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


class ConsoleMessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    inputs = _json()
    query = serializers.CharField(allow_blank=True)
    message = _json(allow_null=True)
    message_tokens = serializers.IntegerField()
    answer = serializers.CharField(allow_blank=True)
    answer_tokens = serializers.IntegerField()
    provider_response_latency = serializers.FloatField()
    from_source = serializers.CharField()
    from_end_user_id = serializers.UUIDField(allow_null=True)
    from_account_id = serializers.UUIDField(allow_null=True)
    feedbacks = _json()
    workflow_run_id = serializers.UUIDField(allow_null=True)
    annotation = _json(allow_null=True)
    annotation_hit_history = _json(allow_null=True)
    created_at = TimestampOut()
    agent_thoughts = _json()
    message_files = _json()
    metadata = _json()
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    parent_message_id = serializers.UUIDField(allow_null=True)


class ConsoleMessagePageOut(serializers.Serializer):
    limit = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = ConsoleMessageOut(many=True)


class ConsoleFeedbackIn(serializers.Serializer):
    message_id = serializers.CharField(max_length=64)
    rating = serializers.ChoiceField(choices=["like", "dislike"], allow_null=True)
    content = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4000)


# --- statistics -----------------------------------------------------------------------------------------------


class ConsoleStatisticQuery(serializers.Serializer):
    start = serializers.CharField(
        required=False, allow_blank=True, max_length=16, help_text="YYYY-MM-DD HH:MM"
    )
    end = serializers.CharField(required=False, allow_blank=True, max_length=16, help_text="YYYY-MM-DD HH:MM")


class ConsoleStatisticOut(serializers.Serializer):
    data = serializers.ListField(
        child=serializers.DictField(), help_text="One object per day: {date, <metric>}."
    )


# --- annotations ----------------------------------------------------------------------------------------------


class ConsoleAnnotationIn(serializers.Serializer):
    question = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=65535)
    answer = serializers.CharField(max_length=65535, trim_whitespace=False)
    message_id = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)


class ConsoleAnnotationUpdateIn(serializers.Serializer):
    question = serializers.CharField(max_length=65535)
    answer = serializers.CharField(max_length=65535, trim_whitespace=False)


class ConsoleAnnotationOut(serializers.Serializer):
    id = serializers.UUIDField()
    question = serializers.CharField(allow_blank=True)
    answer = serializers.CharField()
    hit_count = serializers.IntegerField()
    created_at = TimestampOut()


class ConsoleAnnotationListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)


class ConsoleAnnotationPageOut(ConsolePageOut):
    data = ConsoleAnnotationOut(many=True)


class ConsoleAnnotationExportOut(serializers.Serializer):
    data = ConsoleAnnotationOut(many=True)


class ConsoleAnnotationHitOut(serializers.Serializer):
    id = serializers.UUIDField()
    source = serializers.CharField()
    score = serializers.FloatField()
    question = serializers.CharField(allow_blank=True)
    created_at = TimestampOut()
    match = serializers.CharField(allow_blank=True)
    response = serializers.CharField(allow_blank=True)


class ConsoleAnnotationHitPageOut(ConsolePageOut):
    data = ConsoleAnnotationHitOut(many=True)


class ConsoleAnnotationReplyIn(serializers.Serializer):
    score_threshold = serializers.FloatField(min_value=0, max_value=1)
    embedding_provider_name = serializers.CharField(max_length=255)
    embedding_model_name = serializers.CharField(max_length=255)


class ConsoleAnnotationSettingIn(serializers.Serializer):
    score_threshold = serializers.FloatField(min_value=0, max_value=1)


class ConsoleJobOut(serializers.Serializer):
    job_id = serializers.UUIDField()
    job_status = serializers.CharField()
    error_msg = serializers.CharField(required=False, allow_blank=True)
    record_count = serializers.IntegerField(required=False)


class ConsoleAnnotationSettingOut(serializers.Serializer):
    id = serializers.UUIDField(required=False)
    enabled = serializers.BooleanField()
    score_threshold = serializers.FloatField(required=False)
    embedding_model = _json(required=False)


class ConsoleAnnotationCountOut(serializers.Serializer):
    count = serializers.IntegerField()


class ConsoleAnnotationUploadIn(serializers.Serializer):
    file = serializers.FileField(help_text="CSV: a header row, then question,answer rows (UTF-8).")


# --- tags --------------------------------------------------------------------------------------------------------


class ConsoleTagListQuery(serializers.Serializer):
    type = serializers.ChoiceField(choices=["app", "knowledge", ""], required=False, default="")
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)


class ConsoleTagIn(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=50)
    type = serializers.ChoiceField(choices=["app", "knowledge"])


class ConsoleTagUpdateIn(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=50)


class ConsoleTagBindingIn(serializers.Serializer):
    tag_ids = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=100)
    target_id = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(choices=["app", "knowledge"])


class ConsoleTagUnbindingIn(serializers.Serializer):
    tag_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, min_length=1, max_length=100
    )
    tag_id = serializers.CharField(required=False, max_length=64)
    target_id = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(choices=["app", "knowledge"])

    def validate(self, attrs: dict) -> dict:
        ids = list(attrs.get("tag_ids") or [])
        if attrs.get("tag_id"):
            ids.append(attrs["tag_id"])
        if not ids:
            raise serializers.ValidationError({"tag_ids": "give tag_ids (or tag_id)"})
        attrs["tag_ids"] = ids
        return attrs


__all__ = ["ResultOut"]
