"""Fixtures for the tool tests: a loopback HTTP server that records requests and answers scripted
responses, permission to reach it (the private-network guard blocks loopback by default), helpers to call
a tool through the real port, and workspace members of each role."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from rest_framework.test import APIClient

from accounts.models import Account, Tenant
from providers.tools.port import TenantToolPort
from tests import factories
from workflows.engine import File, ToolMessage, ToolRequest


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, "application/octet-stream"


class LoopbackServer:
    """`server.route("GET", "/path", Reply(...))`; requests land in `server.requests`."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Reply | Callable[[Recorded], Reply]] = {}
        self.requests: list[Recorded] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                record = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                server.requests.append(record)
                reply = server.routes.get((self.command, parts.path)) or Reply(404, "no route")
                if callable(reply):
                    reply = reply(record)
                content, default_type = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": default_type, **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def route(self, method: str, path: str, reply: Reply | Callable[[Recorded], Reply]) -> None:
        self.routes[(method, path)] = reply

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
async def db_threads_closed() -> Any:
    """For async tests on a real database: close the connection the port opened in asgiref's worker
    thread, so PostgreSQL can drop the test database afterwards."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def allow_private(settings: Any) -> None:
    """The test servers listen on loopback, which the guard refuses unless the operator allows it."""
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]


class MemoryFiles:
    """A FilePort keeping files in memory (the tool tests check what a tool stored, not the storage)."""

    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}

    async def download(self, file: File) -> bytes:
        return self.saved[file.related_id or ""]

    async def save(self, *, content: bytes, mime_type: str, filename: str | None = None) -> File:
        file_id = f"file-{len(self.saved) + 1}"
        self.saved[file_id] = content
        kind = "image" if mime_type.startswith("image/") else "document"
        return File(
            type=kind,
            transfer_method="tool_file",
            id=file_id,
            related_id=file_id,
            filename=filename,
            mime_type=mime_type,
            size=len(content),
        )

    async def extract_text(self, file: File) -> str:
        return (await self.download(file)).decode()


async def call_tool(
    provider: str,
    tool: str,
    parameters: dict[str, Any] | None = None,
    *,
    configurations: dict[str, Any] | None = None,
    provider_type: str = "builtin",
    tenant_id: str = "tenant-1",
    files: Any = None,
) -> list[ToolMessage]:
    """Invoke a tool through the real port, as the tool node does, and collect its messages."""
    port = TenantToolPort(tenant_id=tenant_id, user="user-1", files=files)
    request = ToolRequest(
        provider_type=provider_type,
        provider_id=provider,
        tool_name=tool,
        parameters=dict(parameters or {}),
        configurations=dict(configurations or {}),
    )
    return [message async for message in port.invoke(request)]


def texts(messages: list[ToolMessage]) -> str:
    return "".join(message.text for message in messages if message.type == "text")


@pytest.fixture
def member_client(tenant: Tenant, client_for: Callable[[Account], APIClient]) -> Callable[[str], APIClient]:
    def make(role: str) -> APIClient:
        return client_for(factories.member_factory(tenant=tenant, role=role))

    return make
