"""Writes and calls for custom API tool providers (Dify's ``ApiToolManageService``).

Create and update parse the document first (nothing is saved from a document that does not parse) and
keep the credentials encrypted; an update that sends back the masked API key keeps the stored one. The
test call and the remote-schema fetch go out through the guarded client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction

from accounts.models import Account, Tenant
from dify_project.api.errors import InvalidParam
from dify_project.crypto import mask
from providers.tools import api_tool
from providers.tools.entities import I18n
from providers.tools.exceptions import (
    ApiToolProviderExists,
    InvalidToolSchema,
    ToolError,
    ToolParameterValidationError,
)
from providers.tools.http import MB, fetch, setting
from providers.tools.models import ApiToolProvider
from providers.tools.openapi import ApiToolBundle, ParsedSchema, parse_schema
from providers.tools.selectors import api_tool_provider_get, masked_credentials

SCHEMA_TYPES = frozenset({"openapi", "swagger", "openai_plugin", "openai_actions"})
AUTH_TYPES = frozenset({"none", "api_key", "api_key_header", "api_key_query"})
CREDENTIAL_KEYS = (
    "auth_type",
    "api_key_header",
    "api_key_header_prefix",
    "api_key_query_param",
    "api_key_value",
)
MAX_TOOLS = 100


def credentials_schema() -> list[dict[str, Any]]:
    """The credential form Dify's schema endpoint answers (ToolProviderCredentials)."""

    def field(name: str, kind: str, *, required: bool, default: Any, placeholder: I18n, **extra: Any) -> dict:
        return {
            "name": name,
            "type": kind,
            "required": required,
            "default": default,
            "options": extra.get("options", []),
            "help": extra["help"].to_dict() if extra.get("help") else None,
            "url": None,
            "placeholder": placeholder.to_dict(),
        }

    return [
        field(
            "auth_type",
            "select",
            required=True,
            default="none",
            placeholder=I18n(en_US="Select auth type", zh_Hans="选择认证方式"),
            options=[
                {"value": "none", "label": I18n(en_US="None", zh_Hans="无").to_dict()},
                {"value": "api_key", "label": I18n(en_US="Api Key", zh_Hans="Api Key").to_dict()},
            ],
        ),
        field(
            "api_key_header",
            "text-input",
            required=False,
            default="api_key",
            placeholder=I18n(en_US="Enter api key header", zh_Hans="输入 api key header，如：X-API-KEY"),  # noqa: RUF001
            help=I18n(en_US="HTTP header name for api key", zh_Hans="HTTP 头部字段名，用于传递 api key"),  # noqa: RUF001
        ),
        field(
            "api_key_value",
            "text-input",
            required=False,
            default="",
            placeholder=I18n(en_US="Enter api key", zh_Hans="输入 api key"),
        ),
    ]


def _parse(schema: str) -> ParsedSchema:
    try:
        return parse_schema(schema)
    except ToolError as exc:
        raise InvalidToolSchema(f"invalid schema: {exc}") from None


def api_tool_schema_parse(*, schema: str) -> dict[str, Any]:
    """`tool-provider/api/schema`: the tools a document would give, without saving anything."""
    parsed = _parse(schema)
    return {
        "schema_type": parsed.schema_type,
        "parameters_schema": [bundle.to_dict() for bundle in parsed.bundles],
        "credentials_schema": credentials_schema(),
        "warning": parsed.warnings,
    }


def _clean_credentials(credentials: Mapping[str, Any]) -> dict[str, Any]:
    auth_type = credentials.get("auth_type")
    if not auth_type:
        raise InvalidParam("auth_type is required")
    if auth_type not in AUTH_TYPES:
        raise InvalidParam(f"invalid auth type {auth_type}")
    cleaned = {key: credentials[key] for key in CREDENTIAL_KEYS if key in credentials}
    if auth_type in ("api_key", "api_key_header", "api_key_query") and not isinstance(
        cleaned.get("api_key_value", ""), str
    ):
        raise InvalidParam("api_key_value must be a string")
    return cleaned


def _unmask(submitted: dict[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """A secret sent back exactly as we masked it means "unchanged": keep the stored value."""
    for key in api_tool.SECRET_FIELDS:
        original = stored.get(key)
        if isinstance(original, str) and original and submitted.get(key) == mask(original):
            submitted[key] = original
    return submitted


def _check_schema_type(schema_type: str) -> None:
    if schema_type not in SCHEMA_TYPES:
        raise InvalidParam(f"invalid schema type {schema_type}")


def _bundles_json(parsed: ParsedSchema) -> list[dict[str, Any]]:
    if len(parsed.bundles) > MAX_TOOLS:
        raise InvalidParam("the number of apis should be less than 100")
    return [bundle.to_dict() for bundle in parsed.bundles]


@transaction.atomic
def api_tool_provider_create(
    *,
    tenant: Tenant,
    user: Account | None,
    name: str,
    icon: Mapping[str, Any],
    credentials: Mapping[str, Any],
    schema_type: str,
    schema: str,
    privacy_policy: str = "",
    custom_disclaimer: str = "",
    labels: list[str] | None = None,
) -> ApiToolProvider:
    """Parse the document and save the provider with its tools; the name is unique in the workspace."""
    _check_schema_type(schema_type)
    name = name.strip()
    if not name:
        raise InvalidParam("provider name is required")
    if ApiToolProvider.objects.for_tenant(tenant).filter(name=name).exists():
        raise ApiToolProviderExists(f"provider {name} already exists")
    parsed = _parse(schema)
    row = ApiToolProvider(
        tenant=tenant,
        user=user,
        name=name,
        icon=dict(icon),
        schema=schema,
        schema_type_str=parsed.schema_type,
        description=parsed.description,
        tools=_bundles_json(parsed),
        privacy_policy=privacy_policy or "",
        custom_disclaimer=custom_disclaimer or "",
        labels=list(labels or []),
    )
    row.credentials = _clean_credentials(credentials)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # a concurrent create with the same name
        raise ApiToolProviderExists(f"provider {name} already exists") from None
    return row


@transaction.atomic
def api_tool_provider_update(
    *,
    tenant: Tenant,
    user: Account | None,
    original_name: str,
    name: str,
    icon: Mapping[str, Any],
    credentials: Mapping[str, Any],
    schema_type: str,
    schema: str,
    privacy_policy: str = "",
    custom_disclaimer: str = "",
    labels: list[str] | None = None,
) -> ApiToolProvider:
    """Replace the document, tools and settings of a provider, possibly renaming it."""
    _check_schema_type(schema_type)
    row = api_tool_provider_get(tenant=tenant, name=original_name)
    row = ApiToolProvider.objects.select_for_update().get(pk=row.pk)
    name = name.strip()
    if not name:
        raise InvalidParam("provider name is required")
    if name != row.name and ApiToolProvider.objects.for_tenant(tenant).filter(name=name).exists():
        raise ApiToolProviderExists(f"provider {name} already exists")
    parsed = _parse(schema)
    row.name = name
    row.icon = dict(icon)
    row.schema = schema
    row.schema_type_str = parsed.schema_type
    row.description = parsed.description
    row.tools = _bundles_json(parsed)
    row.privacy_policy = privacy_policy or ""
    row.custom_disclaimer = custom_disclaimer or ""
    if labels is not None:
        row.labels = list(labels)
    row.credentials = _unmask(_clean_credentials(credentials), row.credentials)
    row.save()
    return row


@transaction.atomic
def api_tool_provider_delete(*, tenant: Tenant, name: str) -> None:
    api_tool_provider_get(tenant=tenant, name=name).delete()


def _cast_parameters(bundle: ApiToolBundle, parameters: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(parameters)
    for parameter in bundle.parameters:
        if parameter.name in values and parameter.type not in ("file", "files"):
            values[parameter.name] = parameter.cast(values[parameter.name])
    return values


async def api_tool_test_preview(
    *,
    tenant: Tenant,
    provider_name: str,
    tool_name: str,
    credentials: Mapping[str, Any],
    parameters: Mapping[str, Any],
    schema_type: str,
    schema: str,
) -> dict[str, Any]:
    """`tool-provider/api/test/pre`: call one operation of a document before (or after) saving it.
    Answers `{"result": text}` or, when the call fails, `{"error": message}` (Dify's 200 answer)."""
    _check_schema_type(schema_type)
    parsed = _parse(schema)
    bundle = next((b for b in parsed.bundles if b.operation_id == tool_name), None)
    if bundle is None:
        raise InvalidParam(f"invalid tool name {tool_name}")
    values = _clean_credentials(credentials)
    if provider_name:
        stored = await sync_to_async(_stored_credentials)(tenant, provider_name)
        if stored is not None:
            values = _unmask(values, stored)
    try:
        result = await api_tool.validate(
            bundle, credentials=values, parameters=_cast_parameters(bundle, parameters)
        )
    except (ToolError, ToolParameterValidationError) as exc:
        return {"error": str(exc)}
    return {"result": result or "empty response"}


def _stored_credentials(tenant: Tenant, name: str) -> dict[str, Any] | None:
    row = ApiToolProvider.objects.for_tenant(tenant).filter(name=name).first()
    return row.credentials if row is not None else None


async def api_tool_remote_schema(*, url: str) -> dict[str, str]:
    """`tool-provider/api/remote`: fetch a schema from a URL (guarded) and check that it parses."""
    import httpx

    headers = {"User-Agent": "Mozilla/5.0 (compatible; dify-django)", "Accept": "*/*"}
    try:
        response = await fetch(
            "GET",
            url,
            headers=headers,
            timeouts=httpx.Timeout(10.0),
            max_bytes=int(setting("API_TOOL_MAX_SCHEMA_BYTES", 5 * MB)),
        )
        if response.status_code != 200:
            raise ToolError(f"Got status code {response.status_code}")
        parse_schema(response.text)
    except ToolError:
        raise InvalidParam("invalid schema, please check the url you provided") from None
    return {"schema": response.text}


def api_provider_credentials_masked(row: ApiToolProvider) -> dict[str, Any]:
    return masked_credentials(row.credentials)
