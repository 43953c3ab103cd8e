"""Custom API tools called over real HTTP, against a loopback server."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from accounts.models import Tenant
from providers.tools import api_tool
from providers.tools.exceptions import (
    ToolInvokeError,
    ToolNotFoundError,
    ToolParameterValidationError,
    ToolProviderCredentialValidationError,
    ToolProviderNotFoundError,
)
from providers.tools.models import ApiToolProvider
from providers.tools.openapi import ApiToolBundle, parse_schema
from providers.tools.port import TenantToolPort
from tests import factories
from tests.tools.conftest import LoopbackServer, MemoryFiles, Recorded, Reply, call_tool, texts
from tests.tools.schemas import echo_api

NO_AUTH = {"auth_type": "none"}


def bundle(server: LoopbackServer, operation_id: str) -> ApiToolBundle:
    return next(b for b in parse_schema(echo_api(server.url)).bundles if b.operation_id == operation_id)


async def run(server: LoopbackServer, operation_id: str, parameters: dict[str, Any], **kwargs: Any) -> list:
    credentials = kwargs.pop("credentials", NO_AUTH)
    messages = api_tool.invoke(
        bundle(server, operation_id), credentials=credentials, parameters=parameters, **kwargs
    )
    return [message async for message in messages]


async def test_parameters_go_to_path_query_header_and_typed_body(
    http_server: LoopbackServer, allow_private: None
) -> None:
    # given an operation with every parameter location and a JSON body
    http_server.route("POST", "/items/a%2Fb", Reply(200, {"ok": True}))
    # when it is called with values as a workflow renders them (text)
    messages = await run(
        http_server,
        "updateItem",
        {
            "itemId": "a/b",
            "verbose": True,
            "X-Trace": "t-1",
            "count": "3",
            "ratio": "0.5",
            "active": "false",
            "tags": '["x"]',
        },
        credentials={
            "auth_type": "api_key",
            "api_key_header": "Authorization",
            "api_key_value": "k-123",
            "api_key_header_prefix": "bearer",
        },
    )
    # then each value went where the document says, converted to its schema type
    request = http_server.requests[-1]
    assert request.path == "/items/a%2Fb"  # a path value cannot escape its segment
    assert request.query == {"verbose": ["true"]}
    assert request.headers["x-trace"] == "t-1"
    assert request.headers["authorization"] == "Bearer k-123"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"count": 3, "ratio": 0.5, "active": False, "tags": ["x"], "mode": "fast"}
    # and a JSON object answers a json message plus the raw text, as Dify does
    assert [m.type for m in messages] == ["json", "text"]
    assert messages[0].data == {"ok": True}
    assert messages[1].text == '{"ok": true}'


async def test_api_key_in_a_query_parameter(http_server: LoopbackServer, allow_private: None) -> None:
    http_server.route("GET", "/text", Reply(200, "plain answer"))
    messages = await run(
        http_server,
        "getText",
        {},
        credentials={"auth_type": "api_key_query", "api_key_query_param": "appid", "api_key_value": "secret"},
    )
    assert http_server.requests[-1].query == {"appid": ["secret"]}
    assert "authorization" not in http_server.requests[-1].headers
    assert [(m.type, m.text) for m in messages] == [("text", "plain answer")]


async def test_error_status_fails_with_difys_message(
    http_server: LoopbackServer, allow_private: None
) -> None:
    http_server.route("GET", "/fail", Reply(503, "upstream down"))
    with pytest.raises(ToolInvokeError, match="Request failed with status code 503 and upstream down"):
        await run(http_server, "fail", {})


async def test_empty_body_and_missing_parameters(http_server: LoopbackServer, allow_private: None) -> None:
    http_server.route("GET", "/empty", Reply(200, b""))
    assert texts(await run(http_server, "empty", {})) == api_tool.EMPTY_RESPONSE
    with pytest.raises(ToolParameterValidationError, match="Missing required parameter itemId"):
        await run(http_server, "updateItem", {"count": 1})
    with pytest.raises(ToolParameterValidationError, match=r"Missing required parameter count$"):
        await run(http_server, "updateItem", {"itemId": "1"})
    with pytest.raises(ToolProviderCredentialValidationError, match="Missing api_key_value"):
        await run(http_server, "getText", {}, credentials={"auth_type": "api_key"})


async def test_an_attachment_becomes_a_stored_file(http_server: LoopbackServer, allow_private: None) -> None:
    http_server.route(
        "GET",
        "/report",
        Reply(
            200,
            b"%PDF-1.4 fake",
            {"Content-Type": "application/pdf", "Content-Disposition": 'attachment; filename="r.pdf"'},
        ),
    )
    files = MemoryFiles()
    messages = await run(http_server, "getReport", {}, files=files)
    assert [m.type for m in messages] == ["file"]
    assert messages[0].file.mime_type == "application/pdf"
    assert files.saved[messages[0].file.related_id] == b"%PDF-1.4 fake"


async def test_responses_over_the_size_limit_are_refused(
    http_server: LoopbackServer, allow_private: None, settings: Any
) -> None:
    settings.API_TOOL_MAX_RESPONSE_BYTES = 16
    http_server.route("GET", "/text", Reply(200, "x" * 100))
    with pytest.raises(ToolInvokeError, match="exceeds the maximum allowed size 16 bytes"):
        await run(http_server, "getText", {})


async def test_the_private_network_guard_blocks_loopback_by_default(
    http_server: LoopbackServer, ssrf_strict: None
) -> None:
    # given the default settings (SSRF_PROTECTION on, nothing allow-listed)
    http_server.route("GET", "/text", Reply(200, "should not be reached"))
    # when the tool would call a loopback address, it fails and nothing reaches the server
    with pytest.raises(ToolInvokeError, match="is not allowed"):
        await run(http_server, "getText", {})
    assert http_server.requests == []


async def test_redirects_are_followed_hop_by_hop(http_server: LoopbackServer, allow_private: None) -> None:
    http_server.route("GET", "/text", Reply(302, b"", {"Location": "/moved"}))
    http_server.route("GET", "/moved", Reply(200, "arrived"))
    assert texts(await run(http_server, "getText", {})) == "arrived"
    assert [r.path for r in http_server.requests] == ["/text", "/moved"]


# --- through the port, with a saved provider ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_threads_closed")
async def test_the_port_calls_a_saved_provider_by_id_or_name(
    http_server: LoopbackServer, allow_private: None
) -> None:
    # given a workspace with an API tool provider whose key is stored encrypted
    def given() -> tuple[Tenant, ApiToolProvider]:
        tenant = factories.tenant_factory()
        parsed = parse_schema(echo_api(http_server.url))
        row = ApiToolProvider(
            tenant=tenant,
            name="echo",
            schema=echo_api(http_server.url),
            tools=[b.to_dict() for b in parsed.bundles],
        )
        row.credentials = {
            "auth_type": "api_key",
            "api_key_header": "X-Key",
            "api_key_value": "sk-live-0123456789",
        }
        row.save()
        return tenant, row

    tenant, row = await sync_to_async(given)()
    seen: list[Recorded] = []
    http_server.route("GET", "/text", lambda request: (seen.append(request), Reply(200, "hi"))[1])
    # when a tool node calls it by the provider's id, then by its name
    by_id = await call_tool(str(row.id), "getText", provider_type="api", tenant_id=str(tenant.id))
    by_name = await call_tool("echo", "getText", provider_type="api", tenant_id=str(tenant.id))
    # then both calls carried the decrypted key
    assert texts(by_id) == texts(by_name) == "hi"
    assert [r.headers["x-key"] for r in seen] == ["sk-live-0123456789"] * 2

    # and the key is ciphertext in the table
    def raw() -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT encrypted_credentials FROM providers_apitoolprovider WHERE id = %s",
                [row.id.hex if connection.vendor == "sqlite" else str(row.id)],
            )
            return cursor.fetchone()[0]

    stored = await sync_to_async(raw)()
    assert stored.startswith("enc:v1:") and "sk-live" not in stored

    # another workspace cannot reach it, and unknown tools are named
    other = await sync_to_async(factories.tenant_factory)()
    with pytest.raises(ToolProviderNotFoundError, match=f"api provider {row.id} not found"):
        await call_tool(str(row.id), "getText", provider_type="api", tenant_id=str(other.id))
    with pytest.raises(ToolNotFoundError, match="api tool nope not found"):
        await call_tool("echo", "nope", provider_type="api", tenant_id=str(tenant.id))
    # and an agent gets the operation as a function to call
    spec = await TenantToolPort(tenant_id=str(tenant.id)).tool_spec(
        provider_type="api", provider_id=str(row.id), tool_name="updateItem"
    )
    assert spec.description == "Update an item"
    assert spec.parameters["required"] == ["itemId", "count"]
    assert spec.parameters["properties"]["tags"] == {"type": "array", "description": ""}


@pytest.mark.parametrize(
    ("provider_type", "named"),
    [("app", "app"), ("dataset-retrieval", "dataset-retrieval")],
)
async def test_types_not_available_fail_naming_the_type(provider_type: str, named: str) -> None:
    with pytest.raises(Exception, match=f"Tool provider type {provider_type} is not installed") as error:
        await call_tool("some-id", "t", provider_type=provider_type)
    assert named in str(error.value)
    assert type(error.value).__name__ == "ToolProviderNotInstalledError"


async def test_plugin_type_serves_our_builtin_providers_and_names_the_others() -> None:
    assert texts(
        await call_tool(
            "langgenius/maths/maths", "eval_expression", {"expression": "1+1"}, provider_type="plugin"
        )
    ).endswith(" 2")
    with pytest.raises(Exception, match="Tool provider type plugin is not installed here: plugin acme/x/x"):
        await call_tool("acme/x/x", "t", provider_type="plugin")
