"""MCP tools as Dify tools: a server's input schemas as ToolParameters (Dify's
`convert_mcp_schema_to_parameter`), arguments checked against the schema before the call, and the
server's answer as the engine's ToolMessages (Dify's `MCPTool._invoke`).

* schema: an `inputSchema` must be a JSON Schema object whose `properties` are objects; anything else
  is refused with McpSchemaError naming the tool, when the provider is refreshed and when it is called.
* arguments: each declared one is cast to its type as every Dify tool's (`"3"` -> 3), then the whole set
  is validated with `jsonschema`; a wrong type fails with ToolParameterValidationError naming the field,
  before anything is sent.
* answer: text (a JSON object in the text also as a `json` message), images and embedded blobs as files,
  `structuredContent` as a `json` message; `isError` fails the tool with the server's text.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import jsonschema

from providers.tools.entities import I18n, ToolParameter
from providers.tools.exceptions import ToolInvokeError, ToolParameterValidationError
from providers.tools.mcp_client import McpSchemaError, McpServer, call_tool
from workflows.engine.ports import FilePort, ToolMessage

_TYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}
_TYPES.update(array="array", object="object")


def _type_of(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):  # ["string", "null"]: the first non-null type
        kind = next((k for k in kind if k != "null"), "string")
    return _TYPES.get(kind, "string") if isinstance(kind, str) else "string"


def check_schema(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The tool's input schema if we can read it; McpSchemaError naming the tool otherwise."""
    name = tool.get("name")
    schema = tool.get("inputSchema")
    if not isinstance(name, str) or not name:
        raise McpSchemaError("The MCP server listed a tool without a name")
    if not isinstance(schema, Mapping):
        raise McpSchemaError(f"The input schema of MCP tool {name} is not a JSON object")
    if schema.get("type", "object") != "object":
        raise McpSchemaError(f"The input schema of MCP tool {name} is not of type object")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping) or not all(isinstance(p, Mapping) for p in properties.values()):
        raise McpSchemaError(f"The input schema of MCP tool {name} has properties we cannot read")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise McpSchemaError(f"The input schema of MCP tool {name} has an unreadable `required` list")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise McpSchemaError(
            f"The input schema of MCP tool {name} is not valid JSON Schema: {exc.message}"
        ) from None
    return dict(schema)


def check_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    for tool in tools:
        check_schema(tool)
    return [dict(tool) for tool in tools]


def parameters_of(tool: Mapping[str, Any]) -> tuple[ToolParameter, ...]:
    schema = check_schema(tool)
    required = set(schema.get("required") or [])
    parameters = []
    for name, prop in (schema.get("properties") or {}).items():
        description = str(prop.get("description") or "")
        parameters.append(
            ToolParameter(
                name=str(name),
                label=I18n.plain(str(name)),
                type=_type_of(prop),
                form="llm",
                required=name in required,
                default=prop.get("default"),
                human_description=I18n.plain(description),
                llm_description=description,
            )
        )
    return tuple(parameters)


def function_schema(tool: Mapping[str, Any]) -> dict[str, Any]:
    """What a model fills: the server's own schema (richer than our parameter list)."""
    schema = check_schema(tool)
    return {"type": "object", "properties": dict(schema.get("properties") or {}), **_required(schema)}


def _required(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"required": list(schema.get("required") or [])}


def arguments_for(tool: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Cast and validate; ToolParameterValidationError names the first wrong field."""
    schema = check_schema(tool)
    declared = {parameter.name: parameter for parameter in parameters_of(tool)}
    arguments: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        parameter = declared.get(name)
        if parameter is None:
            arguments[name] = value
        elif parameter.type in ("string", "number", "boolean") and isinstance(
            value, str | int | float | bool
        ):
            try:
                arguments[name] = parameter.cast(value)
            except ToolParameterValidationError:
                raise ToolParameterValidationError(
                    f"Parameter {name} of MCP tool {tool['name']} must be a {_schema_type(schema, name)}, "
                    f"got {value!r}"
                ) from None
            if arguments[name] is None:  # an empty string for a number: leave it out
                del arguments[name]
        else:
            arguments[name] = parameter.cast(value)
    error = jsonschema.exceptions.best_match(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(arguments)
    )
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "arguments"
        raise ToolParameterValidationError(f"Invalid {where} for MCP tool {tool['name']}: {error.message}")
    return arguments


def _schema_type(schema: Mapping[str, Any], name: str) -> str:
    prop = (schema.get("properties") or {}).get(name) or {}
    return str(prop.get("type") or "string")


def _text_messages(text: str) -> list[ToolMessage]:
    try:
        data = json.loads(text)
    except ValueError:
        return [ToolMessage(type="text", text=text)]
    if isinstance(data, dict):
        return [ToolMessage(type="json", data=data), ToolMessage(type="text", text=text)]
    return [ToolMessage(type="text", text=text)]


async def _blob(files: FilePort | None, data: str, mime_type: str, name: str) -> ToolMessage:
    if files is None:
        raise ToolInvokeError("The MCP tool answered a file, and this call has no file storage to keep it.")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ToolInvokeError(f"The MCP tool {name} answered a file that is not valid base64") from None
    extension = mimetypes.guess_extension(mime_type) or ""
    saved = await files.save(content=content, mime_type=mime_type, filename=f"{name}{extension}")
    return ToolMessage(type="image" if mime_type.startswith("image/") else "file", file=saved)


async def messages_of(result: Any, *, tool_name: str, files: FilePort | None) -> AsyncIterator[ToolMessage]:
    """The CallToolResult as ToolMessages; a result flagged as an error fails the tool."""
    if result.is_error:
        text = "\n".join(getattr(block, "text", "") for block in result.content if getattr(block, "text", ""))
        raise ToolInvokeError(f"MCP tool {tool_name} failed: {text or 'the server reported an error'}")
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            for message in _text_messages(block.text):
                yield message
        elif kind in ("image", "audio"):
            yield await _blob(files, block.data, block.mime_type or "application/octet-stream", tool_name)
        elif kind == "resource":
            resource = block.resource
            if getattr(resource, "text", None) is not None:
                yield ToolMessage(type="text", text=resource.text)
            elif getattr(resource, "blob", None) is not None:
                mime = resource.mime_type or "application/octet-stream"
                yield await _blob(files, resource.blob, mime, tool_name)
        elif kind == "resource_link":
            yield ToolMessage(type="link", text=str(block.uri))
    if isinstance(result.structured_content, dict) and not any(
        getattr(block, "type", "") == "text" for block in result.content
    ):
        yield ToolMessage(type="json", data=result.structured_content)


async def invoke(
    server: McpServer, tool: Mapping[str, Any], values: Mapping[str, Any], *, files: FilePort | None
) -> AsyncIterator[ToolMessage]:
    arguments = arguments_for(tool, values)
    result = await call_tool(server, str(tool["name"]), arguments)
    async for message in messages_of(result, tool_name=str(tool["name"]), files=files):
        yield message
