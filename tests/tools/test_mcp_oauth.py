"""MCP servers that want OAuth 2.1: the console's `auth` answers the authorization URL, the browser comes
back to `mcp/oauth/callback`, the tokens are stored encrypted and used (and refreshed) by tool calls.

The peer is real: an MCP server built with the `mcp` SDK (streamable HTTP) behind the SDK's own OAuth
authorization server (protected resource metadata, authorization server metadata, dynamic client
registration, PKCE), on loopback. The test plays the browser: it opens the authorization URL and
follows the redirect to our callback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Tenant
from providers.tools import mcp_oauth
from providers.tools.models import MCPToolProvider
from tests import factories
from tests.support.mcp_oauth_server import OAuthMcpLoopback
from tests.support.mcp_servers import free_port
from tests.tools.test_mcp import MCP, added, node_event, run_graph, tool_graph
from workflows.engine import NodeFailed

CALLBACK = "/console/api/mcp/oauth/callback"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("allow_private")]


@pytest.fixture
def oauth_server() -> Iterator[OAuthMcpLoopback]:
    with OAuthMcpLoopback() as server:
        yield server


def authorization_url(client: APIClient, provider_id: str) -> str:
    response = client.post(f"{MCP}/auth", {"provider_id": provider_id}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"authorization_url"}, body
    return body["authorization_url"]


def follow(url: str) -> tuple[str, dict[str, str]]:
    """The browser at the authorization server: it approves and redirects back to us."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    return location.path, {key: values[0] for key, values in parse_qs(location.query).items()}


def authorised(client: APIClient, server: OAuthMcpLoopback) -> dict[str, Any]:
    provider = added(client, f"{server.url}/mcp", headers={})
    path, query = follow(authorization_url(client, provider["id"]))
    back = APIClient().get(path, query)  # the browser's return carries no console token
    assert back.status_code == 302, back.content
    return provider


def test_the_console_authorises_a_server_that_wants_oauth_and_keeps_the_tokens_secret(
    owner_client: APIClient, oauth_server: OAuthMcpLoopback
) -> None:
    # given a server that answers 401 until it sees a token
    provider = added(owner_client, f"{oauth_server.url}/mcp", headers={})
    # when the console asks to authorise it
    url = authorization_url(owner_client, provider["id"])
    # then the answer is the authorization server's URL with PKCE, our callback and a state
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{oauth_server.url}/authorize"
    assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"
    assert query["redirect_uri"] == f"http://testserver{CALLBACK}"
    assert query["client_id"] in oauth_server.provider.clients  # registered dynamically (RFC 7591)
    assert query["resource"] == f"{oauth_server.url}/mcp"
    detail = owner_client.get(f"{MCP}/tools/{provider['id']}").json()
    assert detail["is_team_authorization"] is False
    # when the browser approves and comes back to the callback
    path, back_query = follow(url)
    assert path == CALLBACK and back_query["state"] == query["state"]
    back = APIClient().get(path, back_query)
    # then it is sent on to the console, the provider is authorised and its tools listed
    assert back.status_code == 302 and back["Location"].endswith("/oauth-callback")
    detail = owner_client.get(f"{MCP}/tools/{provider['id']}").json()
    assert detail["is_team_authorization"] is True
    assert {tool["name"] for tool in detail["tools"]} == {"add", "shout", "pixel", "fail"}
    # and the tokens and client secret are stored encrypted and never shown
    row = MCPToolProvider.objects.get(id=provider["id"])
    stored = mcp_oauth.credentials_of(row)
    access, secret = stored["tokens"]["access_token"], stored["client_information"]["client_secret"]
    assert access in oauth_server.provider.access and stored["tokens"]["refresh_token"]
    with connection.cursor() as cursor:  # the column itself, not the field's decrypted value
        cursor.execute(f"SELECT encrypted_credentials FROM {MCPToolProvider._meta.db_table}")
        (raw,) = cursor.fetchone()
    assert raw and access not in raw and secret not in raw
    shown = str(detail) + str(owner_client.get("/console/api/workspaces/current/tools/mcp").json())
    assert access not in shown and secret not in shown
    # and authorising again just connects with the stored token
    again = owner_client.post(f"{MCP}/auth", {"provider_id": provider["id"]}, format="json")
    assert again.json() == {"result": "success"}


def test_a_tool_node_calls_the_tool_with_the_token_and_refreshes_an_expired_one(
    owner_client: APIClient, tenant: Tenant, oauth_server: OAuthMcpLoopback
) -> None:
    authorised(owner_client, oauth_server)
    graph = tool_graph({"a": {"type": "constant", "value": 40}, "b": {"type": "constant", "value": 2}})
    # when a workflow's tool node calls the server's tool
    outcome = async_to_sync(run_graph)(str(tenant.id), graph)
    # then it went through with the bearer token
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["text"] == "42"
    assert oauth_server.headers[-1]["authorization"].startswith("Bearer ")
    # given the access token expired (on the server and by its stored expiry)
    oauth_server.provider.expire_access_tokens()
    row = MCPToolProvider.objects.get(tenant=tenant)
    old = mcp_oauth.credentials_of(row)
    old["tokens"]["expires_at"] = int(time.time()) - 5
    row.encrypted_credentials = json.dumps(old)
    row.save()
    # when the node runs again
    again = async_to_sync(run_graph)(str(tenant.id), graph)
    # then the token was refreshed first and the call went through
    assert again.status == "succeeded", again.error
    assert oauth_server.provider.refreshed == 1
    fresh = mcp_oauth.credentials_of(MCPToolProvider.objects.get(tenant=tenant))["tokens"]
    assert fresh["access_token"] != old["tokens"]["access_token"] and fresh["expires_at"] > time.time()


def test_auth_refreshes_a_token_the_server_stopped_accepting_before_a_new_flow(
    owner_client: APIClient, oauth_server: OAuthMcpLoopback
) -> None:
    provider = authorised(owner_client, oauth_server)
    # given the server forgot the access token while its stored expiry is still ahead
    oauth_server.provider.access.clear()
    # when the console authorises again
    response = owner_client.post(f"{MCP}/auth", {"provider_id": provider["id"]}, format="json")
    # then the refresh token got a new one, without sending the user through the browser
    assert response.json() == {"result": "success"}
    assert oauth_server.provider.refreshed == 1


def test_a_tool_call_on_a_provider_not_yet_authorised_fails_clearly(
    owner_client: APIClient, tenant: Tenant, oauth_server: OAuthMcpLoopback
) -> None:
    provider = added(owner_client, f"{oauth_server.url}/mcp", headers={})
    MCPToolProvider.objects.filter(id=provider["id"]).update(
        tools=[{"name": "add", "description": "", "inputSchema": {"type": "object", "properties": {}}}]
    )
    started = time.monotonic()
    outcome = async_to_sync(run_graph)(str(tenant.id), tool_graph({}))
    assert outcome.status == "failed"
    assert "requires authorization" in node_event(outcome, NodeFailed).error
    assert time.monotonic() - started < 10


def test_the_state_is_single_use_expiring_and_bound(
    owner_client: APIClient, oauth_server: OAuthMcpLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = added(owner_client, f"{oauth_server.url}/mcp", headers={})
    path, query = follow(authorization_url(owner_client, provider["id"]))
    # an unknown state is refused
    bad = APIClient().get(path, {**query, "state": "forged"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"
    # the real one works once, then is spent
    assert APIClient().get(path, query).status_code == 302
    reused = APIClient().get(path, query)
    assert reused.status_code == 400 and "already used" in reused.json()["message"]
    # a state past its lifetime is refused, and nothing is stored from it
    MCPToolProvider.objects.filter(id=provider["id"]).update(encrypted_credentials="", authed=False)
    monkeypatch.setattr(mcp_oauth, "STATE_TTL", -1)
    path, query = follow(authorization_url(owner_client, provider["id"]))
    expired = APIClient().get(path, query)
    assert expired.status_code == 400 and "expired" in expired.json()["message"]
    assert not MCPToolProvider.objects.get(id=provider["id"]).encrypted_credentials
    # a state finished through another workspace's `auth` is refused
    monkeypatch.setattr(mcp_oauth, "STATE_TTL", 300)
    _path, query = follow(authorization_url(owner_client, provider["id"]))
    with pytest.raises(mcp_oauth.McpOAuthStateError):
        async_to_sync(mcp_oauth.oauth_finish)(
            state=query["state"], code=query["code"], tenant_id=factories.tenant_factory().id
        )


def test_authorization_code_posted_to_auth_finishes_the_pending_flow(
    owner_client: APIClient, oauth_server: OAuthMcpLoopback
) -> None:
    # Dify's console may post the code itself instead of letting the callback finish.
    provider = added(owner_client, f"{oauth_server.url}/mcp", headers={})
    _path, query = follow(authorization_url(owner_client, provider["id"]))
    body = {"provider_id": provider["id"], "authorization_code": query["code"]}
    response = owner_client.post(f"{MCP}/auth", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"result": "success"}
    assert MCPToolProvider.objects.get(id=provider["id"]).authed is True


def test_a_dead_server_answers_a_clear_400(owner_client: APIClient) -> None:
    provider = added(owner_client, f"http://127.0.0.1:{free_port()}/mcp", headers={})
    started = time.monotonic()
    response = owner_client.post(f"{MCP}/auth", {"provider_id": provider["id"]}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Failed to connect to MCP server")
    assert time.monotonic() - started < 10


def test_the_server_dying_after_authorisation_fails_the_callback_clearly(
    owner_client: APIClient,
) -> None:
    with OAuthMcpLoopback() as server:
        provider = added(owner_client, f"{server.url}/mcp", headers={})
        path, query = follow(authorization_url(owner_client, provider["id"]))
    # the authorization server is gone when the browser comes back
    back = APIClient().get(path, query)
    assert back.status_code == 400
    assert back.json()["message"].startswith("Token request failed")
    assert MCPToolProvider.objects.get(id=provider["id"]).authed is False
