"""Console workflows: drafts, variables, publishing, versions and their comparison, DSL import and export."""

from __future__ import annotations

from rest_framework import serializers

from apps.console.serializers.shared import (
    ICON_TYPES,
    NAME_MAX,
    ConsoleSimpleAccountOut,
    TimestampOut,
    _json,
)
from workflows.services.versions import MARKED_COMMENT_MAX, MARKED_NAME_MAX

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
