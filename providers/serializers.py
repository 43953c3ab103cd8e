"""Request validation and response shapes for the model-provider endpoints (Dify's field names)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from dify_project.api.fields import ResultOut  # noqa: F401 - re-exported for the views
from providers import selectors
from providers.models import INHERIT_CONFIG_NAME, LoadBalancingModelConfig, ModelPrice
from providers.runtime import CredentialFormSchema, PriceConfig, ProviderSchema
from providers.services.credentials import credentials_masked

# --- input -----------------------------------------------------------------------------------------------


class ModelTypeField(serializers.CharField):
    """A model type, Dify's older names accepted, normalised (`text-generation` -> `llm`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            return selectors.model_type_normalize(value)
        except Exception as exc:
            raise serializers.ValidationError(str(getattr(exc, "message", exc))) from None


class CredentialsField(serializers.DictField):
    """A credential form's values: `{variable: value}`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.JSONField())
        super().__init__(**kwargs)


class ProviderListQuery(serializers.Serializer):
    model_type = ModelTypeField(required=False)


class CredentialIdQuery(serializers.Serializer):
    credential_id = serializers.UUIDField(required=False)


class CredentialCreateIn(serializers.Serializer):
    credentials = CredentialsField()
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=30)


class CredentialUpdateIn(CredentialCreateIn):
    credential_id = serializers.UUIDField()


class CredentialIdIn(serializers.Serializer):
    credential_id = serializers.UUIDField()


class CredentialValidateIn(serializers.Serializer):
    credentials = CredentialsField()
    credential_id = serializers.UUIDField(required=False)


class ModelIn(serializers.Serializer):
    model = serializers.CharField(max_length=255)
    model_type = ModelTypeField()


class ModelCredentialQuery(ModelIn):
    config_from = serializers.CharField(required=False, allow_blank=True)
    credential_id = serializers.UUIDField(required=False)


class ModelCredentialCreateIn(ModelIn):
    credentials = CredentialsField()
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=30)


class ModelCredentialUpdateIn(ModelCredentialCreateIn):
    credential_id = serializers.UUIDField()


class ModelCredentialIdIn(ModelIn):
    credential_id = serializers.UUIDField()


class ModelValidateIn(ModelIn):
    credentials = CredentialsField()
    credential_id = serializers.UUIDField(required=False)


class LoadBalancingIn(serializers.Serializer):
    enabled = serializers.BooleanField(required=False, allow_null=True)
    configs = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)


class ModelsPostIn(ModelIn):
    """Dify's POST /models: switch a custom model's credential and/or save its load balancing; with
    `credentials` (Dify before 1.8) it adds a custom model."""

    credentials = CredentialsField(required=False)
    load_balancing = LoadBalancingIn(required=False, allow_null=True)
    config_from = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    credential_id = serializers.UUIDField(required=False, allow_null=True)


class ParameterRulesQuery(serializers.Serializer):
    model = serializers.CharField(max_length=255)


class DefaultModelQuery(serializers.Serializer):
    model_type = ModelTypeField()


class DefaultModelSettingIn(serializers.Serializer):
    model_type = ModelTypeField()
    model = serializers.CharField(max_length=255, required=False, allow_blank=True)
    provider = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("provider") and not attrs.get("model"):
            raise serializers.ValidationError({"model": "This field is required."})
        return attrs


class DefaultModelIn(serializers.Serializer):
    model_settings = DefaultModelSettingIn(many=True)


class LoadBalancingQuery(ModelIn):
    config_from = serializers.CharField(required=False, allow_blank=True)


class LoadBalancingSaveIn(ModelIn):
    config_from = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    load_balancing = LoadBalancingIn()


class LoadBalancingValidateIn(ModelIn):
    credentials = CredentialsField()
    config_from = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class PriceQuery(serializers.Serializer):
    model = serializers.CharField(max_length=255, required=False)
    model_type = ModelTypeField(required=False)


class PriceIn(ModelIn):
    input = serializers.DecimalField(max_digits=20, decimal_places=10, min_value=Decimal(0))
    output = serializers.DecimalField(
        max_digits=20, decimal_places=10, min_value=Decimal(0), required=False, allow_null=True
    )
    unit = serializers.DecimalField(
        max_digits=20, decimal_places=10, min_value=Decimal("0.0000000001"), required=False
    )
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False)


# --- output ----------------------------------------------------------------------------------------------


class ValidateResultOut(serializers.Serializer):
    result = serializers.ChoiceField(choices=["success", "error"])
    error = serializers.CharField(required=False)


class DataListOut(serializers.Serializer):
    data = serializers.ListField(child=serializers.DictField())


class DataOut(serializers.Serializer):
    data = serializers.DictField(allow_null=True)


class CredentialsOut(serializers.Serializer):
    credentials = serializers.DictField(allow_null=True)


class ModelCredentialsOut(serializers.Serializer):
    credentials = serializers.DictField()
    current_credential_id = serializers.CharField(allow_null=True)
    current_credential_name = serializers.CharField(allow_null=True)
    load_balancing = serializers.DictField()
    available_credentials = serializers.ListField(child=serializers.DictField())


class LoadBalancingOut(serializers.Serializer):
    enabled = serializers.BooleanField()
    configs = serializers.ListField(child=serializers.DictField())


def _i18n(value: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(value) if value else None


def simple_provider_out(schema: ProviderSchema, tenant_id: Any) -> dict[str, Any]:
    return {
        "tenant_id": str(tenant_id),
        "provider": schema.provider,
        "label": dict(schema.label),
        "icon_small": _i18n(schema.icon_small),
        "icon_large": _i18n(schema.icon_large),
        "supported_model_types": list(schema.supported_model_types),
    }


def credential_configurations_out(rows: Iterable[Any]) -> list[dict[str, str]]:
    return [{"credential_id": str(row.id), "credential_name": row.name} for row in rows]


def provider_out(state: selectors.ProviderState, tenant_id: Any) -> dict[str, Any]:
    """Dify's ProviderResponse: the schema with its credential forms, and the workspace's configuration."""
    schema = state.schema
    data = schema.to_dict()
    data.pop("models", None)
    active = state.active_credential
    custom_models = []
    for custom in state.custom_models:
        credential = state.active_model_credential(custom)
        custom_models.append(
            {
                "model": custom.model_name,
                "model_type": custom.model_type,
                "credentials": None,
                "current_credential_id": str(credential.id) if credential else None,
                "current_credential_name": credential.name if credential else None,
                "available_model_credentials": credential_configurations_out(
                    state.model_credentials.get((custom.model_type, custom.model_name), [])
                ),
                "unadded_to_model_list": False,
            }
        )
    return {
        "tenant_id": str(tenant_id),
        **data,
        "preferred_provider_type": "custom",
        "custom_configuration": {
            "status": "active" if state.configured else "no-configure",
            "current_credential_id": str(active.id) if active else None,
            "current_credential_name": active.name if active else None,
            "available_credentials": credential_configurations_out(state.credentials),
            "custom_models": custom_models,
            "can_added_models": [],
        },
        "system_configuration": {"enabled": False, "current_quota_type": None, "quota_configurations": []},
    }


def model_with_provider_out(entry: selectors.ModelEntry, tenant_id: Any) -> dict[str, Any]:
    return {**entry.to_dict(), "provider": simple_provider_out(entry.provider, tenant_id)}


def providers_with_models_out(
    entries: Sequence[selectors.ModelEntry], tenant_id: Any
) -> list[dict[str, Any]]:
    """Dify's ProviderWithModelsResponse list: models grouped by provider, in catalogue order."""
    grouped: dict[str, dict[str, Any]] = {}
    for entry in entries:
        group = grouped.get(entry.provider.provider)
        if group is None:
            simple = simple_provider_out(entry.provider, tenant_id)
            group = grouped[entry.provider.provider] = {
                "tenant_id": simple["tenant_id"],
                "provider": simple["provider"],
                "label": simple["label"],
                "icon_small": simple["icon_small"],
                "icon_large": simple["icon_large"],
                "status": "active",
                "models": [],
            }
        model = entry.to_dict()
        model.pop("deprecated", None)
        model.pop("has_invalid_load_balancing_configs", None)
        group["models"].append(model)
    return list(grouped.values())


def load_balancing_config_out(
    config: LoadBalancingModelConfig, forms: Sequence[CredentialFormSchema], in_cooldown: bool
) -> dict[str, Any]:
    if config.name == INHERIT_CONFIG_NAME:
        values: Mapping[str, Any] = {}
    elif config.provider_credential is not None:
        values = config.provider_credential.config
    elif config.model_credential is not None:
        values = config.model_credential.config
    else:
        values = config.config
    return {
        "id": str(config.id),
        "name": config.name,
        "credentials": credentials_masked(forms, values),
        "credential_id": config.credential_id,
        "enabled": config.enabled,
        "in_cooldown": in_cooldown,
        "ttl": 0,
    }


def load_balancing_inherit_out() -> dict[str, Any]:
    """The `__inherit__` member (the model's main credential) before the pool has been saved."""
    return {
        "id": None,
        "name": INHERIT_CONFIG_NAME,
        "credentials": {},
        "credential_id": None,
        "enabled": True,
        "in_cooldown": False,
        "ttl": 0,
    }


def pricing_out(pricing: PriceConfig | None) -> dict[str, Any] | None:
    return pricing.to_dict() if pricing is not None else None


def model_price_out(
    *, provider: str, model_type: str, model: str, override: ModelPrice | None, catalogue: PriceConfig | None
) -> dict[str, Any]:
    """A model's price as the workspace pays it: its override if it set one, else the catalogue's."""
    own = selectors.price_config(override) if override is not None else None
    return {
        "provider": provider,
        "model": model,
        "model_type": model_type,
        "pricing": pricing_out(own or catalogue),
        "catalogue_pricing": pricing_out(catalogue),
        "overridden": own is not None,
    }
