"""Writes and calls for MCP tool providers (Dify's `MCPToolManageService`).

Adding a server saves it without connecting (as Dify: the console then asks for `auth`, which connects,
and `update/<id>`, which lists the tools). Names, server identifiers and URLs are unique in a workspace.
The URL and the headers stay encrypted; an update that sends back the masked URL (`[__HIDDEN__]`) or a
masked header value keeps the stored one. Connecting goes out through the guarded client; a server that
cannot be reached, refuses us, or lists tools whose schemas we cannot read answers 400 with the reason.

A server that answers 401 wants OAuth 2.1 (`mcp_oauth`): `auth` then answers `{"authorization_url"}`
and marks the provider unauthorised; the browser comes back to `mcp/oauth/callback` (or the console
posts `auth` again with `authorization_code`), which stores the tokens and lists the tools.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from accounts.models import Account, Tenant
from dify_project.api.errors import InvalidParam
from dify_project.crypto import mask
from dify_project.db import db_sync_to_async
from providers.tools.exceptions import ToolInvokeError
from providers.tools.mcp_client import McpAuthRequired, McpSchemaError, list_tools
from providers.tools.mcp_oauth import (
    McpOAuthError,
    access_token,
    credentials_of,
    oauth_finish,
    oauth_start,
    pending_state,
)
from providers.tools.mcp_tools import check_tools
from providers.tools.models import MCPToolProvider
from providers.tools.selectors import mcp_provider_get, mcp_server_of

HIDDEN = "[__HIDDEN__]"
SERVER_IDENTIFIER = re.compile(r"^[a-z0-9_-]{1,24}$")
MAX_TIMEOUT = 3600.0


def _url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParam("Server URL is not valid.")
    return url


def _icon(icon: str, icon_type: str, icon_background: str | None) -> str:
    if icon_type == "emoji":
        return json.dumps({"content": icon, "background": icon_background or ""}, ensure_ascii=False)
    return icon


def _timeouts(timeout: float | None, sse_read_timeout: float | None) -> tuple[float | None, float | None]:
    for value in (timeout, sse_read_timeout):
        if value is not None and not (0 < value <= MAX_TIMEOUT):
            raise InvalidParam(f"timeouts must be between 0 and {MAX_TIMEOUT:.0f} seconds")
    return timeout, sse_read_timeout


def _headers(headers: Mapping[str, Any] | None, stored: Mapping[str, str] | None = None) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for key, value in (headers or {}).items():
        key = str(key).strip()
        if not key:
            continue
        if not isinstance(value, str | int | float):
            raise InvalidParam(f"header {key} must be a string")
        text = str(value)
        original = (stored or {}).get(key)
        # A value sent back as we masked it means "unchanged".
        cleaned[key] = original if original and text == mask(original) else text
    return cleaned


def _unique(
    tenant: Tenant, *, name: str, server_identifier: str, url_hash: str | None, exclude: Any = None
) -> None:
    rows = MCPToolProvider.objects.for_tenant(tenant).exclude(pk=exclude)
    if rows.filter(name=name).exists():
        raise InvalidParam(f"MCP tool {name} already exists")
    if url_hash and rows.filter(server_url_hash=url_hash).exists():
        raise InvalidParam("MCP tool with this server URL already exists")
    if rows.filter(server_identifier=server_identifier).exists():
        raise InvalidParam(f"MCP tool {server_identifier} already exists")


def _check_names(name: str, server_identifier: str) -> tuple[str, str]:
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise InvalidParam("name is required (at most 40 characters)")
    if not SERVER_IDENTIFIER.match(server_identifier or ""):
        raise InvalidParam("server_identifier must be 1-24 characters of a-z, 0-9, _ and -")
    return name, server_identifier


@transaction.atomic
def mcp_provider_create(
    *,
    tenant: Tenant,
    user: Account | None,
    server_url: str,
    name: str,
    icon: str,
    icon_type: str,
    icon_background: str | None,
    server_identifier: str,
    timeout: float | None = None,
    sse_read_timeout: float | None = None,
    headers: Mapping[str, Any] | None = None,
) -> MCPToolProvider:
    url = _check_url(server_url)
    name, server_identifier = _check_names(name, server_identifier)
    timeout, sse_read_timeout = _timeouts(timeout, sse_read_timeout)
    _unique(tenant, name=name, server_identifier=server_identifier, url_hash=_url_hash(url))
    row = MCPToolProvider(
        tenant=tenant,
        user=user,
        name=name,
        server_identifier=server_identifier,
        server_url=url,
        server_url_hash=_url_hash(url),
        icon=_icon(icon, icon_type, icon_background),
        timeout=timeout or 30.0,
        sse_read_timeout=sse_read_timeout or 300.0,
    )
    row.headers = _headers(headers)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # a concurrent create with the same name, identifier or URL
        raise InvalidParam(f"MCP tool {name} already exists") from None
    return row


@transaction.atomic
def mcp_provider_update(
    *,
    tenant: Tenant,
    provider_id: str,
    server_url: str,
    name: str,
    icon: str,
    icon_type: str,
    icon_background: str | None,
    server_identifier: str,
    timeout: float | None = None,
    sse_read_timeout: float | None = None,
    headers: Mapping[str, Any] | None = None,
) -> MCPToolProvider:
    """Change a provider. A new URL forgets the tools and the authorisation (they were another server's)."""
    row = mcp_provider_get(tenant=tenant, provider_id=provider_id)
    row = MCPToolProvider.objects.select_for_update().get(pk=row.pk)
    name, server_identifier = _check_names(name, server_identifier)
    timeout, sse_read_timeout = _timeouts(timeout, sse_read_timeout)
    new_url = None if HIDDEN in (server_url or "") else _check_url(server_url)
    if new_url == row.server_url:
        new_url = None
    _unique(
        tenant,
        name=name,
        server_identifier=server_identifier,
        url_hash=_url_hash(new_url) if new_url else None,
        exclude=row.pk,
    )
    row.name, row.server_identifier = name, server_identifier
    row.icon = _icon(icon, icon_type, icon_background)
    if timeout is not None:
        row.timeout = timeout
    if sse_read_timeout is not None:
        row.sse_read_timeout = sse_read_timeout
    if headers is not None:
        row.headers = _headers(headers, row.headers)
    if new_url:
        row.server_url, row.server_url_hash = new_url, _url_hash(new_url)
        row.tools, row.authed, row.encrypted_credentials = [], False, ""
    row.save()
    return row


@transaction.atomic
def mcp_provider_delete(*, tenant: Tenant, provider_id: str) -> None:
    mcp_provider_get(tenant=tenant, provider_id=provider_id).delete()


def _store_tools(tenant: Tenant, provider_id: str, tools: list[dict[str, Any]] | None) -> MCPToolProvider:
    row = mcp_provider_get(tenant=tenant, provider_id=provider_id)
    if tools is None:
        row.authed = False
        row.save(update_fields=["authed", "updated_at"])
    else:
        row.tools, row.authed = tools, True
        row.save(update_fields=["tools", "authed", "updated_at"])
    return row


async def _listed_tools(tenant: Tenant | Any, provider_id: str) -> MCPToolProvider:
    """List and keep the tools; McpAuthRequired passes through (the caller decides what it means)."""
    row = await db_sync_to_async(mcp_provider_get)(tenant=tenant, provider_id=provider_id)
    try:
        tools = check_tools(await list_tools(mcp_server_of(row)))
    except McpAuthRequired:
        await db_sync_to_async(_store_tools)(tenant, provider_id, None)
        raise
    except McpSchemaError as exc:
        await db_sync_to_async(_store_tools)(tenant, provider_id, None)
        raise InvalidParam(f"The MCP server's tool list cannot be read: {exc}") from None
    except ToolInvokeError as exc:
        await db_sync_to_async(_store_tools)(tenant, provider_id, None)
        raise InvalidParam(f"Failed to connect to MCP server: {exc}") from None
    return await db_sync_to_async(_store_tools)(tenant, provider_id, tools)


async def mcp_provider_refresh_tools(*, tenant: Tenant, provider_id: str) -> MCPToolProvider:
    """Connect, list the server's tools and keep them (`update/<id>`). A failure marks the provider
    unauthorised and answers 400 naming the reason; nothing is kept from an unreadable list."""
    try:
        return await _listed_tools(tenant, provider_id)
    except McpAuthRequired as exc:
        raise InvalidParam(str(exc)) from None


async def mcp_provider_authorize(
    *, tenant: Tenant, provider_id: str, redirect_uri: str, authorization_code: str | None = None
) -> dict[str, str]:
    """Dify's `tool-provider/mcp/auth`: `{"result": "success"}` once the server lists its tools to us,
    `{"authorization_url": ...}` when it wants OAuth first. With `authorization_code`, the provider's
    latest pending flow is finished with it. Errors (unreachable, no OAuth metadata, a refused token
    request, no pending flow) answer 400 naming the reason."""
    row = await db_sync_to_async(mcp_provider_get)(tenant=tenant, provider_id=provider_id)
    if authorization_code:
        state = pending_state(tenant_id=row.tenant_id, provider_id=row.id)
        try:
            await oauth_finish(
                state=state or "", code=authorization_code, tenant_id=row.tenant_id, provider_id=row.id
            )
        except McpOAuthError as exc:
            raise InvalidParam(str(exc)) from None
    try:
        await _listed_tools(tenant, provider_id)
    except McpAuthRequired:
        # A token the server stopped accepting before its expiry: one refresh before a new flow.
        if not authorization_code and await _refreshed_once(row):
            return {"result": "success"}
        if authorization_code:
            raise InvalidParam("The MCP server refused the new authorization") from None
        try:
            return {"authorization_url": await oauth_start(row=row, redirect_uri=redirect_uri)}
        except McpOAuthError as exc:
            raise InvalidParam(str(exc)) from None
    return {"result": "success"}


async def _refreshed_once(row: MCPToolProvider) -> bool:
    tokens = credentials_of(row).get("tokens") or {}
    if not tokens.get("refresh_token"):
        return False
    try:
        await access_token(tenant_id=str(row.tenant_id), provider_id=str(row.id), force_refresh=True)
        await _listed_tools(row.tenant_id, str(row.id))
    except ToolInvokeError:
        return False
    return True


async def mcp_oauth_callback(*, state: str, code: str) -> MCPToolProvider:
    """`mcp/oauth/callback`: the browser's way back from the authorization server. The state names the
    workspace and provider (single use, expiring); the code becomes tokens, then the tools are listed.
    A bad state or a refused exchange answers 400."""
    try:
        row = await oauth_finish(state=state, code=code)
    except McpOAuthError as exc:
        raise InvalidParam(str(exc)) from None
    try:
        return await _listed_tools(row.tenant_id, str(row.id))
    except McpAuthRequired as exc:
        raise InvalidParam(str(exc)) from None
