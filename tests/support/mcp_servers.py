"""MCP servers on loopback for the tests: real HTTP (uvicorn in a thread), built with the official `mcp`
SDK, in both transports (streamable HTTP at `/mcp`, HTTP+SSE at `/sse`).

`McpLoopback(app)` serves any ASGI app and records the headers of every request it gets
(`server.headers`). `demo_mcp()` is the SDK server the tests call: `add(a: int, b: int)`,
`shout(text)`, `pixel()` (an image), `fail()` (raises). `raw_jsonrpc(tools)` is a hand-written server
that answers the MCP handshake and lists whatever `tools` it is given (schemas the SDK itself would
refuse to build); `silent()` accepts connections and never answers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver import Image

PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def demo_mcp() -> MCPServer:
    server = MCPServer("demo")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper() + "!"

    @server.tool()
    def pixel() -> Image:
        """A one-pixel PNG."""
        return Image(data=PIXEL, format="png")

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise ValueError("the tool broke")

    return server


class McpLoopback:
    """Serve an ASGI app on 127.0.0.1 in a background thread."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.headers: list[dict[str, str]] = []
        self._inner = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def app(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})
        await self._inner(scope, receive, send)

    def __enter__(self) -> McpLoopback:
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="on",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="mcp-loopback", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the MCP loopback server did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def streamable_app() -> Any:
    return demo_mcp().streamable_http_app()


def sse_app() -> Any:
    return demo_mcp().sse_app()


async def _body(receive: Callable) -> bytes:
    data = b""
    while True:
        message = await receive()
        data += message.get("body", b"")
        if not message.get("more_body"):
            return data


def raw_jsonrpc(tools: list[Any]) -> Callable[..., Any]:
    """A streamable-HTTP server answering JSON: the handshake, then `tools/list` with `tools` as given."""

    async def app(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        message = json.loads(await _body(receive) or b"{}") if scope["method"] == "POST" else {}
        if "id" not in message:
            await send({"type": "http.response.start", "status": 202 if scope["method"] == "POST" else 405})
            await send({"type": "http.response.body", "body": b""})
            return
        if message.get("method") == "initialize":
            result: Any = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "raw", "version": "1"},
            }
        elif message.get("method") == "tools/list":
            result = {"tools": tools}
        else:
            result = {}
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def silent() -> Callable[..., Any]:
    """Accepts every request and never answers (until the server stops)."""

    async def app(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await asyncio.sleep(3600)

    return app


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
