"""Talking to a remote MCP server with the official `mcp` SDK: list its tools, call one.

Transports, as Dify picks them: a URL whose path ends in `/sse` speaks the legacy HTTP+SSE transport;
any other URL speaks streamable HTTP, and falls back to SSE when the server answers the streamable
handshake with an HTTP error (a server that only has the old transport).

Every connection goes through the SSRF guard: the SDK takes an `httpx2` client (its transports are built
on httpx2), and ours is built on `netguard.guard_transport` with the policy from settings, so the address
connected to is the one checked, on every connection the SDK opens. The SDK follows redirects only
within the endpoint's origin; our client follows none of its own.

One connection per operation (list or call): tool calls are few per run, a session bound to one event
loop must not outlive it, and a server that forgets sessions cannot break a later call. Each operation
is bounded by the provider's `timeout` (plus the `sse_read_timeout` for a call), so a server that accepts
and never answers fails the call with a clear message instead of hanging the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from pydantic import ValidationError

from dify_project.outbound import DestinationBlocked, ssrf_policy
from netguard import guard_transport
from providers.tools.exceptions import ToolInvokeError

CLIENT_NAME = "dify-django"
DEFAULT_TIMEOUT = 30.0  # Dify's defaults for an MCP provider
DEFAULT_SSE_READ_TIMEOUT = 300.0


class McpConnectionError(ToolInvokeError):
    """The server cannot be reached, refused the handshake, or did not answer in time."""


class McpAuthRequired(McpConnectionError):
    """The server answered 401: it wants an OAuth 2.1 authorisation first."""


class McpSchemaError(ToolInvokeError):
    """The server answered something that is not a readable MCP tool list."""


@dataclass(frozen=True, slots=True)
class McpServer:
    """Where and how to reach one server."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    sse_read_timeout: float = DEFAULT_SSE_READ_TIMEOUT
    # An OAuth-authorised provider's bearer token, asked for on each connection (it may refresh first).
    token: Callable[[], Awaitable[str | None]] | None = field(default=None, compare=False, repr=False)

    @property
    def transport(self) -> str:
        return "sse" if urlsplit(self.url).path.rstrip("/").endswith("/sse") else "streamable_http"


def guarded_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
    statuses: list[int] | None = None,
) -> httpx2.AsyncClient:
    """The SDK's `McpHttpClientFactory`, guarded: every connection passes the SSRF policy. `statuses`
    collects every HTTP status answered: the SDK turns a 401 into a generic JSON-RPC error, and a 401
    is what tells us the server wants OAuth."""
    transport = guard_transport(httpx2.AsyncHTTPTransport(trust_env=False), ssrf_policy)

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    return httpx2.AsyncClient(
        event_hooks={"response": [record]},
        transport=transport,
        headers=headers,
        timeout=timeout or httpx2.Timeout(DEFAULT_TIMEOUT, read=DEFAULT_SSE_READ_TIMEOUT),
        auth=auth,
        trust_env=False,
        follow_redirects=False,
    )


def _leaves(error: BaseException) -> list[BaseException]:
    """The SDK runs its transports in task groups: the real errors are inside exception groups."""
    if isinstance(error, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in error.exceptions:
            found.extend(_leaves(inner))
        return found
    return [error]


def _status_of(error: BaseException) -> int | None:
    if isinstance(error, httpx2.HTTPStatusError):
        return error.response.status_code
    return None


def describe(error: BaseException, url: str) -> ToolInvokeError:
    """One clear tool error for whatever the SDK or the network raised."""
    leaves = [leaf for leaf in _leaves(error) if not isinstance(leaf, anyio.get_cancelled_exc_class())]
    leaf = leaves[0] if leaves else error
    if isinstance(leaf, ToolInvokeError):
        return leaf
    if isinstance(leaf, DestinationBlocked):
        return McpConnectionError(f"MCP server {url} is not allowed: {leaf}")
    status = _status_of(leaf)
    if status == 401:
        return _auth_required(url)
    if status is not None:
        return McpConnectionError(f"MCP server {url} answered HTTP {status}")
    if isinstance(leaf, TimeoutError | httpx2.TimeoutException):
        return McpConnectionError(f"MCP server {url} did not answer in time")
    if isinstance(leaf, httpx2.HTTPError):
        return McpConnectionError(f"Failed to connect to MCP server {url}: {leaf or type(leaf).__name__}")
    if isinstance(leaf, ValidationError):
        return McpSchemaError(f"MCP server {url} answered a message that is not valid MCP: {_short(leaf)}")
    message = str(leaf) or type(leaf).__name__
    return McpConnectionError(f"MCP server {url} failed: {message}")


def _auth_required(url: str) -> McpAuthRequired:
    return McpAuthRequired(
        f"MCP server {url} requires authorization (HTTP 401); authorize the provider in the console"
    )


def _short(error: ValidationError) -> str:
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))


@contextlib.asynccontextmanager
async def _open(server: McpServer, transport: str, statuses: list[int]) -> AsyncIterator[Any]:
    from mcp import ClientSession
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp_types import Implementation

    headers = {str(k): str(v) for k, v in server.headers.items()}
    timeout = httpx2.Timeout(server.timeout, read=server.sse_read_timeout)
    info = Implementation(name=CLIENT_NAME, version="1.0")
    if transport == "sse":
        streams = sse_client(
            server.url,
            headers=headers,
            timeout=server.timeout,
            sse_read_timeout=server.sse_read_timeout,
            httpx_client_factory=functools.partial(guarded_client, statuses=statuses),
        )
        async with streams as (read, write), ClientSession(read, write, client_info=info) as session:
            await session.initialize()
            yield session
        return
    async with guarded_client(headers=headers, timeout=timeout, statuses=statuses) as client:
        streams = streamable_http_client(server.url, http_client=client)
        async with streams as (read, write), ClientSession(read, write, client_info=info) as session:
            await session.initialize()
            yield session


async def _with_session(server: McpServer, operation: Any, *, budget: float) -> Any:
    """Run `operation(session)` on a fresh connection, bounded by `budget` seconds."""
    if server.token is not None:
        bearer = await server.token()
        if bearer:
            server = dataclasses.replace(
                server, headers={**server.headers, "Authorization": f"Bearer {bearer}"}
            )
    transports = [server.transport] if server.transport == "sse" else ["streamable_http", "sse"]
    last: ToolInvokeError | None = None
    for transport in transports:
        statuses: list[int] = []
        try:
            with anyio.fail_after(budget):
                async with _open(server, transport, statuses) as session:
                    return await operation(session)
        except TimeoutError:
            raise McpConnectionError(
                f"MCP server {server.url} did not answer within {budget:.0f} seconds"
            ) from None
        except Exception as error:
            if 401 in statuses:
                raise _auth_required(server.url) from None
            last = describe(error, server.url)
            statuses = [_status_of(leaf) for leaf in _leaves(error)]
            # Only an HTTP answer other than 401 suggests the server speaks the other transport.
            if not any(status not in (None, 401) for status in statuses):
                raise last from None
    assert last is not None
    raise last


def _tool_dict(tool: Any) -> dict[str, Any]:
    data = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    return {
        "name": data["name"],
        "description": data.get("description") or "",
        "inputSchema": data.get("inputSchema") or {"type": "object", "properties": {}},
        **({"title": data["title"]} if data.get("title") else {}),
        **({"outputSchema": data["outputSchema"]} if data.get("outputSchema") else {}),
    }


async def list_tools(server: McpServer) -> list[dict[str, Any]]:
    """Every tool the server offers (all pages), as `{name, description, inputSchema[, outputSchema]}`.
    Raises McpConnectionError / McpAuthRequired / McpSchemaError."""

    async def operation(session: Any) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _page in range(100):  # a server that pages forever must not keep us here
            if cursor is None:
                page = await session.list_tools()
            else:
                from mcp_types import PaginatedRequestParams

                page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
            tools.extend(_tool_dict(tool) for tool in page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    return await _with_session(server, operation, budget=server.timeout)


async def call_tool(server: McpServer, name: str, arguments: Mapping[str, Any]) -> Any:
    """Call one tool; the SDK's `CallToolResult` (a result with `is_error` is the tool's own failure)."""

    async def operation(session: Any) -> Any:
        return await session.call_tool(name, dict(arguments), read_timeout_seconds=server.sse_read_timeout)

    budget = server.timeout + server.sse_read_timeout
    return await _with_session(server, operation, budget=budget if math.isfinite(budget) else 600.0)
