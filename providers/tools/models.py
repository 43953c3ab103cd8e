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
