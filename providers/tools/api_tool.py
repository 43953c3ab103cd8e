"""Calling one operation of a custom API tool (Dify's ``ApiTool``).

Parameters go where the stored operation says (path, query, header, cookie, request body properties);
body properties are converted to their schema types; the API key goes in a header (with an optional
`Basic`/`Bearer` prefix) or a query parameter. The call goes through the guarded client (private-network
guard, `API_TOOL_DEFAULT_CONNECT_TIMEOUT`/`READ_TIMEOUT` 10/60 s, a response size cap).

Answers, as in Dify: an error status fails the tool ("Request failed with status code N and BODY"); an
attachment is a file; a JSON object answers a `json` message and the raw text; anything else is text.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from providers.tools.exceptions import (
    ToolInvokeError,
    ToolParameterValidationError,
    ToolProviderCredentialValidationError,
)
from providers.tools.http import MB, FetchedResponse, fetch, setting
from providers.tools.openapi import ApiToolBundle
from workflows.engine.ports import FilePort, ToolMessage
from workflows.engine.values import File

EMPTY_RESPONSE = "Empty response from the tool, please check your parameters and try again."
HTTP_METHODS = frozenset({"get", "head", "post", "put", "delete", "patch"})
SECRET_FIELDS = frozenset({"api_key_value"})


def auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The API-key header for `api_key`/`api_key_header` auth; nothing for `none` or `api_key_query`."""
    auth_type = credentials.get("auth_type")
    if not auth_type:
        raise ToolProviderCredentialValidationError("Missing auth_type")
    if auth_type not in ("api_key", "api_key_header"):
        if auth_type not in ("none", "api_key_query"):
            raise ToolProviderCredentialValidationError(f"Invalid auth_type {auth_type}")
        return {}
    if "api_key_value" not in credentials:
        raise ToolProviderCredentialValidationError("Missing api_key_value")
    value = credentials["api_key_value"]
    if not isinstance(value, str):
        raise ToolProviderCredentialValidationError("api_key_value must be a string")
    prefix = credentials.get("api_key_header_prefix")
    if value and prefix == "basic":
        value = f"Basic {value}"
    elif value and prefix == "bearer":
        value = f"Bearer {value}"
    return {str(credentials.get("api_key_header") or "Authorization"): value}


def _convert_strict(schema: Mapping[str, Any], value: Any, depth: int = 0) -> Any:
    kind = schema.get("type")
    if kind in ("integer", "int"):
        return int(value)
    if kind == "number":
        return float(value) if "." in str(value) else int(value)
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if kind == "boolean":
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "1", "yes", "y"):
                return True
            if lowered in ("false", "0", "no", "n", ""):
                return False
            raise ValueError(f"not a boolean: {value}")
        return bool(value)
    if kind == "null":
        if value in (None, ""):
            return None
        raise ValueError("not null")
    if kind in ("object", "array"):
        return json.loads(value) if isinstance(value, str) else value
    if isinstance(schema.get("anyOf"), list) and depth < 10:
        for option in schema["anyOf"]:
            if isinstance(option, Mapping):
                try:
                    return _convert_strict(option, value, depth + 1)
                except (TypeError, ValueError):
                    continue
    return value


def _convert(schema: Mapping[str, Any], value: Any) -> Any:
    """Dify's `_convert_body_property_type`: the value as the property's type, unchanged if it won't go."""
    try:
        return _convert_strict(schema, value)
    except (TypeError, ValueError):
        return value


def _parameter_value(parameter: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    name = parameter["name"]
    if name in values:
        return values[name]
    if parameter.get("required"):
        raise ToolParameterValidationError(f"Missing required parameter {name}")
    return (parameter.get("schema") or {}).get("default", "")


async def _file_bytes(files: FilePort | None, value: Any) -> tuple[str | None, bytes, str]:
    if not isinstance(value, File):
        raise ToolParameterValidationError("A file parameter needs a file.")
    if files is None:
        raise ToolInvokeError("File parameters need file storage, and this call has none.")
    content = await files.download(value)
    return value.filename, content, value.mime_type or "application/octet-stream"


async def send(
    bundle: ApiToolBundle,
    *,
    credentials: Mapping[str, Any],
    parameters: Mapping[str, Any],
    files: FilePort | None = None,
) -> FetchedResponse:
    """Assemble and send the request for `bundle`; the raw (size-capped) response."""
    values = dict(parameters)
    headers = auth_headers(credentials)
    for parameter in bundle.parameters:
        if parameter.required and parameter.name not in values:
            if parameter.default is None:
                raise ToolParameterValidationError(f"Missing required parameter {parameter.name}")
            values[parameter.name] = parameter.default

    query: dict[str, Any] = {}
    if credentials.get("auth_type") == "api_key_query" and credentials.get("api_key_value"):
        query[str(credentials.get("api_key_query_param") or "key")] = credentials["api_key_value"]
    path_values: dict[str, Any] = {}
    cookies: dict[str, str] = {}
    for parameter in bundle.openapi.get("parameters") or []:
        value = _parameter_value(parameter, values)
        location = parameter.get("in", "query")
        if location == "path":
            path_values[parameter["name"]] = value
        elif location == "query":
            if value != "":
                query[parameter["name"]] = value
        elif location == "cookie":
            cookies[parameter["name"]] = str(value)
        elif location == "header" and value != "":
            headers[parameter["name"]] = str(value)

    body: dict[str, Any] = {}
    uploads: list[tuple[str, tuple[str | None, bytes, str]]] = []
    content_type: str | None = None
    request_body = bundle.openapi.get("requestBody") or {}
    for media_type, media in (request_body.get("content") or {}).items():
        # Dify sends the first declared media type only.
        content_type = media_type
        schema = media.get("schema") or {}
        required = set(schema.get("required") or [])
        for name, prop in (schema.get("properties") or {}).items():
            if name in values:
                items = prop.get("items") if isinstance(prop.get("items"), Mapping) else {}
                if prop.get("type") == "array" and items.get("format") == "binary":
                    for item in values[name] or []:
                        uploads.append((name, await _file_bytes(files, item)))
                elif prop.get("format") == "binary":
                    uploads.append((name, await _file_bytes(files, values[name])))
                else:
                    body[name] = _convert(prop, values[name])
            elif name in required:
                raise ToolParameterValidationError(
                    f"Missing required parameter {name} in operation {bundle.operation_id}"
                )
            elif "default" in prop:
                body[name] = prop["default"]
        break

    url = bundle.server_url
    for name, value in path_values.items():
        url = url.replace("{" + name + "}", quote(str(value), safe=""))
    method = bundle.method.lower()
    if method not in HTTP_METHODS:
        raise ToolInvokeError(f"Invalid http method {bundle.method}")

    request: dict[str, Any] = {}
    if uploads:
        request = {"data": {key: str(value) for key, value in body.items()}, "files": uploads}
    elif content_type is not None:
        headers["Content-Type"] = content_type
        if "json" in content_type:
            request = {"content": json.dumps(body, ensure_ascii=False).encode()}
        else:
            request = {"data": {key: str(value) for key, value in body.items()}}
    timeout = httpx.Timeout(
        connect=float(setting("API_TOOL_DEFAULT_CONNECT_TIMEOUT", 10)),
        read=float(setting("API_TOOL_DEFAULT_READ_TIMEOUT", 60)),
        write=float(setting("API_TOOL_DEFAULT_READ_TIMEOUT", 60)),
        pool=float(setting("API_TOOL_DEFAULT_CONNECT_TIMEOUT", 10)),
    )
    return await fetch(
        method,
        url,
        params=query,
        headers=headers,
        cookies=cookies or None,
        timeouts=timeout,
        max_bytes=int(setting("API_TOOL_MAX_RESPONSE_BYTES", 15 * MB)),
        **request,
    )


def _is_attachment(response: FetchedResponse) -> bool:
    disposition = response.headers.get("content-disposition", "").strip()
    return disposition.split(";", 1)[0].strip().lower() == "attachment"


def _failed(response: FetchedResponse) -> ToolInvokeError:
    return ToolInvokeError(f"Request failed with status code {response.status_code} and {response.text}")


def _json_body(response: FetchedResponse) -> tuple[bool, Any]:
    if "application/json" not in response.headers.get("content-type", "").lower():
        return False, None
    try:
        return True, json.loads(response.content)
    except ValueError:
        return False, None


async def invoke(
    bundle: ApiToolBundle,
    *,
    credentials: Mapping[str, Any],
    parameters: Mapping[str, Any],
    files: FilePort | None = None,
) -> AsyncIterator[ToolMessage]:
    """Call the operation; yield the messages Dify's API tool yields."""
    response = await send(bundle, credentials=credentials, parameters=parameters, files=files)
    if response.status_code >= 400:
        raise _failed(response)
    if _is_attachment(response):
        if not response.content:
            yield ToolMessage(type="text", text=EMPTY_RESPONSE)
            return
        if files is None:
            raise ToolInvokeError("The tool answered a file, and this call has no file storage to keep it.")
        mime_type = response.mime_type or "application/octet-stream"
        extension = mimetypes.guess_extension(mime_type) or ""
        saved = await files.save(
            content=response.content, mime_type=mime_type, filename=f"{bundle.operation_id}{extension}"
        )
        yield ToolMessage(type="image" if mime_type.startswith("image/") else "file", file=saved)
        return
    if not response.content:
        yield ToolMessage(type="text", text=EMPTY_RESPONSE)
        return
    is_json, data = _json_body(response)
    if is_json and isinstance(data, dict):
        yield ToolMessage(type="json", data=data)
    # Dify always yields the raw text too, even after the JSON message (kept for compatibility).
    yield ToolMessage(type="text", text=response.text)


async def validate(
    bundle: ApiToolBundle, *, credentials: Mapping[str, Any], parameters: Mapping[str, Any]
) -> str:
    """The console's test call: the response as text (a JSON object re-serialised), errors raised."""
    response = await send(bundle, credentials=credentials, parameters=parameters)
    if response.status_code >= 400:
        raise _failed(response)
    if not response.content:
        return EMPTY_RESPONSE
    is_json, data = _json_body(response)
    if is_json and isinstance(data, dict):
        return json.dumps(data, ensure_ascii=False)
    return response.text
