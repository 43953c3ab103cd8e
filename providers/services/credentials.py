"""Provider and custom-model credentials: add, update, delete, switch the active one, validate.

Every credential is checked by a real, cheap call to the provider (`ModelRuntime.validate_credentials`)
before anything is written, and outside any database transaction; a credential that fails is never
stored and the caller gets a 400 naming the problem (wrong key, unreachable base URL, a server that
answers an HTML page...). Secret-input fields are encrypted at rest with the rest of the form (the whole
JSON is an `EncryptedTextField`) and masked in every response; an update that sends a secret back masked
(`[__HIDDEN__]`, or the masked string itself) keeps the stored value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Tenant
from dify_project.crypto import mask
from providers import exceptions as errors
from providers import selectors
from providers.models import (
    LoadBalancingModelConfig,
    Provider,
    ProviderCredential,
    ProviderModel,
    ProviderModelCredential,
    ProviderModelSetting,
)
from providers.runtime import (
    CredentialFormSchema,
    CredentialsValidationError,
    ModelRuntimeError,
    ProviderSchema,
)
from providers.services.config_cache import provider_config_changed
from providers.services.runtime import run_sync

logger = logging.getLogger(__name__)

HIDDEN_VALUE = "[__HIDDEN__]"
_API_KEY_NAME = re.compile(r"^API KEY\s+(\d+)$")


# --- forms -----------------------------------------------------------------------------------------------


def provider_forms(schema: ProviderSchema) -> tuple[CredentialFormSchema, ...]:
    return schema.provider_credential_schema


def model_forms(schema: ProviderSchema) -> tuple[CredentialFormSchema, ...]:
    return schema.model_credential_schema.credential_form_schemas if schema.model_credential_schema else ()


def _shown(form: CredentialFormSchema, values: Mapping[str, Any], model_type: str | None) -> bool:
    for condition in form.show_on:
        current = model_type if condition.variable == "__model_type" else values.get(condition.variable)
        if current is not None and str(current) != condition.value:
            return False
    return True


def credentials_clean(
    forms: Sequence[CredentialFormSchema], data: Any, *, model_type: str | None = None
) -> dict[str, Any]:
    """The form's values: unknown fields dropped, defaults filled in, options and lengths checked.
    Required fields are the runtime's to check (it names the missing one)."""
    if not isinstance(data, Mapping):
        raise errors.CredentialsInvalid("credentials must be an object.", params="credentials")
    cleaned: dict[str, Any] = {}
    for form in forms:
        value = data.get(form.variable)
        if value is None or value == "":
            if form.default is not None and _shown(form, data, model_type):
                cleaned[form.variable] = form.default
            continue
        if isinstance(value, Mapping | list):
            raise errors.CredentialsInvalid(f"Credential '{form.variable}' must be a single value.")
        if form.type in ("select", "radio") and form.options:
            allowed = [option.value for option in form.options]
            if str(value) not in allowed:
                raise errors.CredentialsInvalid(
                    f"Credential '{form.variable}' must be one of {', '.join(allowed)}."
                )
        if form.type == "switch" and not isinstance(value, bool):
            value = str(value).strip().lower() in ("true", "1", "yes", "on")
        if isinstance(value, str):
            value = value.strip()
            if form.max_length and len(value) > form.max_length:
                raise errors.CredentialsInvalid(
                    f"Credential '{form.variable}' is longer than {form.max_length} characters."
                )
        cleaned[form.variable] = value
    return cleaned


def secret_variables(forms: Iterable[CredentialFormSchema]) -> set[str]:
    return {form.variable for form in forms if form.secret}


def credentials_masked(forms: Sequence[CredentialFormSchema], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values as a response may show them: secret inputs masked (first 6 ... last 2)."""
    secrets = secret_variables(forms)
    return {
        key: mask(str(value)) if key in secrets and isinstance(value, str) else value
        for key, value in values.items()
    }


def credentials_merge_hidden(
    forms: Sequence[CredentialFormSchema], new: Mapping[str, Any], old: Mapping[str, Any]
) -> dict[str, Any]:
    """A secret sent back as `[__HIDDEN__]` or masked as we showed it keeps the stored value."""
    merged = dict(new)
    for key in secret_variables(forms):
        value = merged.get(key)
        if key in old and isinstance(value, str) and value in (HIDDEN_VALUE, mask(str(old[key]))):
            merged[key] = old[key]
    return merged


# --- the real call ---------------------------------------------------------------------------------------


def credentials_check(
    *,
    provider: str,
    credentials: Mapping[str, Any],
    model: str | None = None,
    model_type: str | None = None,
) -> None:
    """Check the credentials with a real call; CredentialsInvalid (400) says what went wrong."""
    try:
        run_sync(
            lambda runtime: runtime.validate_credentials(
                provider=provider, credentials=credentials, model=model, model_type=model_type
            )
        )
    except CredentialsValidationError as exc:
        raise errors.CredentialsInvalid(str(exc)) from exc
    except ModelRuntimeError as exc:
        raise errors.CredentialsInvalid(str(exc)) from exc
    except Exception as exc:
        # A provider SDK tripping over an answer it cannot read (an HTML page, garbage) must not become
        # a 500: the credential is unusable either way. Logged for the runtime's maintainers.
        logger.warning("credential validation for %s failed unexpectedly", provider, exc_info=True)
        raise errors.CredentialsInvalid(
            f"[{provider}] The provider's answer could not be read ({type(exc).__name__}); "
            "check the base URL points at the provider's API."
        ) from exc


def _require_provider_forms(schema: ProviderSchema) -> tuple[CredentialFormSchema, ...]:
    forms = provider_forms(schema)
    if not forms:
        raise errors.InvalidParam(
            f"Provider {schema.provider} takes no provider credentials; add its models one by one instead."
        )
    return forms


def _require_model_forms(schema: ProviderSchema, model_type: str) -> tuple[CredentialFormSchema, ...]:
    if "customizable-model" not in schema.configurate_methods or schema.model_credential_schema is None:
        raise errors.InvalidParam(f"Provider {schema.provider} does not support custom models.")
    if model_type not in schema.supported_model_types:
        raise errors.InvalidParam(
            f"Provider {schema.provider} does not support {model_type} models.", params="model_type"
        )
    return model_forms(schema)


def _next_name(existing: Iterable[str]) -> str:
    numbers = [int(m.group(1)) for name in existing if (m := _API_KEY_NAME.match(name.strip()))]
    return f"API KEY {max(numbers, default=0) + 1}"


def _model_label(model: str) -> str:
    if not model.strip():
        raise errors.InvalidParam("model must not be empty.", params="model")
    return model.strip()


# --- provider credentials --------------------------------------------------------------------------------


def provider_credential_validate(
    *,
    tenant: Tenant,
    provider: str,
    credentials: Mapping[str, Any],
    credential_id: str | None = None,
) -> dict[str, Any]:
    """Check provider credentials by a real call and return the cleaned values (nothing is saved).
    Secrets sent back hidden are taken from `credential_id`, else from the active credential."""
    schema = selectors.provider_schema(provider)
    forms = _require_provider_forms(schema)
    values = credentials_clean(forms, credentials)
    stored: ProviderCredential | None
    if credential_id:
        stored = selectors.provider_credential_get(
            tenant=tenant, provider=schema.provider, credential_id=credential_id
        )
    else:
        stored = selectors.provider_state(tenant=tenant, provider=schema.provider).active_credential
    if stored is not None:
        values = credentials_merge_hidden(forms, values, stored.config)
    credentials_check(provider=schema.provider, credentials=values)
    return values


def provider_credential_create(
    *, tenant: Tenant, provider: str, credentials: Mapping[str, Any], name: str | None = None
) -> ProviderCredential:
    """Validate (real call), then save a new named credential; the provider's first becomes active."""
    schema = selectors.provider_schema(provider)
    forms = _require_provider_forms(schema)
    values = credentials_clean(forms, credentials)
    existing = ProviderCredential.objects.for_tenant(tenant).filter(provider=schema.provider)
    if name and existing.filter(name=name).exists():
        raise errors.CredentialNameTaken(f"Credential with name '{name}' already exists.")
    credentials_check(provider=schema.provider, credentials=values)  # no transaction held across this
    try:
        with transaction.atomic():
            row = ProviderCredential(
                tenant=tenant,
                provider=schema.provider,
                name=name or _next_name(existing.values_list("name", flat=True)),
            )
            row.config = values
            row.save()
            record, _ = Provider.objects.select_for_update().get_or_create(
                tenant=tenant, provider=schema.provider, provider_type="custom"
            )
            if record.credential_id is None:
                record.credential = row
            record.is_valid = True
            record.save(update_fields=["credential", "is_valid", "updated_at"])
    except IntegrityError:
        raise errors.CredentialNameTaken(f"Credential with name '{name}' already exists.") from None
    provider_config_changed(tenant.id)
    return row


def provider_credential_update(
    *,
    tenant: Tenant,
    provider: str,
    credential_id: str,
    credentials: Mapping[str, Any],
    name: str | None = None,
) -> ProviderCredential:
    """Validate (real call) and replace a credential's values; masked secrets keep their stored value."""
    schema = selectors.provider_schema(provider)
    forms = _require_provider_forms(schema)
    row = selectors.provider_credential_get(
        tenant=tenant, provider=schema.provider, credential_id=credential_id
    )
    if (
        name
        and ProviderCredential.objects.for_tenant(tenant)
        .filter(provider=schema.provider, name=name)
        .exclude(id=row.id)
        .exists()
    ):
        raise errors.CredentialNameTaken(f"Credential with name '{name}' already exists.")
    values = credentials_merge_hidden(forms, credentials_clean(forms, credentials), row.config)
    credentials_check(provider=schema.provider, credentials=values)
    row.config = values
    if name:
        row.name = name
    try:
        row.save(update_fields=["encrypted_config", "name", "updated_at"])
    except IntegrityError:
        raise errors.CredentialNameTaken(f"Credential with name '{name}' already exists.") from None
    provider_config_changed(tenant.id)
    return row


@transaction.atomic
def provider_credential_delete(*, tenant: Tenant, provider: str, credential_id: str) -> None:
    """Delete a credential and the load-balancing entries using it. Deleting the active one leaves the
    provider with no active credential (switch to another), as Dify does; deleting the last removes the
    provider's configuration."""
    schema = selectors.provider_schema(provider)
    row = selectors.provider_credential_get(
        tenant=tenant, provider=schema.provider, credential_id=credential_id
    )
    remaining = (
        ProviderCredential.objects.for_tenant(tenant).filter(provider=schema.provider).exclude(id=row.id)
    )
    record = Provider.objects.for_tenant(tenant).filter(provider=schema.provider).select_for_update().first()
    row.delete()  # load-balancing configs referencing it go with it (CASCADE)
    if record is not None:
        if not remaining.exists():
            record.delete()
        elif record.credential_id is None or record.credential_id == row.id:
            record.credential = None
            record.save(update_fields=["credential", "updated_at"])
    provider_config_changed(tenant.id)


@transaction.atomic
def provider_credential_switch(*, tenant: Tenant, provider: str, credential_id: str) -> None:
    """Make another saved credential the active one."""
    schema = selectors.provider_schema(provider)
    row = selectors.provider_credential_get(
        tenant=tenant, provider=schema.provider, credential_id=credential_id
    )
    record, _ = Provider.objects.select_for_update().get_or_create(
        tenant=tenant, provider=schema.provider, provider_type="custom"
    )
    record.credential = row
    record.is_valid = True
    record.save(update_fields=["credential", "is_valid", "updated_at"])
    provider_config_changed(tenant.id)


# --- custom models and their credentials -----------------------------------------------------------------


def model_credential_validate(
    *,
    tenant: Tenant,
    provider: str,
    model_type: str,
    model: str,
    credentials: Mapping[str, Any],
    credential_id: str | None = None,
) -> dict[str, Any]:
    """Check a custom model's credentials by the smallest real call of that model; nothing is saved."""
    schema = selectors.provider_schema(provider)
    forms = _require_model_forms(schema, model_type)
    model = _model_label(model)
    values = credentials_clean(forms, credentials, model_type=model_type)
    stored: ProviderModelCredential | None = None
    if credential_id:
        stored = selectors.model_credential_get(
            tenant=tenant,
            provider=schema.provider,
            model_type=model_type,
            model=model,
            credential_id=credential_id,
        )
    else:
        custom = selectors.custom_model_get(
            tenant=tenant, provider=schema.provider, model_type=model_type, model=model
        )
        stored = custom.credential if custom else None
    if stored is not None:
        values = credentials_merge_hidden(forms, values, stored.config)
    credentials_check(provider=schema.provider, credentials=values, model=model, model_type=model_type)
    return values


def model_credential_create(
    *,
    tenant: Tenant,
    provider: str,
    model_type: str,
    model: str,
    credentials: Mapping[str, Any],
    name: str | None = None,
) -> ProviderModelCredential:
    """Validate (real call), then save a named credential of a custom model, registering the model if it
    is new (its first credential becomes active). This is how a custom model is added."""
    schema = selectors.provider_schema(provider)
    forms = _require_model_forms(schema, model_type)
    model = _model_label(model)
    values = credentials_clean(forms, credentials, model_type=model_type)
    existing = ProviderModelCredential.objects.for_tenant(tenant).filter(
        provider=schema.provider, model_type=model_type, model_name=model
    )
    if name and existing.filter(name=name).exists():
        raise errors.CredentialNameTaken(f"Credential with name '{name}' already exists.")
    credentials_check(provider=schema.provider, credentials=values, model=model, model_type=model_type)
    try:
        with transaction.atomic():
            row = ProviderModelCredential(
                tenant=tenant,
                provider=schema.provider,
                model_type=model_type,
                model_name=model,
                name=name or _next_name(existing.values_list("name", flat=True)),
            )
            row.config = values
            row.save()
            custom, _ = ProviderModel.objects.select_for_update().get_or_create(
                tenant=tenant, provider=schema.provider, model_type=model_type, model_name=model
            )
            if custom.credential_id is None:
                custom.credential = row
            custom.is_valid = True
            custom.save(update_fields=["credential", "is_valid", "updated_at"])
    except IntegrityError:
        raise errors.CredentialNameTaken(f"Credential with name '{name}' already exists.") from None
    provider_config_changed(tenant.id)
    return row


def model_credential_update(
    *,
    tenant: Tenant,
    provider: str,
    model_type: str,
    model: str,
    credential_id: str,
    credentials: Mapping[str, Any],
    name: str | None = None,
) -> ProviderModelCredential:
    schema = selectors.provider_schema(provider)
    forms = _require_model_forms(schema, model_type)
    row = selectors.model_credential_get(
        tenant=tenant,
        provider=schema.provider,
        model_type=model_type,
        model=model,
        credential_id=credential_id,
    )
    if (
        name
        and ProviderModelCredential.objects.for_tenant(tenant)
        .filter(provider=schema.provider, model_type=model_type, model_name=model, name=name)
        .exclude(id=row.id)
        .exists()
    ):
        raise errors.CredentialNameTaken(f"Credential with name '{name}' already exists.")
    values = credentials_merge_hidden(
        forms, credentials_clean(forms, credentials, model_type=model_type), row.config
    )
    credentials_check(provider=schema.provider, credentials=values, model=model, model_type=model_type)
    row.config = values
    if name:
        row.name = name
    try:
        row.save(update_fields=["encrypted_config", "name", "updated_at"])
    except IntegrityError:
        raise errors.CredentialNameTaken(f"Credential with name '{name}' already exists.") from None
    provider_config_changed(tenant.id)
    return row


@transaction.atomic
def model_credential_delete(
    *, tenant: Tenant, provider: str, model_type: str, model: str, credential_id: str
) -> None:
    """Delete a custom model's credential; deleting its last credential removes the custom model."""
    schema = selectors.provider_schema(provider)
    row = selectors.model_credential_get(
        tenant=tenant,
        provider=schema.provider,
        model_type=model_type,
        model=model,
        credential_id=credential_id,
    )
    remaining = (
        ProviderModelCredential.objects.for_tenant(tenant)
        .filter(provider=schema.provider, model_type=model_type, model_name=model)
        .exclude(id=row.id)
    )
    custom = (
        ProviderModel.objects.for_tenant(tenant)
        .filter(provider=schema.provider, model_type=model_type, model_name=model)
        .select_for_update()
        .first()
    )
    row.delete()
    if custom is not None:
        if not remaining.exists():
            custom.delete()
        elif custom.credential_id is None or custom.credential_id == row.id:
            custom.credential = None
            custom.save(update_fields=["credential", "updated_at"])
    provider_config_changed(tenant.id)


@transaction.atomic
def model_credential_switch(
    *, tenant: Tenant, provider: str, model_type: str, model: str, credential_id: str
) -> None:
    """Make another saved credential of a custom model the active one (registering the model if needed)."""
    schema = selectors.provider_schema(provider)
    row = selectors.model_credential_get(
        tenant=tenant,
        provider=schema.provider,
        model_type=model_type,
        model=model,
        credential_id=credential_id,
    )
    custom, _ = ProviderModel.objects.select_for_update().get_or_create(
        tenant=tenant, provider=schema.provider, model_type=model_type, model_name=model
    )
    custom.credential = row
    custom.is_valid = True
    custom.save(update_fields=["credential", "is_valid", "updated_at"])
    provider_config_changed(tenant.id)


@transaction.atomic
def custom_model_delete(*, tenant: Tenant, provider: str, model_type: str, model: str) -> None:
    """Remove a custom model with its credentials, settings and load-balancing entries."""
    schema = selectors.provider_schema(provider)
    scope = {"provider": schema.provider, "model_type": model_type, "model_name": model}
    deleted, _ = ProviderModel.objects.for_tenant(tenant).filter(**scope).delete()
    if not deleted:
        raise errors.ModelNotFound(f"Model {model} ({model_type}) of provider {schema.provider} not found.")
    ProviderModelCredential.objects.for_tenant(tenant).filter(**scope).delete()
    LoadBalancingModelConfig.objects.for_tenant(tenant).filter(**scope).delete()
    ProviderModelSetting.objects.for_tenant(tenant).filter(**scope).delete()
    provider_config_changed(tenant.id)
