"""Per-model settings of a workspace: enabled/disabled, default models, load balancing, price overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import transaction

from accounts.models import Tenant
from providers import exceptions as errors
from providers import selectors
from providers.models import (
    INHERIT_CONFIG_NAME,
    CredentialSource,
    LoadBalancingModelConfig,
    ModelPrice,
    ProviderModelSetting,
    TenantDefaultModel,
)
from providers.runtime import ProviderSchema
from providers.services import credentials as creds
from providers.services.config_cache import provider_config_changed


def _known_model(*, tenant: Tenant, schema: ProviderSchema, model_type: str, model: str) -> None:
    """The model is one the workspace can see: a predefined model of the provider or a custom one."""
    if model_type not in schema.supported_model_types:
        raise errors.InvalidParam(
            f"Provider {schema.provider} does not support {model_type} models.", params="model_type"
        )
    if schema.predefined_model(model, model_type) is not None:
        return
    if selectors.custom_model_get(
        tenant=tenant, provider=schema.provider, model_type=model_type, model=model
    ):
        return
    raise errors.ModelNotFound(f"Model {model} ({model_type}) of provider {schema.provider} does not exist.")


def _setting(*, tenant: Tenant, schema: ProviderSchema, model_type: str, model: str) -> ProviderModelSetting:
    setting, _ = ProviderModelSetting.objects.select_for_update().get_or_create(
        tenant=tenant, provider=schema.provider, model_type=model_type, model_name=model
    )
    return setting


# --- enable / disable ------------------------------------------------------------------------------------


@transaction.atomic
def model_enable(*, tenant: Tenant, provider: str, model_type: str, model: str, enabled: bool = True) -> None:
    schema = selectors.provider_schema(provider)
    _known_model(tenant=tenant, schema=schema, model_type=model_type, model=model)
    setting = _setting(tenant=tenant, schema=schema, model_type=model_type, model=model)
    setting.enabled = enabled
    setting.save(update_fields=["enabled", "updated_at"])
    provider_config_changed(tenant.id)


def model_disable(*, tenant: Tenant, provider: str, model_type: str, model: str) -> None:
    model_enable(tenant=tenant, provider=provider, model_type=model_type, model=model, enabled=False)


# --- default models --------------------------------------------------------------------------------------


@transaction.atomic
def default_model_set(*, tenant: Tenant, model_type: str, provider: str, model: str) -> TenantDefaultModel:
    """Make `provider`/`model` the workspace's default for `model_type` (it must exist there)."""
    schema = selectors.provider_schema(provider)
    _known_model(tenant=tenant, schema=schema, model_type=model_type, model=model)
    row, _ = TenantDefaultModel.objects.select_for_update().get_or_create(
        tenant=tenant, model_type=model_type, defaults={"provider": schema.provider, "model_name": model}
    )
    row.provider = schema.provider
    row.model_name = model
    row.save(update_fields=["provider", "model_name", "updated_at"])
    provider_config_changed(tenant.id)
    return row


@transaction.atomic
def default_models_update(*, tenant: Tenant, model_settings: Sequence[Mapping[str, Any]]) -> None:
    """Dify's POST /default-model: each entry `{model_type, provider, model}`; no provider = unchanged.
    All or nothing."""
    for entry in model_settings:
        if not entry.get("provider"):
            continue
        default_model_set(
            tenant=tenant, model_type=entry["model_type"], provider=entry["provider"], model=entry["model"]
        )


# --- load balancing --------------------------------------------------------------------------------------


def _credential_source(config_from: str | None) -> str:
    return CredentialSource.PROVIDER if config_from == "predefined-model" else CredentialSource.CUSTOM_MODEL


def _lb_forms(schema: ProviderSchema, source: str) -> Sequence[Any]:
    if source == CredentialSource.PROVIDER and schema.provider_credential_schema:
        return creds.provider_forms(schema)
    return creds.model_forms(schema) or creds.provider_forms(schema)


def load_balancing_credentials_validate(
    *,
    tenant: Tenant,
    provider: str,
    model_type: str,
    model: str,
    credentials: Mapping[str, Any],
    config_id: UUID | str | None = None,
    config_from: str | None = None,
) -> dict[str, Any]:
    """Check one pool member's credentials by a real call of the model; nothing is saved."""
    schema = selectors.provider_schema(provider)
    source = _credential_source(config_from or _default_config_from(schema, model_type, model))
    forms = _lb_forms(schema, source)
    values = creds.credentials_clean(forms, credentials, model_type=model_type)
    if config_id:
        config = selectors.load_balancing_config_get(
            tenant=tenant, provider=schema.provider, model_type=model_type, model=model, config_id=config_id
        )
        values = creds.credentials_merge_hidden(forms, values, config.config)
    creds.credentials_check(provider=schema.provider, credentials=values, model=model, model_type=model_type)
    return values


def _default_config_from(schema: ProviderSchema, model_type: str, model: str) -> str:
    return "predefined-model" if schema.predefined_model(model, model_type) else "custom-model"


def load_balancing_configs_save(
    *,
    tenant: Tenant,
    provider: str,
    model_type: str,
    model: str,
    configs: Sequence[Mapping[str, Any]],
    enabled: bool | None = None,
    config_from: str | None = None,
) -> None:
    """Replace the model's pool with `configs` (Dify's shape: `{id?, name, credentials? | credential_id?,
    enabled}`) and turn balancing on or off. New or changed inline credentials are checked by a real
    call first (outside the transaction); entries not listed are removed."""
    schema = selectors.provider_schema(provider)
    _known_model(tenant=tenant, schema=schema, model_type=model_type, model=model)
    config_from = config_from or _default_config_from(schema, model_type, model)
    source = _credential_source(config_from)
    forms = _lb_forms(schema, source)
    current = {
        str(c.id): c
        for c in selectors.load_balancing_configs_list(
            tenant=tenant, provider=schema.provider, model_type=model_type, model=model
        )
    }

    plans: list[dict[str, Any]] = []
    for index, config in enumerate(configs):
        if not isinstance(config, Mapping):
            raise errors.InvalidParam(f"Invalid load balancing config at position {index}.", params="configs")
        config_id = str(config["id"]) if config.get("id") else None
        if config_id is not None and config_id not in current:
            raise errors.InvalidParam(f"Invalid load balancing config id: {config_id}", params="configs")
        if config.get("enabled") is None:
            raise errors.InvalidParam("Invalid load balancing config enabled", params="configs")
        plan: dict[str, Any] = {
            "id": config_id,
            "enabled": bool(config["enabled"]),
            "name": config.get("name"),
        }
        existing = current.get(config_id) if config_id else None
        if config.get("credential_id"):
            if source == CredentialSource.PROVIDER:
                plan["provider_credential"] = selectors.provider_credential_get(
                    tenant=tenant, provider=schema.provider, credential_id=config["credential_id"]
                )
                plan["name"] = plan["provider_credential"].name
            else:
                plan["model_credential"] = selectors.model_credential_get(
                    tenant=tenant,
                    provider=schema.provider,
                    model_type=model_type,
                    model=model,
                    credential_id=config["credential_id"],
                )
                plan["name"] = plan["model_credential"].name
        elif (plan["name"] or (existing.name if existing else None)) == INHERIT_CONFIG_NAME:
            plan["name"] = INHERIT_CONFIG_NAME
        elif config.get("credentials"):
            values = creds.credentials_clean(forms, config["credentials"], model_type=model_type)
            if existing is not None:
                values = creds.credentials_merge_hidden(forms, values, existing.config)
            if existing is None or values != existing.config:
                creds.credentials_check(
                    provider=schema.provider, credentials=values, model=model, model_type=model_type
                )
            plan["config"] = values
        elif existing is None:
            raise errors.InvalidParam("Invalid load balancing config credentials", params="configs")
        if not plan["name"]:
            if existing is None:
                raise errors.InvalidParam("Invalid load balancing config name", params="configs")
            plan["name"] = existing.name
        plans.append(plan)

    with transaction.atomic():
        kept: set[str] = set()
        for plan in plans:
            row = current.get(plan["id"]) if plan["id"] else None
            if row is None:
                row = LoadBalancingModelConfig(
                    tenant=tenant, provider=schema.provider, model_type=model_type, model_name=model
                )
            row.name = plan["name"]
            row.enabled = plan["enabled"]
            row.credential_source_type = source
            row.provider_credential = plan.get("provider_credential")
            row.model_credential = plan.get("model_credential")
            if "config" in plan:
                row.config = plan["config"]
            elif row.provider_credential or row.model_credential or row.name == INHERIT_CONFIG_NAME:
                row.encrypted_config = ""
            row.save()
            kept.add(str(row.id))
        for config_id, row in current.items():
            if config_id not in kept:
                row.delete()
        if enabled is not None:
            setting = _setting(tenant=tenant, schema=schema, model_type=model_type, model=model)
            setting.load_balancing_enabled = enabled
            setting.save(update_fields=["load_balancing_enabled", "updated_at"])
        provider_config_changed(tenant.id)


@transaction.atomic
def load_balancing_enable(
    *, tenant: Tenant, provider: str, model_type: str, model: str, enabled: bool = True
) -> None:
    schema = selectors.provider_schema(provider)
    _known_model(tenant=tenant, schema=schema, model_type=model_type, model=model)
    setting = _setting(tenant=tenant, schema=schema, model_type=model_type, model=model)
    setting.load_balancing_enabled = enabled
    setting.save(update_fields=["load_balancing_enabled", "updated_at"])
    provider_config_changed(tenant.id)


# --- price overrides (our extension) ---------------------------------------------------------------------


@transaction.atomic
def model_price_set(
    *,
    tenant: Tenant,
    provider: str,
    model_type: str,
    model: str,
    input_price: Decimal,
    output_price: Decimal | None = None,
    unit: Decimal = Decimal("0.000001"),
    currency: str = "USD",
) -> ModelPrice:
    """Set the workspace's own price for a model: calls are priced with it from now on."""
    schema = selectors.provider_schema(provider)
    _known_model(tenant=tenant, schema=schema, model_type=model_type, model=model)
    row, _ = ModelPrice.objects.select_for_update().get_or_create(
        tenant=tenant,
        provider=schema.provider,
        model_type=model_type,
        model_name=model,
        defaults={"input_price": input_price},
    )
    row.input_price = input_price
    row.output_price = output_price
    row.unit = unit
    row.currency = currency.upper()
    row.save()
    provider_config_changed(tenant.id)
    return row


@transaction.atomic
def model_price_delete(*, tenant: Tenant, provider: str, model_type: str, model: str) -> None:
    """Back to the catalogue's (or the custom model form's) price."""
    schema = selectors.provider_schema(provider)
    ModelPrice.objects.for_tenant(tenant).filter(
        provider=schema.provider, model_type=model_type, model_name=model
    ).delete()
    provider_config_changed(tenant.id)
