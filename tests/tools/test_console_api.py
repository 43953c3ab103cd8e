"""The console's tool-provider endpoints: Dify's paths and shapes, roles, workspace isolation, secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Account, Tenant, TenantRole
from providers.tools.models import ApiToolProvider
from tests import factories
from tests.tools.conftest import LoopbackServer, Reply
from tests.tools.schemas import PETSTORE_OPENAPI, echo_api

BASE = "/console/api/workspaces/current"
API = f"{BASE}/tool-provider/api"
KEY = "sk-live-abcdef123456"
ICON = {"background": "#FFEAD5", "content": "🐾"}


def add_body(name: str = "petstore", schema: str = PETSTORE_OPENAPI, **extra: Any) -> dict[str, Any]:
    return {
        "provider": name,
        "icon": ICON,
        "credentials": {"auth_type": "api_key", "api_key_header": "X-Key", "api_key_value": KEY},
        "schema_type": "openapi",
        "schema": schema,
        "privacy_policy": "https://example.com/privacy",
        "custom_disclaimer": "Use with care",
        "labels": ["utilities"],
        **extra,
    }


def raw_credentials(row_id: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encrypted_credentials FROM providers_apitoolprovider WHERE id = %s",
            [row_id.hex if connection.vendor == "sqlite" else str(row_id)],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return factories.tenant_factory(name="Other workspace")


# --- builtin providers -----------------------------------------------------------------------------------


def test_provider_list_has_difys_fields_for_builtin_providers(owner_client: APIClient) -> None:
    response = owner_client.get(f"{BASE}/tool-providers")
    assert response.status_code == 200
    providers = {p["name"]: p for p in response.json()}
    assert {"time", "json_process", "webscraper", "maths"} <= set(providers)
    time = providers["time"]
    assert set(time) >= {
        "id",
        "author",
        "name",
        "label",
        "description",
        "icon",
        "type",
        "team_credentials",
        "is_team_authorization",
        "allow_delete",
        "tools",
        "labels",
    }
    assert (time["id"], time["type"], time["is_team_authorization"], time["allow_delete"]) == (
        "time",
        "builtin",
        True,
        False,
    )
    assert time["label"]["en_US"] == "CurrentTime" and time["label"]["zh_Hans"] == "时间"
    assert time["icon"].endswith("/console/api/workspaces/current/tool-provider/builtin/time/icon")
    assert [t["name"] for t in time["tools"]] == [
        "current_time",
        "weekday",
        "timezone_conversion",
        "localtime_to_timestamp",
        "timestamp_to_localtime",
    ]
    assert owner_client.get(f"{BASE}/tool-providers", {"type": "api"}).json() == []
    assert owner_client.get(f"{BASE}/tool-providers", {"type": "nope"}).status_code == 400


@pytest.mark.parametrize("provider", ["time", "langgenius/time/time"])
def test_builtin_tools_have_difys_parameter_schema(
    member_client: Callable[[str], APIClient], provider: str
) -> None:
    # any member reads
    response = member_client(TenantRole.NORMAL).get(f"{BASE}/tool-provider/builtin/{provider}/tools")
    assert response.status_code == 200
    current = response.json()[0]
    assert current["name"] == "current_time"
    timezone = next(p for p in current["parameters"] if p["name"] == "timezone")
    assert (timezone["type"], timezone["form"], timezone["default"], timezone["required"]) == (
        "select",
        "form",
        "UTC",
        False,
    )
    assert timezone["options"][1] == {
        "value": "America/New_York",
        "label": {
            "en_US": "America/New_York",
            "zh_Hans": "美洲/纽约",
            "pt_BR": "America/New_York",
            "ja_JP": "America/New_York",
        },
        "icon": None,
    }
    assert set(timezone) >= {"human_description", "llm_description", "placeholder", "min", "max", "label"}


def test_builtin_provider_info_credentials_and_unknown_providers(owner_client: APIClient) -> None:
    assert owner_client.get(f"{BASE}/tool-provider/builtin/maths/info").json()["name"] == "maths"
    assert (
        owner_client.get(f"{BASE}/tool-provider/builtin/maths/credentials").json() == []
    )  # Dify 1.x: a list of credentials
    assert owner_client.get(f"{BASE}/tool-provider/builtin/maths/credential/info").json()["credentials"] == []
    response = owner_client.get(f"{BASE}/tool-provider/builtin/nope/tools")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "builtin provider nope not found",
        "status": 404,
    }


def test_builtin_icons_are_public_svg(api_client: APIClient) -> None:
    response = api_client.get(f"{BASE}/tool-provider/builtin/langgenius/webscraper/webscraper/icon")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")


def test_tool_lists_need_a_login(api_client: APIClient, db: None) -> None:
    assert api_client.get(f"{BASE}/tools/builtin").status_code == 401


def test_tools_builtin_api_and_workflow_lists(owner_client: APIClient) -> None:
    builtin = owner_client.get(f"{BASE}/tools/builtin").json()
    assert {p["name"] for p in builtin} == {"time", "json_process", "webscraper", "maths", "tavily"}
    assert owner_client.post(f"{API}/add", add_body(), format="json").status_code == 200
    api = owner_client.get(f"{BASE}/tools/api").json()
    assert [p["name"] for p in api] == ["petstore"]
    assert api[0]["type"] == "api" and api[0]["icon"] == ICON and api[0]["author"]
    assert api[0]["description"]["en_US"] == "A pet store with inventory and orders."
    assert api[0]["team_credentials"]["api_key_value"] != KEY
    assert [t["name"] for t in api[0]["tools"]][:2] == ["listPets", "createPet"]
    assert owner_client.get(f"{BASE}/tools/workflow").json() == []
    assert owner_client.get(f"{BASE}/tools/mcp").json() == []


# --- API providers ---------------------------------------------------------------------------------------


def test_an_owner_adds_an_api_provider_stored_encrypted_and_read_masked(
    owner_client: APIClient, tenant: Tenant
) -> None:
    # when an owner adds a provider
    response = owner_client.post(f"{API}/add", add_body(), format="json")
    # then Dify's answer, one row in this workspace with the key encrypted at rest
    assert response.status_code == 200 and response.json() == {"result": "success"}
    row = ApiToolProvider.objects.for_tenant(tenant).get(name="petstore")
    stored = raw_credentials(row.id)
    assert stored.startswith("enc:v1:") and KEY not in stored
    assert row.credentials["api_key_value"] == KEY
    assert len(row.tools) == 4 and row.schema_type_str == "openapi"
    # and reads mask the key
    detail = owner_client.get(f"{API}/get", {"provider": "petstore"}).json()
    assert detail["credentials"] == {
        "auth_type": "api_key",
        "api_key_header": "X-Key",
        "api_key_value": "sk-liv************56",
    }
    assert detail["schema"] == PETSTORE_OPENAPI and detail["schema_type"] == "openapi"
    assert (detail["privacy_policy"], detail["custom_disclaimer"], detail["labels"]) == (
        "https://example.com/privacy",
        "Use with care",
        ["utilities"],
    )
    assert detail["tools"][0]["operation_id"] == "listPets"
    tools = owner_client.get(f"{API}/tools", {"provider": "petstore"}).json()
    assert tools[0]["name"] == "listPets" and tools[0]["description"]["en_US"] == "List pets"
    assert tools[0]["labels"] == ["utilities"]
    assert KEY not in json.dumps(owner_client.get(f"{BASE}/tool-providers").json())


def test_updates_keep_a_key_sent_back_masked(owner_client: APIClient, tenant: Tenant) -> None:
    owner_client.post(f"{API}/add", add_body(), format="json")
    masked = owner_client.get(f"{API}/get", {"provider": "petstore"}).json()["credentials"]
    # when the form is saved with the masked key and a new name
    body = add_body(name="pets", credentials=masked, original_provider="petstore")
    assert owner_client.post(f"{API}/update", body, format="json").json() == {"result": "success"}
    # then the stored key is unchanged and the provider renamed
    row = ApiToolProvider.objects.for_tenant(tenant).get()
    assert (row.name, row.credentials["api_key_value"]) == ("pets", KEY)
    # and a new key replaces it
    body = add_body(
        name="pets",
        original_provider="pets",
        credentials={"auth_type": "api_key", "api_key_value": "new-key-999999"},
    )
    owner_client.post(f"{API}/update", body, format="json")
    row.refresh_from_db()
    assert row.credentials == {"auth_type": "api_key", "api_key_value": "new-key-999999"}


def test_bad_input_answers_invalid_param(owner_client: APIClient) -> None:
    owner_client.post(f"{API}/add", add_body(), format="json")
    duplicate = owner_client.post(f"{API}/add", add_body(), format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["message"] == "provider petstore already exists"
    broken = owner_client.post(
        f"{API}/add", add_body(name="b", schema="openapi: 3.0.0\npaths: {}"), format="json"
    )
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_param"
    assert broken.json()["message"].startswith("invalid schema: ")
    no_auth = owner_client.post(f"{API}/add", add_body(name="c", credentials={}), format="json")
    assert (no_auth.status_code, no_auth.json()["message"]) == (400, "auth_type is required")
    bad_type = owner_client.post(f"{API}/add", add_body(name="d", schema_type="graphql"), format="json")
    assert bad_type.json()["message"] == "invalid schema type graphql"
    assert ApiToolProvider.objects.count() == 1


@pytest.mark.parametrize("role", [TenantRole.EDITOR, TenantRole.NORMAL, TenantRole.DATASET_OPERATOR])
def test_only_owners_and_admins_manage_api_providers(
    member_client: Callable[[str], APIClient], owner_client: APIClient, role: str
) -> None:
    owner_client.post(f"{API}/add", add_body(), format="json")
    client = member_client(role)
    assert client.post(f"{API}/add", add_body(name="mine"), format="json").status_code == 403
    assert (
        client.post(f"{API}/update", add_body(original_provider="petstore"), format="json").status_code == 403
    )
    assert client.post(f"{API}/delete", {"provider": "petstore"}, format="json").status_code == 403
    # everyone reads
    assert client.get(f"{API}/get", {"provider": "petstore"}).status_code == 200
    assert ApiToolProvider.objects.count() == 1


def test_an_admin_deletes(member_client: Callable[[str], APIClient], owner_client: APIClient) -> None:
    owner_client.post(f"{API}/add", add_body(), format="json")
    admin = member_client(TenantRole.ADMIN)
    assert admin.post(f"{API}/delete", {"provider": "petstore"}, format="json").json() == {
        "result": "success"
    }
    assert ApiToolProvider.objects.count() == 0
    assert admin.post(f"{API}/delete", {"provider": "petstore"}, format="json").status_code == 404


def test_another_workspace_sees_nothing(
    owner_client: APIClient, other_tenant: Tenant, client_for: Callable[[Account], APIClient]
) -> None:
    owner_client.post(f"{API}/add", add_body(), format="json")
    stranger = client_for(factories.member_factory(tenant=other_tenant, role=TenantRole.OWNER))
    assert stranger.get(f"{API}/get", {"provider": "petstore"}).status_code == 404
    assert stranger.get(f"{API}/tools", {"provider": "petstore"}).status_code == 404
    assert stranger.post(f"{API}/delete", {"provider": "petstore"}, format="json").status_code == 404
    assert (
        stranger.post(f"{API}/update", add_body(original_provider="petstore"), format="json").status_code
        == 404
    )
    assert stranger.get(f"{BASE}/tool-providers", {"type": "api"}).json() == []
    assert stranger.get(f"{BASE}/tools/api").json() == []
    # the same name is free in the other workspace
    assert stranger.post(f"{API}/add", add_body(), format="json").status_code == 200
    assert ApiToolProvider.objects.count() == 2


# --- schema, test call, remote schema --------------------------------------------------------------------


def test_any_member_parses_a_schema(member_client: Callable[[str], APIClient]) -> None:
    response = member_client(TenantRole.NORMAL).post(
        f"{API}/schema", {"schema": PETSTORE_OPENAPI}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["schema_type"] == "openapi"
    assert [b["operation_id"] for b in body["parameters_schema"]][:2] == ["listPets", "createPet"]
    assert [c["name"] for c in body["credentials_schema"]] == ["auth_type", "api_key_header", "api_key_value"]
    assert body["warning"] == {}
    assert ApiToolProvider.objects.count() == 0


def test_the_test_call_reaches_the_api(
    member_client: Callable[[str], APIClient], http_server: LoopbackServer, allow_private: None
) -> None:
    http_server.route(
        "POST", "/items/9", lambda r: Reply(200, {"count": r.json()["count"], "key": r.headers.get("x-key")})
    )
    editor = member_client(TenantRole.EDITOR)
    body = {
        "tool_name": "updateItem",
        "provider_name": "",
        "credentials": {"auth_type": "api_key", "api_key_header": "X-Key", "api_key_value": "k"},
        "parameters": {"itemId": "9", "count": "5"},
        "schema_type": "openapi",
        "schema": echo_api(http_server.url),
    }
    response = editor.post(f"{API}/test/pre", body, format="json")
    assert response.status_code == 200
    assert json.loads(response.json()["result"]) == {"count": 5, "key": "k"}
    # an upstream failure is Dify's 200 with `error`
    http_server.route("GET", "/fail", Reply(500, "boom"))
    failed = editor.post(f"{API}/test/pre", {**body, "tool_name": "fail", "parameters": {}}, format="json")
    assert failed.json() == {"error": "Request failed with status code 500 and boom"}
    unknown = editor.post(f"{API}/test/pre", {**body, "tool_name": "nope"}, format="json")
    assert (unknown.status_code, unknown.json()["message"]) == (400, "invalid tool name nope")
    # plain members may not make the platform call out
    assert member_client(TenantRole.NORMAL).post(f"{API}/test/pre", body, format="json").status_code == 403


def test_the_test_call_of_a_saved_provider_uses_its_stored_key(
    owner_client: APIClient, http_server: LoopbackServer, allow_private: None
) -> None:
    schema = echo_api(http_server.url)
    owner_client.post(f"{API}/add", add_body(name="echo", schema=schema), format="json")
    masked = owner_client.get(f"{API}/get", {"provider": "echo"}).json()["credentials"]
    http_server.route("GET", "/text", lambda r: Reply(200, r.headers.get("x-key", "")))
    body = {
        "tool_name": "getText",
        "provider_name": "echo",
        "credentials": masked,
        "parameters": {},
        "schema_type": "openapi",
        "schema": schema,
    }
    assert owner_client.post(f"{API}/test/pre", body, format="json").json() == {"result": KEY}


def test_the_test_call_is_guarded(
    owner_client: APIClient, http_server: LoopbackServer, ssrf_strict: None
) -> None:
    body = {
        "tool_name": "getText",
        "credentials": {"auth_type": "none"},
        "parameters": {},
        "schema_type": "openapi",
        "schema": echo_api(http_server.url),
    }
    answer = owner_client.post(f"{API}/test/pre", body, format="json").json()
    assert "is not allowed" in answer["error"]
    assert http_server.requests == []


def test_a_remote_schema_is_fetched_and_checked(
    owner_client: APIClient, http_server: LoopbackServer, settings: Any, ssrf_strict: None
) -> None:
    http_server.route("GET", "/openapi.yaml", Reply(200, PETSTORE_OPENAPI))
    http_server.route("GET", "/junk", Reply(200, "not a schema"))
    url = f"{http_server.url}/openapi.yaml"
    blocked = owner_client.get(f"{API}/remote", {"url": url})
    assert (blocked.status_code, blocked.json()["message"]) == (
        400,
        "invalid schema, please check the url you provided",
    )
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]
    assert owner_client.get(f"{API}/remote", {"url": url}).json() == {"schema": PETSTORE_OPENAPI}
    assert owner_client.get(f"{API}/remote", {"url": f"{http_server.url}/junk"}).status_code == 400
