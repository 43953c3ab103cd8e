"""Credentials of builtin tools that need keys (the `tavily` search tool), through the console's
builtin-provider endpoints against a loopback Tavily: a real check call before saving (a refused key is
400 in Dify's body and nothing is stored), encrypted at rest, masked in answers, hidden secrets kept on
update, and the key used by the tool's calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Tenant
from providers.tools.models import BuiltinToolProvider
from tests import factories
from tests.tools.conftest import LoopbackServer, Recorded, Reply, call_tool, texts

B = "/console/api/workspaces/current/tool-provider/builtin/tavily"
KEY = "tvly-live-0123456789abcdef"
ANSWER = {
    "query": "tides",
    "answer": None,
    "images": [],
    "results": [
        {
            "title": "Tide tables",
            "url": "https://example.com/tides",
            "content": "Tides rise twice a day.",
            "score": 0.9,
        }
    ],
    "response_time": 0.4,
}


@pytest.fixture
def tavily(http_server: LoopbackServer, allow_private: None, settings: Any) -> LoopbackServer:
    """A loopback Tavily that accepts only KEY."""
    settings.TAVILY_API_URL = http_server.url

    def search(request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return Reply(401, {"detail": {"error": "Unauthorized: missing or invalid API key."}})
        return Reply(200, {**ANSWER, "query": request.json()["query"]})

    http_server.route("POST", "/search", search)
    return http_server


def raw(row_id: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encrypted_credentials FROM providers_builtintoolprovider WHERE id = %s",
            [row_id.hex if connection.vendor == "sqlite" else str(row_id)],
        )
        return cursor.fetchone()[0]


def test_a_key_is_checked_stored_encrypted_and_masked(
    owner_client: APIClient, tenant: Tenant, tavily
) -> None:
    # given no credential yet: the provider is listed as needing authorization
    listed = {p["name"]: p for p in owner_client.get("/console/api/workspaces/current/tool-providers").json()}
    assert listed["tavily"]["is_team_authorization"] is False and listed["tavily"]["allow_delete"] is True
    schema = owner_client.get(f"{B}/credential/schema/api-key").json()
    assert [(f["name"], f["type"], f["required"]) for f in schema] == [
        ("tavily_api_key", "secret-input", True)
    ]
    assert owner_client.get(f"{B}/credentials_schema").json() == schema
    # when a good key is added
    response = owner_client.post(
        f"{B}/add", {"credentials": {"tavily_api_key": KEY}, "type": "api-key"}, format="json"
    )
    # then it was checked with a real search, and stored encrypted
    assert response.status_code == 200, response.json()
    assert response.json() == {"result": "success"}
    assert (
        tavily.requests[-1].path == "/search"
        and tavily.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    )
    row = BuiltinToolProvider.objects.for_tenant(tenant).get(provider="tavily")
    assert row.name == "API KEY 1" and row.is_default and KEY not in raw(row.id)
    # and the answers mask it, as Dify does
    (credential,) = owner_client.get(f"{B}/credentials").json()
    assert credential == {
        "id": str(row.id),
        "name": "API KEY 1",
        "provider": "tavily",
        "credential_type": "api-key",
        "is_default": True,
        "credentials": {"tavily_api_key": "tv" + "*" * (len(KEY) - 4) + "ef"},
    }
    info = owner_client.get(f"{B}/credential/info").json()
    assert info["supported_credential_types"] == ["api-key"] and info["credentials"] == [credential]
    assert KEY not in json.dumps(info)
    provider = owner_client.get(f"{B}/info").json()
    assert provider["is_team_authorization"] is True


def test_a_refused_key_is_400_and_not_stored(owner_client: APIClient, tenant: Tenant, tavily) -> None:
    response = owner_client.post(
        f"{B}/add", {"credentials": {"tavily_api_key": "tvly-wrong-key"}}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_param" and body["status"] == 400 and "401" in body["message"]
    assert not BuiltinToolProvider.objects.for_tenant(tenant).exists()
    # a missing key never reaches Tavily
    before = len(tavily.requests)
    missing = owner_client.post(f"{B}/add", {"credentials": {}}, format="json")
    assert missing.status_code == 400 and "tavily_api_key" in missing.json()["message"]
    assert len(tavily.requests) == before
    # a provider that needs no key refuses one
    assert (
        owner_client.post(
            "/console/api/workspaces/current/tool-provider/builtin/time/add",
            {"credentials": {"x": "y"}},
            format="json",
        ).json()["message"]
        == "provider time does not need credentials"
    )


def test_update_keeps_a_hidden_secret_and_checks_a_new_one(
    owner_client: APIClient, tenant: Tenant, tavily
) -> None:
    owner_client.post(f"{B}/add", {"credentials": {"tavily_api_key": KEY}}, format="json")
    row = BuiltinToolProvider.objects.for_tenant(tenant).get(provider="tavily")
    masked = owner_client.get(f"{B}/credentials").json()[0]["credentials"]["tavily_api_key"]
    # renaming with the secret sent back masked (or as Dify's hidden value) keeps the stored key
    for value in (masked, "[__HIDDEN__]"):
        response = owner_client.post(
            f"{B}/update",
            {"credential_id": str(row.id), "credentials": {"tavily_api_key": value}, "name": "Main"},
            format="json",
        )
        assert response.status_code == 200, response.json()
        row.refresh_from_db()
        assert row.credentials == {"tavily_api_key": KEY} and row.name == "Main"
    # a new key that Tavily refuses is 400 and the old one stays
    refused = owner_client.post(
        f"{B}/update",
        {"credential_id": str(row.id), "credentials": {"tavily_api_key": "tvly-other"}},
        format="json",
    )
    assert refused.status_code == 400
    row.refresh_from_db()
    assert row.credentials == {"tavily_api_key": KEY}


def test_the_tool_calls_tavily_with_the_default_key(owner_client: APIClient, tenant: Tenant, tavily) -> None:
    # without a credential the tool says what is missing
    with pytest.raises(Exception, match="needs credentials"):
        _search(tenant)
    owner_client.post(f"{B}/add", {"credentials": {"tavily_api_key": KEY}}, format="json")
    messages = _search(tenant)
    assert "# Tide tables" in texts(messages) and "**URL:** https://example.com/tides" in texts(messages)
    assert [m.type for m in messages] == ["text", "json"] and messages[1].data["query"] == "tide tables"
    sent = tavily.requests[-1].json()
    assert sent["query"] == "tide tables" and sent["max_results"] == 3 and sent["search_depth"] == "basic"


def _search(tenant: Tenant) -> list:
    from asgiref.sync import async_to_sync

    return async_to_sync(call_tool)(
        "tavily",
        "tavily_search",
        {"query": "tide tables"},
        configurations={"max_results": 3},
        tenant_id=str(tenant.id),
    )


def test_delete_default_and_roles(
    owner_client: APIClient, tenant: Tenant, tavily, member_client, client_for
) -> None:
    for name in ("One", "Two"):
        owner_client.post(f"{B}/add", {"credentials": {"tavily_api_key": KEY}, "name": name}, format="json")
    duplicate = owner_client.post(
        f"{B}/add", {"credentials": {"tavily_api_key": KEY}, "name": "One"}, format="json"
    )
    assert duplicate.status_code == 400 and "already used" in duplicate.json()["message"]
    one, two = owner_client.get(f"{B}/credentials").json()
    assert (one["name"], one["is_default"], two["is_default"]) == ("One", True, False)
    assert owner_client.post(f"{B}/default-credential", {"id": two["id"]}, format="json").status_code == 200
    assert owner_client.get(f"{B}/credentials").json()[0]["name"] == "Two"
    # an editor may not change credentials; another workspace does not see them
    editor = member_client("editor")
    assert editor.post(f"{B}/delete", {"credential_id": two["id"]}, format="json").status_code == 403
    other = factories.tenant_factory(name="Other")
    outsider = client_for(factories.member_factory(tenant=other, role="owner"))
    assert outsider.get(f"{B}/credentials").json() == []
    assert outsider.post(f"{B}/delete", {"credential_id": two["id"]}, format="json").status_code == 400
    assert owner_client.post(f"{B}/delete", {"credential_id": two["id"]}, format="json").status_code == 200
    (left,) = owner_client.get(f"{B}/credentials").json()
    assert left["name"] == "One" and left["is_default"] is True
    gone = owner_client.post(f"{B}/delete", {"credential_id": two["id"]}, format="json")
    assert gone.status_code == 400 and gone.json()["message"] == "you have not added provider tavily"
