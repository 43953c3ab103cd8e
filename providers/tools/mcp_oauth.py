"""OAuth 2.1 for MCP servers that answer 401, as a console web flow (Dify's `core/mcp/auth`).

The SDK's `OAuthClientProvider` is an `httpx.Auth` that waits in-process for the user to come back
(a redirect handler and a callback handler in one coroutine); a web console instead answers the
authorization URL, and a later request (the browser's redirect to our callback) finishes the exchange.
So the flow is ours, built on the SDK's pieces: its discovery URL orders (RFC 9728 protected resource
metadata, RFC 8414 / OIDC authorization server metadata), its metadata and token models, and its PKCE
generator. Every request goes out through `guarded_client` (the SSRF guard), following no redirects.

1. `oauth_start`: probe the server (its 401 may name the resource metadata), discover the authorization
   server, register a client (RFC 7591, reused while it is the same issuer and redirect URI), make a
   PKCE pair and a state, and answer the authorization URL. The pending flow (verifier, client, endpoints)
   is kept encrypted in the cache under the state, for `STATE_TTL` seconds.
2. `oauth_finish`: the state is popped (single use), must be unexpired and bound to the workspace (and
   provider, when the caller names one); the code is exchanged for tokens, stored encrypted on the
   provider with the client's registration.
3. `token_source(row)`: what a connection asks for its bearer token; a token about to expire is refreshed
   first (a refresh token another call already spent is resolved by re-reading the stored tokens).

Stored (`MCPToolProvider.encrypted_credentials`, ciphertext at rest, never returned):
`{client_information, server_metadata, resource, tokens: {access_token, token_type, refresh_token,
scope, expires_at}}`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
from django.core.cache import cache
from mcp.client.auth.oauth2 import PKCEParameters
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    extract_scope_from_www_auth,
)
from mcp.shared.auth import OAuthMetadata, OAuthToken, ProtectedResourceMetadata
from pydantic import ValidationError

from dify_project.crypto import SecretDecryptionError, decrypt, encrypt
from dify_project.db import db_sync_to_async
from providers.tools.mcp_client import CLIENT_NAME, McpAuthRequired, McpConnectionError, guarded_client
from providers.tools.models import MCPToolProvider

STATE_TTL = 5 * 60  # Dify's OAUTH_STATE_EXPIRY_SECONDS
REFRESH_MARGIN = 60  # refresh a token that expires within this many seconds
HTTP_TIMEOUT = 30.0
_STATE_KEY = "mcp_oauth_state:{}"
_PENDING_KEY = "mcp_oauth_pending:{}:{}"  # tenant, provider -> the latest state (for `authorization_code`)


class McpOAuthError(McpConnectionError):
    """Discovery, registration or a token request failed; the message names the step."""


class McpOAuthStateError(McpOAuthError):
    """The state is unknown, already used, expired or not this workspace's."""


# --- stored credentials ------------------------------------------------------------------------------


def credentials_of(row: MCPToolProvider) -> dict[str, Any]:
    if not row.encrypted_credentials:
        return {}
    try:
        value = json.loads(row.encrypted_credentials)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _save_credentials(row: MCPToolProvider, credentials: dict[str, Any]) -> None:
    row.encrypted_credentials = json.dumps(credentials, sort_keys=True)
    row.save(update_fields=["encrypted_credentials", "updated_at"])


def _tokens_dict(token: OAuthToken, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "access_token": token.access_token,
        "token_type": token.token_type,
        # A refresh answer may omit the refresh token: the old one stays valid (RFC 6749 6).
        "refresh_token": token.refresh_token or (previous or {}).get("refresh_token"),
        "scope": token.scope,
        "expires_at": int(time.time()) + token.expires_in if token.expires_in else None,
    }


# --- HTTP --------------------------------------------------------------------------------------------


def _client() -> httpx2.AsyncClient:
    return guarded_client(timeout=httpx2.Timeout(HTTP_TIMEOUT))


async def _get_json(client: httpx2.AsyncClient, url: str) -> Any | None:
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
    except httpx2.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


async def _discover(
    client: httpx2.AsyncClient, server_url: str
) -> tuple[OAuthMetadata, str | None, str | None]:
    """(authorization server metadata, the resource to ask tokens for, the scope to ask)."""
    try:
        probe = await client.post(
            server_url,
            json={"jsonrpc": "2.0", "id": 0, "method": "ping"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    except httpx2.HTTPError as exc:
        raise McpOAuthError(
            f"Failed to connect to MCP server {server_url}: {exc or type(exc).__name__}"
        ) from None
    scope = extract_scope_from_www_auth(probe) if probe.status_code == 401 else None
    hinted = extract_resource_metadata_from_www_auth(probe) if probe.status_code == 401 else None
    resource_metadata: ProtectedResourceMetadata | None = None
    for url in build_protected_resource_metadata_discovery_urls(hinted, server_url):
        body = await _get_json(client, url)
        if body is None:
            continue
        try:
            resource_metadata = ProtectedResourceMetadata.model_validate(body)
            break
        except ValidationError:
            continue
    auth_server = str(resource_metadata.authorization_servers[0]) if resource_metadata else None
    for url in build_oauth_authorization_server_metadata_discovery_urls(auth_server, server_url):
        body = await _get_json(client, url)
        if body is None:
            continue
        try:
            metadata = OAuthMetadata.model_validate(body)
        except ValidationError:
            continue
        if resource_metadata and scope is None and resource_metadata.scopes_supported:
            scope = " ".join(resource_metadata.scopes_supported)
        return metadata, str(resource_metadata.resource) if resource_metadata else None, scope
    raise McpOAuthError(f"MCP server {server_url} requires authorization but publishes no OAuth metadata")


async def _register(client: httpx2.AsyncClient, metadata: OAuthMetadata, redirect_uri: str) -> dict[str, Any]:
    if not metadata.registration_endpoint:
        raise McpOAuthError(
            "The MCP server's authorization server does not support dynamic client registration"
        )
    methods = metadata.token_endpoint_auth_methods_supported or ["client_secret_post"]
    method = "client_secret_post" if "client_secret_post" in methods else methods[0]
    body = {
        "client_name": CLIENT_NAME,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    }
    try:
        response = await client.post(str(metadata.registration_endpoint), json=body)
    except httpx2.HTTPError as exc:
        raise McpOAuthError(f"Client registration failed: {exc or type(exc).__name__}") from None
    if response.status_code not in (200, 201):
        raise McpOAuthError(f"Client registration failed: HTTP {response.status_code}")
    try:
        info = response.json()
    except ValueError:
        info = None
    if not isinstance(info, dict) or not info.get("client_id"):
        raise McpOAuthError("Client registration answered no client_id")
    return info


async def _token_request(
    client: httpx2.AsyncClient, metadata: dict[str, Any], client_info: dict[str, Any], form: dict[str, str]
) -> OAuthToken:
    form = {**form, "client_id": str(client_info["client_id"])}
    secret = client_info.get("client_secret")
    auth = None
    if secret and client_info.get("token_endpoint_auth_method") == "client_secret_basic":
        auth = httpx2.BasicAuth(str(client_info["client_id"]), str(secret))
    elif secret:
        form["client_secret"] = str(secret)
    try:
        response = await client.post(str(metadata["token_endpoint"]), data=form, auth=auth)
    except httpx2.HTTPError as exc:
        raise McpOAuthError(f"Token request failed: {exc or type(exc).__name__}") from None
    if response.status_code != 200:
        try:
            error = response.json().get("error") or ""
        except (ValueError, AttributeError):
            error = ""
        raise McpOAuthError(f"Token request failed: HTTP {response.status_code} {error}".strip())
    try:
        return OAuthToken.model_validate_json(response.content)
    except ValidationError:
        raise McpOAuthError("Token request answered something that is not an OAuth token") from None


# --- the flow ----------------------------------------------------------------------------------------


async def oauth_start(*, row: MCPToolProvider, redirect_uri: str) -> str:
    """Discover, register (or reuse the registration), keep a pending flow under a fresh state; answer
    the authorization URL the user's browser should open. Raises McpOAuthError."""
    stored = credentials_of(row)
    async with _client() as client:
        metadata, resource, scope = await _discover(client, row.server_url)
        client_info = stored.get("client_information") or {}
        same_client = (
            client_info.get("client_id")
            and (stored.get("server_metadata") or {}).get("issuer") == str(metadata.issuer)
            and redirect_uri in (client_info.get("redirect_uris") or [])
        )
        if not same_client:
            client_info = await _register(client, metadata, redirect_uri)
    pkce = PKCEParameters.generate()
    state = secrets.token_urlsafe(32)
    server_metadata = metadata.model_dump(mode="json", exclude_none=True)
    pending = {
        "tenant_id": str(row.tenant_id),
        "provider_id": str(row.id),
        "server_url_hash": row.server_url_hash,
        "code_verifier": pkce.code_verifier,
        "redirect_uri": redirect_uri,
        "client_information": client_info,
        "server_metadata": server_metadata,
        "resource": resource,
        "expires_at": time.time() + STATE_TTL,
    }
    # Encrypted: the pending flow holds the client secret and the PKCE verifier.
    cache.set(_STATE_KEY.format(state), encrypt(json.dumps(pending)), timeout=max(STATE_TTL, 1))
    cache.set(_PENDING_KEY.format(row.tenant_id, row.id), state, timeout=max(STATE_TTL, 1))
    query = {
        "response_type": "code",
        "client_id": str(client_info["client_id"]),
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": pkce.code_challenge,
        "code_challenge_method": "S256",
        **({"scope": scope} if scope else {}),
        **({"resource": resource} if resource else {}),
    }
    endpoint = str(metadata.authorization_endpoint)
    return f"{endpoint}{'&' if urlsplit(endpoint).query else '?'}{urlencode(query)}"


def pending_state(*, tenant_id: Any, provider_id: Any) -> str | None:
    """The state of the provider's latest flow (Dify's `authorization_code` path names no state)."""
    return cache.get(_PENDING_KEY.format(tenant_id, provider_id))


def _pop_state(state: str) -> dict[str, Any]:
    key = _STATE_KEY.format(state)
    sealed = cache.get(key) if state else None
    # `delete` answers whether this caller removed it: of two racing callbacks only one proceeds.
    if not sealed or not cache.delete(key):
        raise McpOAuthStateError("The authorization state is invalid or was already used")
    try:
        pending = json.loads(decrypt(sealed))
    except (SecretDecryptionError, ValueError):
        raise McpOAuthStateError("The authorization state is invalid or was already used") from None
    if float(pending.get("expires_at") or 0) < time.time():
        raise McpOAuthStateError("The authorization state has expired; authorize again")
    return pending


def _load_row(tenant_id: str, provider_id: str) -> MCPToolProvider | None:
    return MCPToolProvider.objects.filter(tenant_id=tenant_id, id=provider_id).first()


async def oauth_finish(
    *, state: str, code: str, tenant_id: Any = None, provider_id: Any = None
) -> MCPToolProvider:
    """Spend the state, exchange the code, store the tokens; the provider they belong to. A state of
    another workspace or provider (when given), or of a provider whose URL changed since, is refused."""
    pending = _pop_state(state)
    if tenant_id is not None and pending["tenant_id"] != str(tenant_id):
        raise McpOAuthStateError("The authorization state is invalid or was already used")
    if provider_id is not None and pending["provider_id"] != str(provider_id):
        raise McpOAuthStateError("The authorization state is invalid or was already used")
    row = await db_sync_to_async(_load_row)(pending["tenant_id"], pending["provider_id"])
    if row is None or row.server_url_hash != pending["server_url_hash"]:
        raise McpOAuthStateError("The MCP provider changed since authorization started; authorize again")
    if not code:
        raise McpOAuthError("The authorization server returned no code")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending["redirect_uri"],
        "code_verifier": pending["code_verifier"],
        **({"resource": pending["resource"]} if pending.get("resource") else {}),
    }
    async with _client() as client:
        token = await _token_request(client, pending["server_metadata"], pending["client_information"], form)
    credentials = {
        "client_information": pending["client_information"],
        "server_metadata": pending["server_metadata"],
        "resource": pending.get("resource"),
        "tokens": _tokens_dict(token),
    }
    await db_sync_to_async(_save_credentials)(row, credentials)
    return row


async def _refreshed(tenant_id: str, provider_id: str, credentials: dict[str, Any]) -> dict[str, Any]:
    tokens = credentials["tokens"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": str(tokens["refresh_token"]),
        **({"resource": credentials["resource"]} if credentials.get("resource") else {}),
    }
    try:
        async with _client() as client:
            token = await _token_request(
                client, credentials["server_metadata"], credentials["client_information"], form
            )
    except McpOAuthError:
        # Another call may have spent this refresh token a moment ago: its tokens are stored.
        row = await db_sync_to_async(_load_row)(tenant_id, provider_id)
        latest = credentials_of(row).get("tokens") if row else None
        if latest and latest.get("access_token") != tokens.get("access_token") and not _stale(latest):
            return latest
        raise McpAuthRequired(
            "The MCP server's authorization has expired; authorize the provider again"
        ) from None
    fresh = _tokens_dict(token, tokens)

    def save() -> None:
        row = _load_row(tenant_id, provider_id)
        if row is not None:
            _save_credentials(row, {**credentials_of(row), "tokens": fresh})

    await db_sync_to_async(save)()
    return fresh


def _stale(tokens: dict[str, Any]) -> bool:
    expires_at = tokens.get("expires_at")
    return bool(expires_at) and float(expires_at) - REFRESH_MARGIN <= time.time()


async def access_token(*, tenant_id: str, provider_id: str, force_refresh: bool = False) -> str | None:
    """The provider's bearer token, refreshed first when it is about to expire; None without tokens."""
    row = await db_sync_to_async(_load_row)(tenant_id, provider_id)
    credentials = credentials_of(row) if row else {}
    tokens = credentials.get("tokens")
    if not tokens or not tokens.get("access_token"):
        return None
    if (force_refresh or _stale(tokens)) and tokens.get("refresh_token"):
        tokens = await _refreshed(tenant_id, provider_id, credentials)
    elif _stale(tokens):
        raise McpAuthRequired("The MCP server's authorization has expired; authorize the provider again")
    return str(tokens["access_token"])


def token_source(row: MCPToolProvider) -> Callable[[], Awaitable[str | None]] | None:
    """For `McpServer.token`: None for a provider that holds no OAuth tokens."""
    if not (credentials_of(row).get("tokens") or {}).get("access_token"):
        return None
    tenant_id, provider_id = str(row.tenant_id), str(row.id)

    async def source() -> str | None:
        return await access_token(tenant_id=tenant_id, provider_id=provider_id)

    return source
