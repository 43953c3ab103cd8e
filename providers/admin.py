"""Django admin for model providers: credentials (masked, never editable here), custom models, defaults,
model settings, prices, and the usage meter (read-only)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from providers.models import (
    LoadBalancingModelConfig,
    ModelPrice,
    ModelUsage,
    Provider,
    ProviderCredential,
    ProviderModel,
    ProviderModelCredential,
    ProviderModelSetting,
    TenantDefaultModel,
)
from providers.services.credentials import credentials_masked, model_forms, provider_forms
from providers.services.runtime import model_runtime


def _masked_config(provider: str, values: dict[str, Any], *, model: bool) -> str:
    try:
        schema = model_runtime().provider(provider)
        forms = (model_forms(schema) or provider_forms(schema)) if model else provider_forms(schema)
        shown = credentials_masked(forms, values)
    except Exception:  # a provider no longer in the catalogue: show no values at all
        shown = dict.fromkeys(values, "******")
    return format_html("<pre>{}</pre>", json.dumps(shown, indent=2, ensure_ascii=False))


class _CredentialAdmin(admin.ModelAdmin):
    """Credentials are set through the console (validated by a real call); here they are only shown,
    masked. They can be deleted."""

    exclude = ("encrypted_config",)
    search_fields = ("provider", "name", "tenant__name")
    list_filter = ("provider",)
    list_select_related = ("tenant",)
    autocomplete_fields = ("tenant",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(_CredentialAdmin):
    list_display = ("provider", "name", "tenant", "created_at")
    readonly_fields = ("id", "tenant", "provider", "name", "masked_config", "created_at", "updated_at")

    @admin.display(description="credentials (masked)")
    def masked_config(self, obj: ProviderCredential) -> str:
        return _masked_config(obj.provider, obj.config, model=False)


@admin.register(ProviderModelCredential)
class ProviderModelCredentialAdmin(_CredentialAdmin):
    list_display = ("provider", "model_name", "model_type", "name", "tenant", "created_at")
    list_filter = ("provider", "model_type")
    readonly_fields = (
        "id",
        "tenant",
        "provider",
        "model_name",
        "model_type",
        "name",
        "masked_config",
        "created_at",
        "updated_at",
    )

    @admin.display(description="credentials (masked)")
    def masked_config(self, obj: ProviderModelCredential) -> str:
        return _masked_config(obj.provider, obj.config, model=True)


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_select_related = ("tenant", "credential")
    list_display = ("provider", "tenant", "provider_type", "credential", "is_valid", "updated_at")
    list_filter = ("provider", "is_valid")
    search_fields = ("provider", "tenant__name")
    readonly_fields = ("id", "tenant", "provider", "provider_type", "credential", "created_at", "updated_at")


@admin.register(ProviderModel)
class ProviderModelAdmin(admin.ModelAdmin):
    list_select_related = ("tenant", "credential")
    list_display = ("provider", "model_name", "model_type", "tenant", "credential", "is_valid", "created_at")
    list_filter = ("provider", "model_type", "is_valid")
    search_fields = ("model_name", "provider", "tenant__name")
    readonly_fields = ("id", "tenant", "provider", "model_name", "model_type", "credential", "created_at")


@admin.register(TenantDefaultModel)
class TenantDefaultModelAdmin(admin.ModelAdmin):
    list_select_related = ("tenant",)
    list_display = ("tenant", "model_type", "provider", "model_name", "updated_at")
    list_filter = ("model_type", "provider")
    search_fields = ("tenant__name", "model_name")
    autocomplete_fields = ("tenant",)


@admin.register(ProviderModelSetting)
class ProviderModelSettingAdmin(admin.ModelAdmin):
    list_select_related = ("tenant",)
    list_display = ("tenant", "provider", "model_name", "model_type", "enabled", "load_balancing_enabled")
    list_filter = ("provider", "model_type", "enabled", "load_balancing_enabled")
    search_fields = ("tenant__name", "model_name")
    autocomplete_fields = ("tenant",)


@admin.register(LoadBalancingModelConfig)
class LoadBalancingModelConfigAdmin(admin.ModelAdmin):
    list_select_related = ("tenant",)
    list_display = ("tenant", "provider", "model_name", "model_type", "name", "enabled")
    list_filter = ("provider", "model_type", "enabled")
    exclude = ("encrypted_config",)
    readonly_fields = (
        "id",
        "tenant",
        "provider",
        "model_name",
        "model_type",
        "name",
        "credential_source_type",
        "provider_credential",
        "model_credential",
    )


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_select_related = ("tenant",)
    list_display = (
        "tenant",
        "provider",
        "model_name",
        "model_type",
        "input_price",
        "output_price",
        "unit",
        "currency",
    )
    list_filter = ("provider", "model_type", "currency")
    search_fields = ("tenant__name", "model_name")
    autocomplete_fields = ("tenant",)


@admin.register(ModelUsage)
class ModelUsageAdmin(admin.ModelAdmin):
    """The meter, read-only: filter by workspace, provider, model, type, status and date."""

    list_display = (
        "created_at",
        "tenant",
        "provider",
        "model_name",
        "model_type",
        "status",
        "prompt_tokens",
        "completion_tokens",
        "total_price",
        "currency",
        "latency",
    )
    list_filter = ("tenant", "provider", "model_name", "model_type", "status", "created_at")
    search_fields = ("model_name", "app_id", "message_id", "workflow_run_id")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
