"""Reads for tool providers: the builtin registry and the workspace's API tool providers, shaped as Dify's
console answers them (``ToolProviderApiEntity`` / ``ToolApiEntity``). Every query is scoped to one
workspace; another workspace's provider is simply not found."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from accounts.models import Tenant
from dify_project.crypto import mask
from providers.tools.api_tool import SECRET_FIELDS
from providers.tools.builtin import BUILTIN_PROVIDERS, builtin_provider
from providers.tools.builtin.base import BuiltinProvider
from providers.tools.entities import I18n, provider_dict
from providers.tools.exceptions import ToolProviderNotFound
from providers.tools.mcp_client import McpSchemaError, McpServer
from providers.tools.mcp_oauth import token_source
from providers.tools.mcp_tools import parameters_of
from providers.tools.models import ApiToolProvider, BuiltinToolProvider, MCPToolProvider
from providers.tools.openapi import ApiToolBundle

TenantRef = Tenant | uuid.UUID | str
DEFAULT_ICON = {"background": "#252525", "content": "\U0001f601"}


# --- builtin ---------------------------------------------------------------------------------------------


def builtin_provider_get(*, provider: str) -> BuiltinProvider:
    found = builtin_provider(provider)
    if found is None:
        raise ToolProviderNotFound(f"builtin provider {provider} not found")
    return found


def builtin_icon_url(name: str) -> str:
    base = str(getattr(settings, "CONSOLE_API_URL", "") or "").rstrip("/")
    return f"{base}/console/api/workspaces/current/tool-provider/builtin/{name}/icon"


def builtin_tools_out(provider: BuiltinProvider) -> list[dict[str, Any]]:
    return [tool.spec.to_dict(labels=provider.tags) for tool in provider.tools]


def builtin_authorized(*, tenant: TenantRef) -> set[str]:
    """The builtin providers this workspace has saved a credential for."""
    rows = BuiltinToolProvider.objects.for_tenant(tenant).values_list("provider", flat=True).distinct()
    return set(rows)


def builtin_provider_out(
    provider: BuiltinProvider, *, with_tools: bool = True, authorized: set[str] | None = None
) -> dict[str, Any]:
    # A provider needing no credentials is authorised for the team and cannot be deleted; one needing a
    # key is authorised once the workspace saved one (`authorized`), and its credentials can be deleted.
    needs = provider.needs_credentials
    return provider_dict(
        id=provider.name,
        author=provider.author,
        name=provider.name,
        label=provider.label,
        description=provider.description,
        icon=builtin_icon_url(provider.name),
        type="builtin",
        is_team_authorization=not needs or provider.name in (authorized or set()),
        allow_delete=needs,
        tools=builtin_tools_out(provider) if with_tools else (),
        labels=provider.tags,
    )


def builtin_providers_out(
    *, tenant: TenantRef | None = None, with_tools: bool = True
) -> list[dict[str, Any]]:
    authorized = builtin_authorized(tenant=tenant) if tenant is not None else set()
    return [
        builtin_provider_out(p, with_tools=with_tools, authorized=authorized)
        for p in BUILTIN_PROVIDERS.values()
    ]


# --- API tools -------------------------------------------------------------------------------------------


def api_tool_providers_list(*, tenant: TenantRef) -> list[ApiToolProvider]:
    return list(ApiToolProvider.objects.for_tenant(tenant).select_related("user").order_by("created_at"))


def api_tool_provider_get(*, tenant: TenantRef, name: str) -> ApiToolProvider:
    """By name, as Dify's console addresses API providers."""
    row = ApiToolProvider.objects.for_tenant(tenant).select_related("user").filter(name=name).first()
    if row is None:
        raise ToolProviderNotFound(f"you have not added provider {name}")
    return row


def api_tool_provider_find(*, tenant: TenantRef, provider_id: str) -> ApiToolProvider | None:
    """By id (what a tool node stores) or, for hand-written graphs, by name."""
    rows = ApiToolProvider.objects.for_tenant(tenant)
    try:
        found = rows.filter(id=uuid.UUID(str(provider_id))).first()
    except ValueError:
        found = None
    return found or rows.filter(name=provider_id).first()


def masked_credentials(credentials: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: mask(value) if key in SECRET_FIELDS and isinstance(value, str) else value
        for key, value in credentials.items()
    }


def bundles_of(row: ApiToolProvider) -> list[ApiToolBundle]:
    return [ApiToolBundle.from_dict(item) for item in row.tools or [] if isinstance(item, Mapping)]


def api_tool_out(bundle: ApiToolBundle, labels: list[str]) -> dict[str, Any]:
    """Dify's ToolApiEntity for one operation."""
    return {
        "author": bundle.author,
        "name": bundle.operation_id,
        "label": I18n.plain(bundle.operation_id).to_dict(),
        "description": I18n.plain(bundle.summary or "").to_dict(),
        "parameters": [parameter.to_dict() for parameter in bundle.parameters],
        "labels": list(labels),
        "output_schema": {},
    }


def api_tools_out(row: ApiToolProvider) -> list[dict[str, Any]]:
    return [api_tool_out(bundle, list(row.labels or [])) for bundle in bundles_of(row)]


def api_provider_out(row: ApiToolProvider, *, with_tools: bool = True) -> dict[str, Any]:
    description = I18n(en_US=row.description, zh_Hans=row.description)
    return provider_dict(
        id=str(row.id),
        author=(row.user.name if row.user_id and row.user else "") or "Anonymous",
        name=row.name,
        label=I18n.plain(row.name),
        description=description,
        icon=row.icon or DEFAULT_ICON,
        type="api",
        team_credentials=masked_credentials(row.credentials),
        is_team_authorization=True,
        allow_delete=True,
        tools=api_tools_out(row) if with_tools else (),
        labels=list(row.labels or []),
    )


def api_provider_detail_out(row: ApiToolProvider) -> dict[str, Any]:
    """Dify's `tool-provider/api/get` body."""
    return {
        "schema_type": row.schema_type_str,
        "schema": row.schema,
        "tools": [bundle.to_dict() for bundle in bundles_of(row)],
        "icon": row.icon or DEFAULT_ICON,
        "description": row.description,
        "credentials": masked_credentials(row.credentials),
        "privacy_policy": row.privacy_policy,
        "custom_disclaimer": row.custom_disclaimer,
        "labels": list(row.labels or []),
    }


def tool_providers_out(*, tenant: TenantRef, provider_type: str | None = None) -> list[dict[str, Any]]:
    """`/workspaces/current/tool-providers`: builtin, API, then MCP providers."""
    providers: list[dict[str, Any]] = []
    if provider_type in (None, "", "builtin"):
        providers.extend(builtin_providers_out(tenant=tenant))
    if provider_type in (None, "", "api"):
        providers.extend(api_provider_out(row) for row in api_tool_providers_list(tenant=tenant))
    if provider_type in (None, "", "mcp"):
        providers.extend(mcp_provider_out(row) for row in mcp_providers_list(tenant=tenant))
    return providers


# --- MCP servers -----------------------------------------------------------------------------------------


def mcp_providers_list(*, tenant: TenantRef) -> list[MCPToolProvider]:
    return list(MCPToolProvider.objects.for_tenant(tenant).select_related("user").order_by("-updated_at"))


def mcp_provider_get(*, tenant: TenantRef, provider_id: str) -> MCPToolProvider:
    """By id, as the console addresses MCP providers; another workspace's is not found."""
    row = mcp_provider_find(tenant=tenant, provider_id=provider_id)
    if row is None:
        raise ToolProviderNotFound("MCP tool not found")
    return row


def mcp_provider_find(*, tenant: TenantRef, provider_id: str) -> MCPToolProvider | None:
    """By id, or by server identifier (what Dify's tool nodes and agents store as `provider_id`)."""
    rows = MCPToolProvider.objects.for_tenant(tenant).select_related("user")
    try:
        found = rows.filter(id=uuid.UUID(str(provider_id))).first()
    except ValueError:
        found = None
    return found or rows.filter(server_identifier=provider_id).first()


def mcp_server_of(row: MCPToolProvider) -> McpServer:
    return McpServer(
        url=row.server_url,
        headers=row.headers,
        timeout=row.timeout,
        sse_read_timeout=row.sse_read_timeout,
        token=token_source(row),
    )


def masked_url(url: str) -> str:
    """Dify's `masked_server_url`: scheme and host kept, the path (which often holds a key) hidden."""
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.netloc}/******"
        if parts.path not in ("", "/")
        else f"{parts.scheme}://{parts.netloc}"
    )


def mcp_icon(row: MCPToolProvider) -> Any:
    try:
        value = json.loads(row.icon)
    except ValueError:
        return row.icon
    return value if isinstance(value, dict) else row.icon


def mcp_tool_out(tool: Mapping[str, Any], author: str) -> dict[str, Any]:
    """Dify's `mcp_tool_to_user_tool`; a tool whose schema we cannot read shows no parameters."""
    try:
        parameters = [parameter.to_dict() for parameter in parameters_of(tool)]
    except McpSchemaError:
        parameters = []
    name = str(tool.get("name") or "")
    return {
        "author": author,
        "name": name,
        "label": I18n.plain(name).to_dict(),
        "description": I18n.plain(str(tool.get("description") or "")).to_dict(),
        "parameters": parameters,
        "labels": [],
        "output_schema": dict(tool.get("outputSchema") or {}),
    }


def mcp_provider_out(row: MCPToolProvider, *, for_list: bool = True) -> dict[str, Any]:
    """Dify's ToolProviderApiEntity for an MCP provider (`mcp_provider_to_user_provider`). Secrets
    (the URL's path, header values) are masked; Dify's `original_headers` carries the masked values too."""
    author = (row.user.name if row.user_id and row.user else "") or "Anonymous"
    masked_headers = {
        key: mask(value) if isinstance(value, str) else value for key, value in row.headers.items()
    }
    out = provider_dict(
        id=str(row.id) if for_list else row.server_identifier,
        author=author,
        name=row.name,
        label=I18n.plain(row.name),
        description=I18n.plain(""),
        icon=mcp_icon(row),
        type="mcp",
        is_team_authorization=row.authed,
        allow_delete=True,
        tools=[mcp_tool_out(tool, author) for tool in row.tools or [] if isinstance(tool, Mapping)],
    )
    out.update(
        server_url=masked_url(row.server_url),
        updated_at=int(row.updated_at.timestamp()),
        server_identifier=row.server_identifier,
        timeout=row.timeout,
        sse_read_timeout=row.sse_read_timeout,
        masked_headers=masked_headers,
        original_headers=masked_headers,
    )
    return out
