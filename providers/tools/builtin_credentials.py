"""Credentials of builtin tool providers that need keys (Dify's `BuiltinToolManageService`, 1.x shape).

A workspace keeps several named credentials per provider (`API KEY 1`, `API KEY 2`, ...), one the
default (the first added, until another is chosen). Values are encrypted at rest like model
credentials (`EncryptedTextField`) and answered masked: a `secret-input` value shows its first and last
two characters (Dify's `mask_tool_credentials`). Saving checks the values with a real call to the tool's
service first (the provider's `validate_credentials`); a failing check is 400 `invalid_param` with the
reason, and nothing is written. On update a secret left as Dify's `[__HIDDEN__]`, or sent back exactly as
it was masked, keeps its stored value.

Validation waits on the network, so the writes here are async; database work runs off the event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account, Tenant
from dify_project.api.errors import InvalidParam
from dify_project.db import db_sync_to_async
from providers.tools.builtin.base import BuiltinProvider
from providers.tools.exceptions import ToolError
from providers.tools.models import BuiltinToolProvider
from providers.tools.selectors import builtin_provider_get

API_KEY = "api-key"
SUPPORTED_TYPES = (API_KEY,)
HIDDEN_VALUE = "[__HIDDEN__]"  # Dify's placeholder for a secret the user did not change
MAX_CREDENTIALS = 100  # Dify's __MAX_BUILTIN_TOOL_PROVIDER_COUNT__


def mask_value(value: Any) -> Any:
    text = str(value or "")
    if len(text) > 6:
        return text[:2] + "*" * (len(text) - 4) + text[-2:]
    return "*" * len(text)


def masked(provider: BuiltinProvider, credentials: Mapping[str, Any]) -> dict[str, Any]:
    secrets = provider.secret_names()
    return {k: mask_value(v) if k in secrets and v else v for k, v in credentials.items()}


def _needing(provider: str) -> BuiltinProvider:
    found = builtin_provider_get(provider=provider)
    if not found.needs_credentials:
        raise InvalidParam(f"provider {found.name} does not need credentials")
    return found


def _cleaned(found: BuiltinProvider, credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The schema's fields only, required ones present, values as text."""
    if not isinstance(credentials, Mapping):
        raise InvalidParam("credentials must be an object")
    cleaned: dict[str, Any] = {}
    for field in found.credentials_schema:
        name = str(field["name"])
        value = credentials.get(name)
        if value in (None, ""):
            if field.get("required"):
                raise InvalidParam(f"credential {name} is required")
            if field.get("default") is not None:
                cleaned[name] = field["default"]
            continue
        cleaned[name] = str(value) if not isinstance(value, bool | int | float) else value
    return cleaned


async def _check(found: BuiltinProvider, credentials: dict[str, Any]) -> None:
    if found.validate_credentials is None:
        return
    try:
        await found.validate_credentials(credentials)
    except ToolError as exc:
        raise InvalidParam(str(exc)) from None


def _rows(tenant: Tenant | str, provider: str) -> Any:
    # Defaults first, then oldest: the order Dify lists them in, and the one a call uses first.
    return (
        BuiltinToolProvider.objects.for_tenant(tenant)
        .filter(provider=provider)
        .order_by("-is_default", "created_at")
    )


def _row(tenant: Tenant | str, provider: str, credential_id: Any) -> BuiltinToolProvider:
    try:
        pk = uuid.UUID(str(credential_id))
    except ValueError:
        raise InvalidParam(f"you have not added provider {provider}") from None
    row = _rows(tenant, provider).filter(id=pk).first()
    if row is None:
        raise InvalidParam(f"you have not added provider {provider}")
    return row


def _next_name(tenant: Tenant, provider: str) -> str:
    taken = set(_rows(tenant, provider).values_list("name", flat=True))
    number = 1
    while f"API KEY {number}" in taken:
        number += 1
    return f"API KEY {number}"


async def builtin_credential_add(
    *,
    tenant: Tenant,
    account: Account | None,
    provider: str,
    credentials: Mapping[str, Any],
    credential_type: str = API_KEY,
    name: str | None = None,
) -> BuiltinToolProvider:
    """Check the credentials with a real call, then store them encrypted (the first one is the default)."""
    found = _needing(provider)
    if credential_type not in SUPPORTED_TYPES:
        raise InvalidParam(f"Invalid credential type: {credential_type}")
    values = _cleaned(found, credentials)
    await _check(found, values)

    @transaction.atomic
    def save() -> BuiltinToolProvider:
        rows = _rows(tenant, found.name)
        if rows.count() >= MAX_CREDENTIALS:
            raise InvalidParam(f"you have reached the maximum number of providers for {found.name}")
        chosen = (name or "").strip() or _next_name(tenant, found.name)
        if rows.filter(name=chosen).exists():
            raise InvalidParam(f"the credential name '{chosen}' is already used")
        row = BuiltinToolProvider(
            tenant=tenant,
            user=account,
            provider=found.name,
            name=chosen,
            credential_type=credential_type,
            is_default=not rows.exists(),
        )
        row.credentials = values
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            raise InvalidParam(f"the credential name '{chosen}' is already used") from None
        return row

    return await db_sync_to_async(save)()


async def builtin_credential_update(
    *,
    tenant: Tenant,
    provider: str,
    credential_id: Any,
    credentials: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> None:
    """New values (checked first; unchanged secrets keep theirs) and/or a new name."""
    found = _needing(provider)
    row = await db_sync_to_async(_row)(tenant, found.name, credential_id)
    values: dict[str, Any] | None = None
    if credentials:
        stored = row.credentials
        shown = masked(found, stored)
        merged = {
            key: stored.get(key) if value == HIDDEN_VALUE or (key in shown and value == shown[key]) else value
            for key, value in dict(credentials).items()
        }
        values = _cleaned(found, merged)
        await _check(found, values)

    @transaction.atomic
    def save() -> None:
        fields = ["updated_at"]
        if values is not None:
            row.credentials = values
            fields.append("encrypted_credentials")
        chosen = (name or "").strip()
        if chosen and chosen != row.name:
            if _rows(tenant, found.name).filter(name=chosen).exclude(id=row.id).exists():
                raise InvalidParam(f"the credential name '{chosen}' is already used")
            row.name = chosen
            fields.append("name")
        row.save(update_fields=fields)

    await db_sync_to_async(save)()


@transaction.atomic
def builtin_credential_delete(*, tenant: Tenant, provider: str, credential_id: Any) -> None:
    found = builtin_provider_get(provider=provider)
    row = _row(tenant, found.name, credential_id)
    was_default = row.is_default
    row.delete()
    if was_default:
        successor = _rows(tenant, found.name).first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default", "updated_at"])


@transaction.atomic
def builtin_credential_set_default(*, tenant: Tenant, provider: str, credential_id: Any) -> None:
    found = builtin_provider_get(provider=provider)
    row = _row(tenant, found.name, credential_id)
    _rows(tenant, found.name).exclude(id=row.id).update(is_default=False)
    row.is_default = True
    row.save(update_fields=["is_default", "updated_at"])


# --- reads -----------------------------------------------------------------------------------------------


def builtin_credentials_out(*, tenant: Tenant | str, provider: str) -> list[dict[str, Any]]:
    """Dify's `ToolProviderCredentialApiEntity` list, secrets masked; the first is the default."""
    found = builtin_provider_get(provider=provider)
    rows = list(_rows(tenant, found.name))
    return [
        {
            "id": str(row.id),
            "name": row.name,
            "provider": found.name,
            "credential_type": row.credential_type,
            "is_default": index == 0,
            "credentials": masked(found, row.credentials),
        }
        for index, row in enumerate(rows)
    ]


def builtin_credential_info_out(*, tenant: Tenant | str, provider: str) -> dict[str, Any]:
    found = builtin_provider_get(provider=provider)
    return {
        "supported_credential_types": list(SUPPORTED_TYPES) if found.needs_credentials else [],
        "is_oauth_custom_client_enabled": False,
        "credentials": builtin_credentials_out(tenant=tenant, provider=provider)
        if found.needs_credentials
        else [],
        "allow_custom_token": False,
    }


def builtin_credentials_schema_out(*, provider: str, credential_type: str = API_KEY) -> list[dict[str, Any]]:
    found = builtin_provider_get(provider=provider)
    if credential_type != API_KEY:
        return []
    return [dict(field) for field in found.credentials_schema]


def builtin_credentials_for_call(*, tenant: Tenant | str, provider: str) -> dict[str, Any] | None:
    """The decrypted default credential a tool call uses, None when the workspace has none."""
    row = _rows(tenant, provider).first()
    return row.credentials if row is not None else None
