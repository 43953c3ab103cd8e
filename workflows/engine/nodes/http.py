"""http-request node: Dify's request building and response handling, sent through the HTTP port."""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from collections.abc import Mapping
from email.message import Message
from typing import Any

from ..errors import ConfigError, NodeError
from ..ports import HttpPortError, HttpRequest, HttpResponse
from ..templates import Selector, VariableTemplate, compile_template
from ..values import File, mask_secret
from .base import Node, NodeContext, NodeResult, as_selector, get_dict, get_str

METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
BODY_TYPES = frozenset({"none", "form-data", "x-www-form-urlencoded", "raw-text", "json", "binary"})
BODY_CONTENT_TYPES = {
    "json": "application/json",
    "x-www-form-urlencoded": "application/x-www-form-urlencoded",
    "form-data": "multipart/form-data",
    "raw-text": "text/plain",
}
_BINARY_MAIN_TYPES = frozenset({"application", "image", "audio", "video"})
_TEXT_APPLICATION_TYPES = ("json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "graphql")
_TEXT_MARKERS = (b"{", b"[", b"<", b"function", b"var ", b"const ", b"let ")


class HttpRequestNodeError(NodeError):
    pass


class HttpRequestNode(Node):
    type = "http-request"
    is_async = True
    retryable = True
    capabilities = frozenset({"http"})

    def configure(self, data: Mapping[str, Any]) -> None:
        method = get_str(data, "method", "get")
        if method.lower() not in METHODS:
            raise ConfigError(f"method must be one of {sorted(METHODS)}, got {method!r}")
        self.method = method.lower()
        self.url = compile_template(get_str(data, "url", required=True))
        self.headers = compile_template(get_str(data, "headers"))
        self.params: list[tuple[VariableTemplate, VariableTemplate]] = []
        for line in get_str(data, "params").splitlines():
            line = line.strip()
            if not line:
                continue
            key, *value = line.split(":", 1)
            if not key.strip():
                continue
            self.params.append(
                (compile_template(key.strip()), compile_template(value[0].strip() if value else ""))
            )
        auth = get_dict(data, "authorization") or {"type": "no-auth"}
        self.auth_type = auth.get("type", "no-auth")
        if self.auth_type not in ("no-auth", "api-key"):
            raise ConfigError(f"authorization.type must be no-auth or api-key, got {self.auth_type!r}")
        self.auth_config: dict[str, Any] = {}
        if self.auth_type == "api-key":
            config = auth.get("config")
            if not isinstance(config, Mapping):
                raise ConfigError("authorization.config should be a dict")
            if config.get("type") not in ("basic", "bearer", "custom"):
                raise ConfigError("authorization.config.type must be basic, bearer or custom")
            self.auth_config = {
                "type": config["type"],
                "api_key": compile_template(str(config.get("api_key") or "")),
                "header": str(config.get("header") or ""),
            }
        body = data.get("body")
        self.body_type = "none"
        self.body_items: list[dict[str, Any]] = []
        if body is not None:
            if not isinstance(body, Mapping):
                raise ConfigError("body must be an object")
            self.body_type = body.get("type") or "none"
            if self.body_type not in BODY_TYPES:
                raise ConfigError(f"body.type {self.body_type!r} is not supported")
            raw_items = body.get("data")
            if isinstance(raw_items, str):  # legacy DSLs store the body text directly
                raw_items = [{"key": "", "type": "text", "value": raw_items}] if raw_items else []
            for index, item in enumerate(raw_items or []):
                if not isinstance(item, Mapping) or item.get("type", "text") not in ("text", "file"):
                    raise ConfigError(f"body.data[{index}] must be an object of type text or file")
                self.body_items.append(
                    {
                        "key": compile_template(str(item.get("key") or "")),
                        "type": item.get("type", "text"),
                        "value": compile_template(str(item.get("value") or "")),
                        "file": as_selector(item.get("file"), f"body.data[{index}].file", allow_empty=True),
                    }
                )
            # An empty raw-text/json body is tolerated (sent empty); more than one item is not.
            if (
                self.body_type in ("raw-text", "json", "binary")
                and len(self.body_items) != 1
                and (self.body_items or self.body_type == "binary")
            ):
                raise ConfigError(f"{self.body_type} body type should have exactly one item")
        timeout = data.get("timeout") or {}
        if not isinstance(timeout, Mapping):
            raise ConfigError("timeout must be an object")
        self.timeout = {key: timeout.get(key) for key in ("connect", "read", "write")}
        self.ssl_verify = data.get("ssl_verify")
        if self.ssl_verify is not None and not isinstance(self.ssl_verify, bool):
            raise ConfigError("ssl_verify must be a boolean")

    def references(self) -> list[Selector]:
        return [item["file"] for item in self.body_items if item["file"]]

    def _timeout(self, defaults: tuple[float, float, float]) -> tuple[float, float, float]:
        return (
            float(self.timeout["connect"] or defaults[0]),
            float(self.timeout["read"] or defaults[1]),
            float(self.timeout["write"] or defaults[2]),
        )

    async def build_request(self, ctx: NodeContext) -> HttpRequest:
        pool = ctx.pool
        headers = _parse_headers(self.headers.render_text(pool))
        if self.auth_type == "api-key":
            api_key = self.auth_config["api_key"].render_text(pool)
            if not api_key or not api_key.strip():
                raise HttpRequestNodeError(
                    "API key is required for authorization but was empty. Please provide a valid API key.",
                    "AuthorizationConfigError",
                )
            header = self.auth_config["header"] or "Authorization"
            kind = self.auth_config["type"]
            if kind == "bearer":
                headers[header] = f"Bearer {api_key}"
            elif kind == "basic":
                encoded = base64.b64encode(api_key.encode()).decode() if ":" in api_key else api_key
                headers[header] = f"Basic {encoded}"
            else:
                headers[header] = api_key
        url = self.url.render_text(pool)
        if not url:
            raise HttpRequestNodeError("url is required", "InvalidURLError")
        if not url.startswith(("http://", "https://")):
            raise HttpRequestNodeError("url should start with http:// or https://", "InvalidURLError")
        params = [(key.render_text(pool), value.render_text(pool)) for key, value in self.params] or None
        request = HttpRequest(
            method=self.method.upper(),
            url=url,
            params=params,
            headers=headers,
            timeout=self._timeout(ctx.limits.http_timeout),
            verify_ssl=True if self.ssl_verify is None else self.ssl_verify,
            max_response_bytes=max(ctx.limits.http_max_binary_size, ctx.limits.http_max_text_size),
        )
        await self._fill_body(ctx, request)
        lower = {key.lower() for key in request.headers}
        if self.body_type == "form-data":
            if request.files:
                request.headers = {k: v for k, v in request.headers.items() if k.lower() != "content-type"}
            elif "content-type" not in lower:
                request.headers["Content-Type"] = "multipart/form-data"
        elif self.body_type in BODY_CONTENT_TYPES and "content-type" not in lower:
            request.headers["Content-Type"] = BODY_CONTENT_TYPES[self.body_type]
        return request

    async def _fill_body(self, ctx: NodeContext, request: HttpRequest) -> None:
        pool = ctx.pool
        kind = self.body_type
        if kind == "none":
            request.content = ""
        elif kind == "raw-text":
            request.content = self.body_items[0]["value"].render_text(pool) if self.body_items else ""
        elif kind == "json":
            text = self.body_items[0]["value"].render_text(pool) if self.body_items else ""
            request.json = parse_json_body(text)
        elif kind == "binary":
            file = pool.get(self.body_items[0]["file"])
            if not isinstance(file, File):
                raise HttpRequestNodeError(
                    f"cannot fetch file with selector {list(self.body_items[0]['file'])}", "FileFetchError"
                )
            request.content = await ctx.require("files").download(file)
        elif kind == "x-www-form-urlencoded":
            request.data = {
                item["key"].render_text(pool): item["value"].render_text(pool) for item in self.body_items
            }
        else:  # form-data
            request.data = {
                item["key"].render_text(pool): item["value"].render_text(pool)
                for item in self.body_items
                if item["type"] == "text"
            }
            files: list[tuple[str, tuple[str | None, bytes, str]]] = []
            for item in self.body_items:
                if item["type"] != "file" or not item["file"]:
                    continue
                value = pool.get(item["file"])
                candidates = value if isinstance(value, list) else [value]
                for file in candidates:
                    if isinstance(file, File):
                        content = await ctx.require("files").download(file)
                        files.append(
                            (
                                item["key"].render_text(pool),
                                (file.filename, content, file.mime_type or "application/octet-stream"),
                            )
                        )
            # httpx only sends multipart when files are present, as Dify's placeholder ensures.
            request.files = files or [("__multipart_placeholder__", ("", b"", "application/octet-stream"))]

    async def arun(self, ctx: NodeContext) -> NodeResult:
        process_data: dict[str, Any] = {}
        try:
            request = await self.build_request(ctx)
            process_data["request"] = _mask(_request_log(request), ctx.pool.secret_values())
            http = ctx.require("http")
            try:
                response: HttpResponse = await http.request(request)
            except HttpPortError as error:
                raise HttpRequestNodeError(str(error), "HttpRequestNodeError") from error
            is_file = response_is_file(response)
            limit = ctx.limits.http_max_binary_size if is_file else ctx.limits.http_max_text_size
            if len(response.content) > limit:
                kind = "File" if is_file else "Text"
                raise HttpRequestNodeError(
                    f"{kind} size is too large, max size is {limit / 1024 / 1024:.2f} MB, "
                    f"but current size is {_readable_size(len(response.content))}.",
                    "ResponseSizeError",
                )
            files: list[File] = []
            if is_file and ctx.ports.files is not None:
                files.append(await self._save_file(ctx, request.url, response))
        except NodeError as error:
            return NodeResult.failed(str(error), error.error_type, process_data=process_data)
        outputs = {
            "status_code": response.status_code,
            "body": "" if is_file else response.text,
            "headers": dict(response.headers),
            "files": files,
        }
        if not 200 <= response.status_code < 300 and (self.error_strategy or self.supports_retry):
            return NodeResult.failed(
                f"Request failed with status code {response.status_code}",
                "HTTPResponseCodeError",
                outputs=outputs,
                process_data=process_data,
            )
        return NodeResult(outputs=outputs, process_data=process_data)

    async def _save_file(self, ctx: NodeContext, url: str, response: HttpResponse) -> File:
        disposition = _content_disposition(response)
        filename = disposition.get_filename() if disposition else None
        guessed = mimetypes.guess_type(filename)[0] if filename else None
        url_name = url.split("?", 1)[0].rsplit("/", 1)[-1] or ""
        mime_type = (
            guessed
            or response.headers.get("content-type", "").split(";")[0].strip()
            or mimetypes.guess_type(url_name)[0]
            or "application/octet-stream"
        )
        return await ctx.require("files").save(
            content=response.content, mime_type=mime_type, filename=filename or url_name or None
        )


def _parse_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, *value = line.split(":", 1)
        headers[key.strip()] = value[0].strip() if value else ""
    return headers


_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def parse_json_body(text: str) -> Any:
    """Parse a JSON body leniently, as Dify does after `json_repair` (trailing commas, control chars)."""
    if not text.strip():
        return None
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text), strict=False)
    except json.JSONDecodeError as error:
        raise HttpRequestNodeError(f"Failed to parse JSON: {text}", "RequestBodyError") from error


def _content_disposition(response: HttpResponse) -> Message | None:
    value = response.headers.get("content-disposition", "")
    if not value:
        return None
    message = Message()
    message["content-disposition"] = value
    return message


def response_is_file(response: HttpResponse) -> bool:
    """Dify's heuristics: Content-Disposition, then text types, then binary main types."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    disposition = _content_disposition(response)
    if disposition and (disposition.get_content_disposition() == "attachment" or disposition.get_filename()):
        return True
    if content_type.startswith("text/") and "csv" not in content_type:
        return False
    if content_type.startswith("application/"):
        if any(kind in content_type for kind in _TEXT_APPLICATION_TYPES):
            return False
        sample = response.content[:1024]
        try:
            sample.decode("utf-8")
            if any(marker in sample for marker in _TEXT_MARKERS):
                return False
        except UnicodeDecodeError:
            pass
    main_type, _ = mimetypes.guess_type("dummy" + (mimetypes.guess_extension(content_type) or ""))
    if main_type:
        return main_type.split("/")[0] in _BINARY_MAIN_TYPES
    return any(kind in content_type for kind in ("image/", "audio/", "video/"))


def _mask(text: str, secrets: list[str]) -> str:
    """Secret environment variables never reach the request log (Dify logs `Segment.log`)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, mask_secret(secret))
    return text


def _readable_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.2f} KB"
    return f"{size / 1024 / 1024:.2f} MB"


def _request_log(request: HttpRequest) -> str:
    """A raw-HTTP rendering for logs, with the Authorization header masked."""
    from urllib.parse import urlencode, urlparse

    parts = urlparse(request.url)
    path = parts.path or "/"
    if request.params:
        path += "?" + urlencode(request.params)
    elif parts.query:
        path += "?" + parts.query
    lines = [f"{request.method} {path} HTTP/1.1", f"Host: {parts.netloc}"]
    for key, value in request.headers.items():
        lines.append(f"{key}: {'*' * len(value) if key.lower() == 'authorization' else value}")
    body = ""
    if isinstance(request.content, str):
        body = request.content
    elif isinstance(request.content, bytes):
        body = f"<binary_content: size={len(request.content)} bytes>"
    elif request.json is not None:
        body = json.dumps(request.json, ensure_ascii=False)
    elif request.data:
        body = urlencode(request.data)
    return "\r\n".join(lines) + "\r\n\r\n" + body
