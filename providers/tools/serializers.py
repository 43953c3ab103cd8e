"""Request validation and (documented) response shapes for the tool-provider endpoints, in Dify's names."""

from __future__ import annotations

from rest_framework import serializers

PROVIDER_TYPES = ("builtin", "model", "api", "workflow", "mcp")


class JsonDictField(serializers.DictField):
    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("child", serializers.JSONField())
        super().__init__(**kwargs)


# --- input -----------------------------------------------------------------------------------------------


class ProviderListQuery(serializers.Serializer):
    type = serializers.ChoiceField(choices=PROVIDER_TYPES, required=False, allow_null=True, allow_blank=True)


class ProviderNameQuery(serializers.Serializer):
    provider = serializers.CharField(max_length=255)


class RemoteSchemaQuery(serializers.Serializer):
    url = serializers.URLField(max_length=2048)


class ApiProviderIn(serializers.Serializer):
    provider = serializers.CharField(max_length=255)
    icon = JsonDictField()
    credentials = JsonDictField()
    schema_type = serializers.CharField(max_length=40)
    schema = serializers.CharField(trim_whitespace=False)
    privacy_policy = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    custom_disclaimer = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    labels = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_null=True
    )


class ApiProviderUpdateIn(ApiProviderIn):
    original_provider = serializers.CharField(max_length=255)


class ApiProviderDeleteIn(serializers.Serializer):
    provider = serializers.CharField(max_length=255)


class SchemaIn(serializers.Serializer):
    schema = serializers.CharField(trim_whitespace=False)


class TestPreviewIn(serializers.Serializer):
    tool_name = serializers.CharField(max_length=255)
    provider_name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    credentials = JsonDictField()
    parameters = JsonDictField()
    schema_type = serializers.CharField(max_length=40)
    schema = serializers.CharField(trim_whitespace=False)


# --- output (documentation; the selectors build the dicts) ----------------------------------------------


class I18nOut(serializers.Serializer):
    en_US = serializers.CharField()  # noqa: N815 - Dify's field names
    zh_Hans = serializers.CharField()  # noqa: N815 - Dify's field names
    pt_BR = serializers.CharField()  # noqa: N815 - Dify's field names
    ja_JP = serializers.CharField()  # noqa: N815 - Dify's field names


class ToolParameterOut(serializers.Serializer):
    name = serializers.CharField()
    label = I18nOut()
    type = serializers.CharField(help_text="string, number, boolean, select, secret-input, files, ...")
    form = serializers.CharField(help_text="llm (filled by the model or the node) or form (configured)")
    required = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True)
    options = serializers.ListField(child=serializers.DictField())
    human_description = I18nOut(allow_null=True)
    llm_description = serializers.CharField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    placeholder = I18nOut(allow_null=True)


class ToolOut(serializers.Serializer):
    author = serializers.CharField()
    name = serializers.CharField()
    label = I18nOut()
    description = I18nOut()
    parameters = ToolParameterOut(many=True)
    labels = serializers.ListField(child=serializers.CharField())
    output_schema = serializers.DictField()


class ToolProviderOut(serializers.Serializer):
    id = serializers.CharField()
    author = serializers.CharField()
    name = serializers.CharField()
    plugin_id = serializers.CharField(allow_blank=True)
    plugin_unique_identifier = serializers.CharField(allow_blank=True)
    description = I18nOut()
    icon = serializers.JSONField(help_text="a URL (builtin) or {background, content} (api)")
    icon_dark = serializers.JSONField()
    label = I18nOut()
    type = serializers.CharField()
    team_credentials = serializers.DictField()
    is_team_authorization = serializers.BooleanField()
    allow_delete = serializers.BooleanField()
    tools = ToolOut(many=True)
    labels = serializers.ListField(child=serializers.CharField())


class ApiToolBundleOut(serializers.Serializer):
    server_url = serializers.CharField()
    method = serializers.CharField()
    summary = serializers.CharField(allow_null=True)
    operation_id = serializers.CharField()
    parameters = ToolParameterOut(many=True)
    author = serializers.CharField()
    icon = serializers.CharField(allow_null=True)
    openapi = serializers.DictField()


class ApiProviderOut(serializers.Serializer):
    schema_type = serializers.CharField()
    schema = serializers.CharField()
    tools = ApiToolBundleOut(many=True)
    icon = serializers.DictField()
    description = serializers.CharField()
    credentials = serializers.DictField(help_text="api_key_value masked")
    privacy_policy = serializers.CharField()
    custom_disclaimer = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())


class SchemaOut(serializers.Serializer):
    schema_type = serializers.CharField()
    parameters_schema = ApiToolBundleOut(many=True)
    credentials_schema = serializers.ListField(child=serializers.DictField())
    warning = serializers.DictField()


class TestPreviewOut(serializers.Serializer):
    result = serializers.CharField(required=False)
    error = serializers.CharField(required=False)


class RemoteSchemaOut(serializers.Serializer):
    schema = serializers.CharField()


class CredentialInfoOut(serializers.Serializer):
    supported_credential_types = serializers.ListField(child=serializers.CharField())
    is_oauth_custom_client_enabled = serializers.BooleanField()
    credentials = serializers.ListField(child=serializers.DictField())


# --- MCP providers ---------------------------------------------------------------------------------------


class McpProviderIn(serializers.Serializer):
    server_url = serializers.CharField(max_length=2048)
    name = serializers.CharField(max_length=40)
    icon = serializers.CharField(allow_blank=True, max_length=2048)
    icon_type = serializers.CharField(max_length=20)
    icon_background = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=40)
    server_identifier = serializers.CharField(max_length=64)
    timeout = serializers.FloatField(required=False, allow_null=True)
    sse_read_timeout = serializers.FloatField(required=False, allow_null=True)
    headers = serializers.DictField(child=serializers.JSONField(), required=False, allow_null=True)


class McpProviderUpdateIn(McpProviderIn):
    provider_id = serializers.CharField(max_length=64)


class McpProviderIdIn(serializers.Serializer):
    provider_id = serializers.CharField(max_length=64)


class McpAuthIn(McpProviderIdIn):
    authorization_code = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class McpProviderOut(ToolProviderOut):
    server_url = serializers.CharField(help_text="scheme and host; the path masked")
    updated_at = serializers.IntegerField()
    server_identifier = serializers.CharField()
    timeout = serializers.FloatField()
    sse_read_timeout = serializers.FloatField()
    masked_headers = serializers.DictField()
    original_headers = serializers.DictField(help_text="masked as well: secrets are never returned")
