"""OpenAPI 3 and Swagger 2 documents to tool bundles (Dify's ``ApiBasedToolSchemaParser``).

Each operation becomes one tool named by its ``operationId`` (``{path}_{method}`` when it has none):
its path, query, header and cookie parameters and the properties of its request body become the tool's
parameters, all filled by the model (``form: llm``). Local ``$ref``s are resolved here, once, so the
stored operation (``openapi`` in the bundle) is self-contained and invocation never needs the document.

Beyond Dify: Swagger 2 servers come from ``host``/``basePath``/``schemes`` and its ``body``/``formData``
parameters become a request body; path-level parameters apply to every operation; server variables take
their defaults; ``enum`` makes a select parameter.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from providers.tools.entities import I18n, ParameterOption, ToolParameter
from providers.tools.exceptions import ToolApiSchemaError

METHODS = ("get", "post", "put", "delete", "patch", "head", "options", "trace")
MAX_REF_DEPTH = 32


@dataclass(slots=True)
class ApiToolBundle:
    """One operation of an API: Dify's ApiToolBundle, stored as JSON in the provider row."""

    server_url: str
    method: str
    operation_id: str
    summary: str | None = None
    parameters: list[ToolParameter] = field(default_factory=list)
    author: str = ""
    icon: str | None = None
    openapi: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "server_url": self.server_url,
            "method": self.method,
            "summary": self.summary,
            "operation_id": self.operation_id,
            "parameters": [parameter.to_dict() for parameter in self.parameters],
            "author": self.author,
            "icon": self.icon,
            "openapi": self.openapi,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiToolBundle:
        return cls(
            server_url=str(data.get("server_url") or ""),
            method=str(data.get("method") or "get"),
            operation_id=str(data.get("operation_id") or ""),
            summary=data.get("summary"),
            parameters=[ToolParameter.from_dict(p) for p in data.get("parameters") or []],
            author=str(data.get("author") or ""),
            icon=data.get("icon"),
            openapi=dict(data.get("openapi") or {}),
        )


@dataclass(slots=True)
class ParsedSchema:
    bundles: list[ApiToolBundle]
    schema_type: str  # "openapi" | "swagger"
    description: str = ""
    warnings: dict[str, str] = field(default_factory=dict)


def load_document(text: str) -> dict[str, Any]:
    """JSON first, then YAML, as Dify does; anything but a mapping is refused."""
    text = (text or "").strip()
    json_error: Exception | None = None
    yaml_error: Exception | None = None
    document: Any = None
    try:
        document = json.loads(text)
    except ValueError as exc:
        json_error = exc
    if document is None:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            yaml_error = exc
    if not isinstance(document, dict):
        raise ToolApiSchemaError(
            f"Invalid api schema, schema is neither json nor yaml. json error: {json_error},"
            f" yaml error: {yaml_error}"
        )
    return document


def parse_schema(text: str) -> ParsedSchema:
    """Tool bundles of an OpenAPI 3 or Swagger 2 document (JSON or YAML text). Raises ToolApiSchemaError."""
    document = load_document(text)
    if "swagger" in document and "openapi" not in document:
        warnings: dict[str, str] = {}
        converted = swagger_to_openapi(document, warnings)
        parsed = parse_openapi(converted, warnings)
        parsed.schema_type = "swagger"
        return parsed
    if "openapi" in document or "paths" in document:
        return parse_openapi(document, {})
    if isinstance(document.get("api"), Mapping):
        raise ToolApiSchemaError(
            "OpenAI plugin manifests are not supported: paste the OpenAPI document its api.url points to."
        )
    raise ToolApiSchemaError("Invalid api schema: neither an OpenAPI 3 nor a Swagger 2 document.")


# --- references --------------------------------------------------------------------------------------------


def _resolve(document: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow a local `$ref` chain (`#/components/...`) to the object it names."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        if depth > MAX_REF_DEPTH:
            raise ToolApiSchemaError(f"$ref chain too deep at {node['$ref']}")
        reference = node["$ref"]
        if not reference.startswith("#/"):
            raise ToolApiSchemaError(f"Only local references are supported: {reference}")
        target: Any = document
        for part in reference[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise ToolApiSchemaError(f"Invalid reference {reference}")
            target = target[part]
        node, depth = target, depth + 1
    return node


def _flatten_schema(document: Mapping[str, Any], schema: Any, depth: int = 0) -> dict[str, Any]:
    """A schema with its `$ref` and `allOf` resolved at the top level, and each property's own `$ref`
    resolved one level (enough to know its type and description; deeper structure stays as written)."""
    schema = _resolve(document, schema)
    if not isinstance(schema, Mapping):
        return {}
    result = {key: copy.deepcopy(value) for key, value in schema.items() if key != "allOf"}
    if depth < MAX_REF_DEPTH:
        for part in schema.get("allOf") or []:
            merged = _flatten_schema(document, part, depth + 1)
            result.setdefault("type", merged.get("type"))
            result["properties"] = {**merged.get("properties", {}), **result.get("properties", {})}
            result["required"] = [*merged.get("required", []), *result.get("required", [])]
    properties = result.get("properties")
    if isinstance(properties, Mapping):
        resolved = {}
        for name, prop in properties.items():
            target = _resolve(document, prop)
            resolved[name] = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
        result["properties"] = resolved
    if result.get("type") is None and "properties" in result:
        result["type"] = "object"
    return result


# --- OpenAPI 3 ---------------------------------------------------------------------------------------------


def _server_url(document: Mapping[str, Any], label: str) -> str:
    servers = document.get("servers") or []
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], Mapping):
        raise ToolApiSchemaError(f"No server found in the {label} yaml.")
    server = servers[0]
    url = str(server.get("url") or "")
    for name, variable in (server.get("variables") or {}).items():
        if isinstance(variable, Mapping) and "default" in variable:
            url = url.replace("{" + str(name) + "}", str(variable["default"]))
    if not url:
        raise ToolApiSchemaError(f"No server found in the {label} yaml.")
    return url.rstrip("/")


def _parameter_type(schema: Mapping[str, Any]) -> tuple[str, tuple[ParameterOption, ...]]:
    kind = schema.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: ["string", "null"]
        kind = next((item for item in kind if item != "null"), None)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and kind in (None, "string", "integer", "number"):
        options = tuple(
            ParameterOption(value=str(value), label=I18n.plain(str(value)))
            for value in enum
            if value is not None
        )
        return "select", options
    if kind in ("integer", "number"):
        return "number", ()
    if kind == "boolean":
        return "boolean", ()
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        return ("files" if items.get("format") == "binary" else "array"), ()
    if kind == "object":
        return "object", ()
    if kind == "string" and schema.get("format") == "binary":
        return "file", ()
    return "string", ()


def _tool_parameter(
    name: str, schema: Mapping[str, Any], *, description: str, required: bool
) -> ToolParameter:
    kind, options = _parameter_type(schema)
    return ToolParameter(
        name=name,
        label=I18n.plain(name),
        type=kind,
        form="llm",
        required=required,
        default=schema.get("default"),
        human_description=I18n.plain(description),
        llm_description=description,
        options=options,
    )


def _operation_parameters(
    document: Mapping[str, Any], path_item: Mapping[str, Any], operation: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Path-level then operation-level parameters, resolved; the operation's win on (name, in)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*(path_item.get("parameters") or []), *(operation.get("parameters") or [])]:
        parameter = _resolve(document, raw)
        if not isinstance(parameter, Mapping) or "name" not in parameter:
            raise ToolApiSchemaError("Every parameter needs a name.")
        resolved = copy.deepcopy(dict(parameter))
        if "schema" in resolved:
            resolved["schema"] = _flatten_schema(document, resolved["schema"])
        merged[(str(resolved["name"]), str(resolved.get("in", "query")))] = resolved
    return list(merged.values())


def _request_body(document: Mapping[str, Any], operation: Mapping[str, Any]) -> dict[str, Any] | None:
    body = _resolve(document, operation.get("requestBody"))
    if not isinstance(body, Mapping) or not isinstance(body.get("content"), Mapping):
        return None
    content = {}
    for content_type, media in body["content"].items():
        if isinstance(media, Mapping) and "schema" in media:
            content[str(content_type)] = {"schema": _flatten_schema(document, media["schema"])}
    if not content:
        return None
    return {"required": bool(body.get("required", False)), "content": content}


def _operation_id(path: str, method: str) -> str:
    # Tool names must match ^[a-zA-Z0-9_-]{1,64}$ (Dify's fallback id).
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "", path.lstrip("/")) or str(uuid.uuid4())
    return f"{cleaned}_{method}"


def parse_openapi(document: Mapping[str, Any], warnings: dict[str, str]) -> ParsedSchema:
    info = document.get("info") if isinstance(document.get("info"), Mapping) else {}
    server_url = _server_url(document, "openapi")
    paths = document.get("paths")
    if not isinstance(paths, Mapping) or not paths:
        raise ToolApiSchemaError("No paths found in the openapi yaml.")
    bundles: list[ApiToolBundle] = []
    for path, path_item in paths.items():
        if not isinstance(path_item, Mapping):
            continue
        for method in METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, Mapping):
                continue
            parameters = _operation_parameters(document, path_item, operation)
            request_body = _request_body(document, operation)
            tool_parameters = [
                _tool_parameter(
                    str(parameter["name"]),
                    parameter.get("schema") or {},
                    description=str(parameter.get("description") or ""),
                    required=bool(parameter.get("required", False)),
                )
                for parameter in parameters
            ]
            if request_body:
                schema = next(iter(request_body["content"].values()))["schema"]
                required = set(schema.get("required") or [])
                for name, prop in (schema.get("properties") or {}).items():
                    tool_parameters.append(
                        _tool_parameter(
                            str(name),
                            prop,
                            description=str(prop.get("description") or ""),
                            required=name in required,
                        )
                    )
            seen: set[str] = set()
            for parameter in tool_parameters:
                if parameter.name in seen:
                    warnings["duplicated_parameter"] = f"Parameter {parameter.name} is duplicated."
                seen.add(parameter.name)
            operation_id = str(operation.get("operationId") or _operation_id(str(path), method))
            stored: dict[str, Any] = {
                "operationId": operation_id,
                "summary": operation.get("summary", ""),
                "description": operation.get("description", ""),
                "parameters": parameters,
            }
            if request_body:
                stored["requestBody"] = request_body
            bundles.append(
                ApiToolBundle(
                    server_url=server_url + str(path),
                    method=method,
                    operation_id=operation_id,
                    summary=operation.get("description") or operation.get("summary") or None,
                    parameters=tool_parameters,
                    openapi=stored,
                )
            )
    names = [bundle.operation_id for bundle in bundles]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        warnings["duplicated_operation_id"] = f"Operation {duplicated[0]} is duplicated."
    return ParsedSchema(
        bundles=bundles,
        schema_type="openapi",
        description=str(info.get("description") or ""),
        warnings=warnings,
    )


# --- Swagger 2 ---------------------------------------------------------------------------------------------


def _swagger_refs(node: Any) -> Any:
    """Swagger's `#/definitions/X` and `#/parameters/X` as their OpenAPI 3 homes."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                value = value.replace("#/definitions/", "#/components/schemas/").replace(
                    "#/parameters/", "#/components/parameters/"
                )
            result[key] = _swagger_refs(value)
        return result
    if isinstance(node, list):
        return [_swagger_refs(item) for item in node]
    return node


def _swagger_servers(swagger: Mapping[str, Any]) -> list[dict[str, Any]]:
    if isinstance(swagger.get("servers"), list) and swagger["servers"]:
        return list(swagger["servers"])
    host = swagger.get("host")
    if not host:
        raise ToolApiSchemaError("No server found in the swagger yaml.")
    schemes = swagger.get("schemes") or ["https"]
    scheme = "https" if "https" in schemes else str(schemes[0])
    return [{"url": f"{scheme}://{host}{swagger.get('basePath') or ''}"}]


_SIMPLE_KEYS = ("type", "format", "enum", "default", "items", "minimum", "maximum")


def _swagger_operation(
    operation: Mapping[str, Any], consumes: list[str], document: Mapping[str, Any]
) -> dict[str, Any]:
    parameters, body_schema, form_properties, form_required = [], None, {}, []
    has_file = False
    for raw in operation.get("parameters") or []:
        parameter = _resolve(document, raw)
        if not isinstance(parameter, Mapping):
            continue
        location = parameter.get("in")
        if location == "body":
            body_schema = parameter.get("schema") or {}
        elif location == "formData":
            prop = {key: parameter[key] for key in _SIMPLE_KEYS if key in parameter}
            if prop.get("type") == "file":
                prop, has_file = {"type": "string", "format": "binary"}, True
            if parameter.get("description"):
                prop["description"] = parameter["description"]
            form_properties[parameter["name"]] = prop
            if parameter.get("required"):
                form_required.append(parameter["name"])
        else:
            converted = {
                key: parameter[key] for key in ("name", "in", "required", "description") if key in parameter
            }
            converted["schema"] = {key: parameter[key] for key in _SIMPLE_KEYS if key in parameter}
            parameters.append(converted)
    converted_operation: dict[str, Any] = {
        key: operation[key] for key in ("operationId", "summary", "description") if key in operation
    }
    converted_operation["parameters"] = parameters
    consumes = list(operation.get("consumes") or consumes or [])
    if body_schema is not None:
        content_type = next((c for c in consumes if "json" in c), "application/json")
        converted_operation["requestBody"] = {"content": {content_type: {"schema": body_schema}}}
    elif form_properties:
        content_type = "multipart/form-data" if has_file else "application/x-www-form-urlencoded"
        schema = {"type": "object", "properties": form_properties, "required": form_required}
        converted_operation["requestBody"] = {"content": {content_type: {"schema": schema}}}
    return converted_operation


def swagger_to_openapi(swagger: Mapping[str, Any], warnings: dict[str, str]) -> dict[str, Any]:
    """A Swagger 2 document as the OpenAPI 3 subset the parser reads."""
    swagger = _swagger_refs(dict(swagger))
    info = swagger.get("info") if isinstance(swagger.get("info"), Mapping) else {}
    paths = swagger.get("paths")
    if not isinstance(paths, Mapping) or not paths:
        raise ToolApiSchemaError("No paths found in the swagger yaml.")
    openapi: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": {
            "title": info.get("title", "Swagger"),
            "description": info.get("description", ""),
            "version": info.get("version", "1.0.0"),
        },
        "servers": _swagger_servers(swagger),
        "paths": {},
        "components": {
            "schemas": dict(swagger.get("definitions") or {}),
            "parameters": dict(swagger.get("parameters") or {}),
        },
    }
    consumes = list(swagger.get("consumes") or [])
    for path, path_item in paths.items():
        if not isinstance(path_item, Mapping):
            continue
        converted: dict[str, Any] = {}
        if path_item.get("parameters"):
            converted["parameters"] = _swagger_operation(
                {"parameters": path_item["parameters"]}, consumes, openapi
            )["parameters"]
        for method in METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, Mapping):
                continue
            if not operation.get("summary") and not operation.get("description"):
                warnings["missing_summary"] = f"No summary or description found in operation {method} {path}."
            converted[method] = _swagger_operation(operation, consumes, openapi)
        openapi["paths"][path] = converted
    return openapi
