"""Apps as MCP servers (Dify's `app_mcp_servers` and `core/mcp/server`).

An app enabled here answers MCP's streamable-HTTP transport at `/mcp/server/<server_code>/mcp`,
statelessly and in JSON (no session, no event stream), as Dify's endpoint does: `initialize`, `ping`,
`tools/list` and `tools/call`; notifications are accepted with 202. The app is one tool named after
it: its inputs are the tool's parameters (text and selects as strings, numbers as numbers, file inputs
left out) described by the server's `parameters`, plus a required `query` for chat apps. A call runs the
published app in blocking mode through the same runners as the Service API and answers its text (a
workflow's outputs as JSON). Errors are JSON-RPC errors in Dify's words: an unknown or inactive server,
an unpublished app, an unknown method or tool; invalid arguments and a failed run answer a tool
result flagged `isError` with the reason.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from pydantic import ValidationError

from apps.models import App, AppMCPServer, AppMCPServerStatus, AppMode
from apps.parameters import app_parameters
from dify_project.api.errors import ApiError, InvalidParam, NotFound
from dify_project.db import db_sync_to_async

SERVER_CODE_LENGTH = 16
_ALPHABET = string.ascii_letters + string.digits
CHAT_MODES = frozenset({AppMode.CHAT, AppMode.AGENT_CHAT, AppMode.ADVANCED_CHAT})
SERVER_NAME = "Dify"
SERVER_VERSION = "1.0.0"

# JSON-RPC error codes (the MCP specification's)
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


def _server_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(SERVER_CODE_LENGTH))


# --- console ---------------------------------------------------------------------------------------------


def app_mcp_server_get(*, app: App) -> AppMCPServer | None:
    return AppMCPServer.objects.filter(app=app).first()


def _parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    return {str(key): "" if value is None else str(value) for key, value in parameters.items()}


@transaction.atomic
def app_mcp_server_create(
    *, app: App, description: str | None, parameters: Mapping[str, Any]
) -> AppMCPServer:
    """Enable the app as an MCP server (one per app), active at once, with a fresh server code."""
    if AppMCPServer.objects.filter(app=app).exists():
        raise InvalidParam("The app already has an MCP server.")
    return AppMCPServer.objects.create(
        tenant_id=app.tenant_id,
        app=app,
        name=app.name,
        description=description or app.description or "",
        server_code=_server_code(),
        status=AppMCPServerStatus.ACTIVE,
        parameters=_parameters(parameters),
    )


@transaction.atomic
def app_mcp_server_update(
    *, app: App, server_id: str, description: str | None, parameters: Mapping[str, Any], status: str | None
) -> AppMCPServer:
    """Change the description and parameter descriptions, and enable (`active`) or disable (`inactive`)."""
    server = AppMCPServer.objects.select_for_update().filter(app=app, id=server_id).first()
    if server is None:
        raise NotFound("Server not found.")
    if status is not None and status not in AppMCPServerStatus.values:
        raise InvalidParam("Invalid status")
    server.description = description or app.description or ""
    server.parameters = _parameters(parameters)
    if status is not None:
        server.status = status
    server.name = app.name
    server.save()
    return server


@transaction.atomic
def app_mcp_server_refresh(*, tenant: Any, server_id: str) -> AppMCPServer:
    """A new server code: the old URL stops answering at once."""
    try:
        server_id = str(uuid.UUID(str(server_id)))
    except ValueError:
        raise NotFound("Server not found.") from None
    server = AppMCPServer.objects.for_tenant(tenant).select_for_update().filter(id=server_id).first()
    if server is None:
        raise NotFound("Server not found.")
    server.server_code = _server_code()
    server.save(update_fields=["server_code", "updated_at"])
    return server


def app_mcp_server_out(server: AppMCPServer | None) -> dict[str, Any] | None:
    if server is None:
        return None
    return {
        "id": str(server.id),
        "name": server.name,
        "server_code": server.server_code,
        "description": server.description,
        "status": server.status,
        "parameters": dict(server.parameters or {}),
        "created_at": int(server.created_at.timestamp()),
        "updated_at": int(server.updated_at.timestamp()),
    }


# --- the MCP endpoint ------------------------------------------------------------------------------------


class McpRequestError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def input_schema(app: App, form: list[Mapping[str, Any]], descriptions: Mapping[str, Any]) -> dict[str, Any]:
    """Dify's `build_parameter_schema`: the app's input form as the tool's JSON Schema."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for entry in form:
        if not isinstance(entry, Mapping) or not entry:
            continue
        control, item = next(iter(entry.items()))
        if not isinstance(item, Mapping) or control in ("file", "file-list"):
            continue
        name = str(item.get("variable") or "")
        if not name:
            continue
        prop: dict[str, Any] = {"description": str(descriptions.get(name) or item.get("label") or "")}
        if control == "number":
            prop["type"] = "number"
        elif control == "checkbox":
            prop["type"] = "boolean"
        elif control == "json_object":
            prop["type"] = "object"
        else:
            prop["type"] = "string"
            if control == "select" and item.get("options"):
                prop["enum"] = [str(option) for option in item["options"]]
        properties[name] = prop
        if item.get("required"):
            required.append(name)
    if app.mode in CHAT_MODES:
        properties["query"] = {"type": "string", "description": "User Input/Question content"}
        required.append("query")
    return {"type": "object", "properties": properties, "required": required}


def _load(server_code: str) -> tuple[AppMCPServer, App, list[Any]]:
    server = AppMCPServer.objects.select_related("app").filter(server_code=server_code).first()
    if server is None:
        raise McpRequestError(INVALID_REQUEST, "Server Not Found")
    if server.status != AppMCPServerStatus.ACTIVE:
        raise McpRequestError(INVALID_REQUEST, "Server is not active")
    app = server.app
    try:
        form = list(app_parameters(app)["user_input_form"])
    except ApiError:
        raise McpRequestError(INVALID_REQUEST, "App is unavailable") from None
    return server, app, form


def _result(request_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _tool(server: AppMCPServer, app: App, form: list[Any]) -> dict[str, Any]:
    return {
        "name": app.name,
        "description": server.description or app.description or "",
        "inputSchema": input_schema(app, form, server.parameters or {}),
    }


async def mcp_server_handle(*, server_code: str, message: Any) -> dict[str, Any] | None:
    """Answer one JSON-RPC message; None for a notification (the endpoint answers 202)."""
    import mcp_types as types

    request_id = message.get("id") if isinstance(message, Mapping) else None
    try:
        server, app, form = await db_sync_to_async(_load)(server_code)
        if not isinstance(message, Mapping) or message.get("jsonrpc") != "2.0":
            raise McpRequestError(INVALID_REQUEST, "Invalid MCP request: not a JSON-RPC 2.0 message")
        if "id" not in message:
            return None  # notifications (initialized, cancelled, ...) need no answer
        method = message.get("method")
        params = message.get("params") or {}
        if not isinstance(params, Mapping):
            raise McpRequestError(INVALID_PARAMS, "Invalid MCP request: params must be an object")
        if method == "initialize":
            try:
                asked = types.InitializeRequestParams.model_validate(params)
            except ValidationError as exc:
                raise McpRequestError(
                    INVALID_PARAMS, f"Invalid MCP request: {exc.errors()[0]['msg']}"
                ) from None
            result = types.InitializeResult(
                protocol_version=asked.protocol_version
                if asked.protocol_version in types.version.HANDSHAKE_PROTOCOL_VERSIONS
                else types.version.LATEST_HANDSHAKE_VERSION,
                capabilities=types.ServerCapabilities(tools=types.ToolsCapability(list_changed=False)),
                server_info=types.Implementation(name=SERVER_NAME, version=SERVER_VERSION),
                instructions=server.description or None,
            )
            return _result(request_id, result.model_dump(by_alias=True, exclude_none=True, mode="json"))
        if method == "ping":
            return _result(request_id, {})
        if method == "tools/list":
            return _result(request_id, {"tools": [_tool(server, app, form)]})
        if method == "tools/call":
            return _result(request_id, await _call(server, app, form, params))
        raise McpRequestError(METHOD_NOT_FOUND, f"Method not found: {method}")
    except McpRequestError as exc:
        return error_response(request_id, exc.code, exc.message)


async def _call(server: AppMCPServer, app: App, form: list[Any], params: Mapping[str, Any]) -> dict[str, Any]:
    import jsonschema

    if params.get("name") != app.name:
        raise McpRequestError(INVALID_PARAMS, f"Unknown tool: {params.get('name')}")
    arguments = params.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        raise McpRequestError(INVALID_PARAMS, "Invalid arguments: not an object")
    schema = input_schema(app, form, server.parameters or {})
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(dict(arguments))
    )
    if error is not None:
        # A tool-execution error (isError), not a protocol error: the caller (often a model) reads it and
        # can correct its arguments, as MCP's 2025-11-25 revision asks for input validation failures.
        where = ".".join(str(p) for p in error.absolute_path) or "arguments"
        return {"content": [{"type": "text", "text": f"Invalid {where}: {error.message}"}], "isError": True}
    inputs = dict(arguments)
    query = str(inputs.pop("query", "") or "")
    try:
        text = await _run(app, server, inputs, query)
    except ApiError as exc:
        return {"content": [{"type": "text", "text": exc.message}], "isError": True}
    return {"content": [{"type": "text", "text": text}], "isError": False}


async def _run(app: App, server: AppMCPServer, inputs: dict[str, Any], query: str) -> str:
    """Run the published app once, blocking, as the Service API does."""
    from apps.runners.chat_app import prepare_chat_request, start_chat_request
    from apps.runs.payloads import WorkflowRunRequest
    from apps.service_api.views.generation import answer_workflow_request, prepare_workflow_request
    from apps.services.end_users import end_user_get_or_create

    end_user = await db_sync_to_async(end_user_get_or_create)(app=app, user=f"mcp-{server.id}")
    if app.mode in AppMode.workflow_modes():
        chat = app.mode == AppMode.ADVANCED_CHAT
        run_request = WorkflowRunRequest(
            app=app, inputs=inputs, invoke_from="service-api", end_user=end_user, query=query
        )
        if chat:
            run_request.auto_generate_name = False
        ready = await db_sync_to_async(prepare_workflow_request)(run_request, streaming=False, chat=chat)
        response = await answer_workflow_request(ready)
        if chat:
            return str(response.data.get("answer") or "")
        data = response.data["data"]
        if data["status"] == "failed":
            raise ApiError(data.get("error") or "The workflow run failed.")
        return json.dumps(data.get("outputs") or {}, ensure_ascii=False)
    data = {"query": query, "inputs": inputs, "auto_generate_name": False}
    request = await db_sync_to_async(prepare_chat_request)(
        app=app, end_user=end_user, data=data, streaming=True, invoke_from="service-api"
    )
    _writer, task = await start_chat_request(request)
    result = await task
    if getattr(result, "error", None) is not None:
        raise result.error
    return str(result.answer or "")
