"""The fake server itself (uvicorn in a background thread), `running_server`, and the command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from tests.support.fake_audio import (
    DEFAULT_MODERATION_WORDS,
)
from tests.support.fake_llm.exchange import _Exchange
from tests.support.fake_llm.script import (
    _HIDE_DROPS,
    RecordedRequest,
    Reply,
    _routes,
)

DESCRIPTION = (
    "Fake model-provider servers on loopback: real HTTP (uvicorn), the providers' real wire protocols."
)


# --- the server ----------------------------------------------------------------------------------------------


class FakeLLMServer:
    """The fake server. `start()` runs it in a background thread; it listens on 127.0.0.1 only."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, api_keys: Sequence[str] | None = None
    ) -> None:
        self.host = host
        self._requested_port = port
        self.api_keys: set[str] | None = set(api_keys) if api_keys else None
        self.models = ["echo", "lorem", "fake-gpt", "fake-embedding"]
        self.embedding_dimensions = 8
        # Moderation flags an input containing one of these words, in the category it maps to.
        self.moderation_words: dict[str, str] = dict(DEFAULT_MODERATION_WORDS)
        # OpenAI refuses longer speech input; so does the fake, to catch text that was not split.
        self.speech_input_limit = 4096
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    # -- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def _make_server(self) -> uvicorn.Server:
        logging.getLogger("uvicorn.error").addFilter(_HIDE_DROPS)
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            interface="asgi3",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=1,
        )
        return uvicorn.Server(config)

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        return sock

    def start(self) -> FakeLLMServer:
        self._socket = self._bind()
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="fake-llm", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake LLM server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()

    def serve_forever(self) -> None:
        """Run in the calling thread (the command-line tool)."""
        self._socket = self._bind()
        self._server = self._make_server()
        self._server.run(sockets=[self._socket])

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- scripting

    def push(self, *replies: Reply) -> None:
        """Queue answers for the next requests, in order (a reply with a `route` waits for that route)."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self.api_keys = None
        self.moderation_words = dict(DEFAULT_MODERATION_WORDS)
        self.speech_input_limit = 4096

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def requests_on(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route or r.route.endswith(f".{route}")]

    def _take(self, route: str) -> Reply | None:
        with self._lock:
            for index, reply in enumerate(self._queue):
                if reply.route is None or reply.route == route or route.endswith(f".{reply.route}"):
                    return self._queue.pop(index)
        return None

    # -- ASGI

    async def app(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        route = _routes(method, path, headers) or "unknown"
        client = scope.get("client")
        record = RecordedRequest(
            method=method,
            path=path,
            query=parse_qs(scope.get("query_string", b"").decode()),
            headers=headers,
            body=bytes(body),
            route=route,
            client_port=client[1] if client else None,
        )
        with self._lock:
            self.requests.append(record)
        exchange = _Exchange(self, record, receive, send)
        try:
            await exchange.handle()
        finally:
            exchange.stop_watching()
            record.done.set()


@contextlib.contextmanager
def running_server(**kwargs: Any) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_llm", description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8900, help="port (default 8900)")
    parser.add_argument("--api-key", action="append", help="require this key (repeatable); default: any key")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    server = FakeLLMServer(host=args.host, port=args.port, api_keys=args.api_key)
    if not args.quiet:
        base = f"http://{args.host}:{args.port}"
        print(
            f"""Fake LLM server on {base} (Ctrl-C to stop)

  OpenAI-compatible  {base}/v1/chat/completions, /v1/embeddings, /v1/models,
                     /v1/audio/transcriptions, /v1/audio/speech, /v1/moderations
  Anthropic          {base}/v1/messages
  Ollama             {base}/api/chat, /api/embed, /api/tags
  Rerank             {base}/v1/rerank

Models: `echo` (answers "You said: <your message>"), `lorem` (streams max_tokens words of lorem ipsum),
any text-embedding model name (deterministic {server.embedding_dimensions}-dimension vectors), any rerank model,
any speech2text model (echoes a text upload), any tts model (fake audio), any moderation model.

To use it in the platform, add the provider "OpenAI-API-compatible" with a custom model:
  model name: echo      endpoint_url: {base}/v1      api_key: {args.api_key[0] if args.api_key else "anything"}
or "Ollama" with base_url {base}.""",
            flush=True,
        )
    server.serve_forever()
