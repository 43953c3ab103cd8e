"""Custom API tool providers (Dify's `tool_api_providers`): an OpenAPI / Swagger document a workspace
added, its parsed tool bundles, and its credentials.

The credentials (`{auth_type, api_key_header, api_key_header_prefix, api_key_query_param,
api_key_value}`) are one JSON object in an `EncryptedTextField`: the column holds ciphertext only and
responses mask `api_key_value`. Labels live on the row (Dify keeps them in `tool_label_bindings`).

The model belongs to the `providers` app (its table is `providers_apitoolprovider`); Django registers it
when this module is imported, which `providers.models` should do (see the package README in
`providers/tools/__init__.py`).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models

from accounts.models import TenantScopedModel
from dify_project.crypto import EncryptedTextField


class ApiToolProvider(TenantScopedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=255)
    icon = models.JSONField(default=dict, blank=True)  # {"background": "#...", "content": "emoji"}
    schema = models.TextField()  # the document as the user pasted it
    schema_type_str = models.CharField(max_length=40, default="openapi")
    description = models.TextField(blank=True, default="")
    tools = models.JSONField(default=list, blank=True)  # ApiToolBundle.to_dict() per operation
    encrypted_credentials = EncryptedTextField(blank=True, default="")
    privacy_policy = models.CharField(max_length=255, blank=True, default="")
    custom_disclaimer = models.TextField(blank=True, default="")
    labels = models.JSONField(default=list, blank=True)

    class Meta:
        app_label = "providers"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_api_tool_provider_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def credentials(self) -> dict[str, Any]:
        if not self.encrypted_credentials:
            return {}
        try:
            value = json.loads(self.encrypted_credentials)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @credentials.setter
    def credentials(self, value: dict[str, Any]) -> None:
        self.encrypted_credentials = json.dumps(value, ensure_ascii=False, sort_keys=True)


class MCPToolProvider(TenantScopedModel):
    """A remote MCP server a workspace added (Dify's `tool_mcp_providers`).

    The URL and the custom headers are secrets (they often carry tokens): both are encrypted, the URL is
    matched by its hash, and responses mask them. `tools` keeps the server's tool list as it answered it
    (`{name, description, inputSchema}`), refreshed by the console's update endpoint. `authed` tells
    whether the last connection succeeded (Dify's "authorized" badge).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=40)
    server_identifier = models.CharField(max_length=64)
    server_url = EncryptedTextField()
    server_url_hash = models.CharField(max_length=64)
    icon = models.TextField(blank=True, default="")  # a JSON {content, background} (emoji) or an image URL
    tools = models.JSONField(default=list, blank=True)
    authed = models.BooleanField(default=False)
    timeout = models.FloatField(default=30)
    sse_read_timeout = models.FloatField(default=300)
    encrypted_headers = EncryptedTextField(blank=True, default="")
    encrypted_credentials = EncryptedTextField(blank=True, default="")  # OAuth tokens, when a server asks

    class Meta:
        app_label = "providers"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_mcp_provider_name"),
            models.UniqueConstraint(
                fields=["tenant", "server_identifier"], name="unique_mcp_provider_server_identifier"
            ),
            models.UniqueConstraint(
                fields=["tenant", "server_url_hash"], name="unique_mcp_provider_server_url"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def headers(self) -> dict[str, str]:
        return _json_object(self.encrypted_headers)

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self.encrypted_headers = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


def _json_object(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class BuiltinToolProvider(TenantScopedModel):
    """A workspace's credential for a builtin tool provider that needs one (Dify's
    `tool_builtin_providers`): several per provider, each named, one the default. The credential values
    are one JSON object in an `EncryptedTextField` (ciphertext in the column, masked in responses)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provider = models.CharField(max_length=255)  # the provider's short name (`tavily`)
    name = models.CharField(max_length=256)
    credential_type = models.CharField(max_length=32, default="api-key")
    encrypted_credentials = EncryptedTextField(blank=True, default="")
    is_default = models.BooleanField(default=False)
    expires_at = models.BigIntegerField(default=-1)

    class Meta:
        app_label = "providers"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "name"], name="unique_builtin_tool_provider_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.name}"

    @property
    def credentials(self) -> dict[str, Any]:
        return _json_object(self.encrypted_credentials)

    @credentials.setter
    def credentials(self, value: dict[str, Any]) -> None:
        self.encrypted_credentials = json.dumps(value, ensure_ascii=False, sort_keys=True)
