"""Fake model-provider servers on loopback: real HTTP (uvicorn), the providers' real wire protocols.

One server speaks all of them, on the paths the real APIs use:

  OpenAI            POST /v1/chat/completions (SSE when stream=true), POST /v1/embeddings, GET /v1/models,
                    POST /v1/audio/transcriptions (multipart), POST /v1/audio/speech (streamed audio bytes),
                    POST /v1/moderations
  Azure OpenAI      POST /openai/deployments/{deployment}/chat/completions|embeddings|audio/...?api-version=
  Anthropic         POST /v1/messages (SSE when stream=true), GET /v1/models (with an anthropic-version header)
  Ollama            POST /api/chat (NDJSON when stream is not false), POST /api/embed, GET /api/tags
  Rerank            POST /rerank, /v1/rerank, /v2/rerank (Jina/Cohere style)

Tests script it: `server.push(Reply(...))` queues answers, taken in order by the next matching requests
(text streamed in N chunks, tool calls streamed as fragments, usage, HTTP errors with the provider's error
body, HTML pages, garbage, delays before headers and between chunks, errors inside a stream, a connection
dropped mid-stream). With nothing queued it answers by default: chat echoes the last user message (or
streams lorem ipsum for a model named `lorem*`, `max_tokens` words long), embeddings are deterministic
vectors, rerank scores by word overlap, transcription echoes an upload that is text (else names its size
and digest), speech streams deterministic fake audio that carries its input text (`fake_audio.spoken()`
reads it back), moderation flags texts containing `server.moderation_words`. Every request is recorded (`server.requests`), including whether
the client hung up before the answer was complete.

As a development tool, with no API key needed:

    python -m tests.support.fake_llm --port 8900
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from tests.support.fake_audio import (
    AUDIO_CONTENT_TYPES,
    DEFAULT_MODERATION_WORDS,
    UploadedFile,
    audio_seconds,
    fake_audio,
    moderation_inputs,
    moderation_result,
    parse_multipart,
    split_bytes,
    transcribe,
)

LOREM = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "ut",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "ut",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "dolor",
    "in",
    "reprehenderit",
    "in",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "dolore",
    "eu",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "in",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
]


# --- the script ----------------------------------------------------------------------------------------------


@dataclass
class FakeToolCall:
    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class Reply:
    """One scripted answer. Defaults give a normal successful answer in whatever protocol is asked."""

    text: str = ""
    chunks: int | None = None  # stream the text in this many pieces (default: one per word)
    tool_calls: Sequence[FakeToolCall] = ()
    tool_call_chunks: int = 3  # pieces each tool call's arguments are streamed in
    usage: tuple[int, int] | bool = True  # (prompt, completion), True = counted, False = none reported
    finish_reason: str | None = None
    status: int = 200
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    body: str | bytes | Mapping[str, Any] | None = None  # raw body instead of the protocol's answer
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the response headers
    chunk_delay: float = 0.0  # between streamed pieces
    drop_after: int | None = None  # close the connection after this many streamed pieces
    stream_error: tuple[str, str] | None = None  # (type, message) sent inside the stream after the pieces
    embeddings: Sequence[Sequence[float]] | None = None
    rerank: Sequence[tuple[int, float]] | None = None  # (index, score) pairs
    audio: bytes | None = None  # speech: stream these bytes instead of the fake audio
    route: str | None = None  # only for requests on this route (`chat`, `ollama.chat`, `embeddings`...)

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        route: str | None = None,
    ) -> Reply:
        return cls(
            status=status,
            error_message=message,
            error_type=type,
            error_code=code,
            headers=headers or {},
            route=route,
        )

    @classmethod
    def html(cls, status: int = 200, route: str | None = None) -> Reply:
        page = (
            "<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>"
        )
        return cls(status=status, body=page, content_type="text/html; charset=utf-8", route=route)

    @classmethod
    def garbage(
        cls, status: int = 200, content_type: str = "application/json", route: str | None = None
    ) -> Reply:
        return cls(status=status, body=b"\x00\x17not json at all{{{", content_type=content_type, route=route)

    @classmethod
    def tools(cls, *calls: FakeToolCall, text: str = "", route: str | None = None, **kwargs: Any) -> Reply:
        return cls(text=text, tool_calls=calls, route=route, **kwargs)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    route: str
    client_port: int | None
    reply: Reply | None = None
    chunks_sent: int = 0
    completed: bool = False  # the whole answer was sent
    disconnected: bool = False  # the client hung up before the answer was complete
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def is_multipart(self) -> bool:
        return self.headers.get("content-type", "").startswith("multipart/form-data")

    @property
    def form(self) -> dict[str, str]:
        """The text fields of a multipart upload."""
        return parse_multipart(self.headers["content-type"], self.body)[0] if self.is_multipart else {}

    @property
    def files(self) -> dict[str, UploadedFile]:
        """The files of a multipart upload, by field name."""
        return parse_multipart(self.headers["content-type"], self.body)[1] if self.is_multipart else {}

    def wait_done(self, timeout: float = 5.0) -> bool:
        """Wait until the server has finished with this request (answered, or seen the client go)."""
        return self.done.wait(timeout)


class _ClientGone(Exception):
    """The client hung up; stop answering."""


class _Dropped(Exception):
    """Raised inside the app to make uvicorn close the connection mid-response."""


class _HideDrops(logging.Filter):
    """A scripted drop is not a server error: keep its traceback out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _Dropped))


_HIDE_DROPS = _HideDrops()


# --- helpers -------------------------------------------------------------------------------------------------


def _even_groups(items: Sequence[str], pieces: int) -> list[str]:
    base, extra = divmod(len(items), pieces)
    groups, start = [], 0
    for index in range(pieces):
        size = base + (1 if index < extra else 0)
        groups.append("".join(items[start : start + size]))
        start += size
    return [g for g in groups if g]


def split_text(text: str, pieces: int | None) -> list[str]:
    """Split text into stream pieces: one per word (with its trailing space), or `pieces` even groups."""
    if not text:
        return []
    words = re.findall(r"\S+\s*|\s+", text)
    if pieces is None:
        return words
    if pieces > len(words):
        return _even_groups(list(text), min(pieces, len(text)))
    return _even_groups(words, pieces)


def split_even(text: str, pieces: int) -> list[str]:
    if not text:
        return [""]
    size = max(1, math.ceil(len(text) / max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def count_words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, Mapping):
        return sum(count_words(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_words(v) for v in value)
    return 0


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for a text (same text, same vector)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def overlap_score(query: str, document: str) -> float:
    q = set(re.findall(r"\w+", query.lower()))
    d = set(re.findall(r"\w+", document.lower()))
    return round(len(q & d) / len(q | d), 6) if q and d else 0.0


def _last_user_text(messages: Any) -> str:
    for message in reversed(messages or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    str(part.get("text", ""))
                    for part in content
                    if isinstance(part, Mapping) and part.get("type") == "text"
                )
    return ""


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    529: "overloaded_error",
}


_AUDIO_ROUTES = (
    ("/audio/transcriptions", "transcriptions"),
    ("/audio/speech", "speech"),
    ("/moderations", "moderations"),
)


def _routes(method: str, path: str, headers: Mapping[str, str]) -> str | None:
    if method == "POST":
        if path.endswith("/chat/completions"):
            return "azure.chat" if path.startswith("/openai/") else "openai.chat"
        if path.endswith("/embeddings"):
            return "azure.embeddings" if path.startswith("/openai/") else "openai.embeddings"
        if path == "/v1/messages":
            return "anthropic.chat"
        if path == "/api/chat":
            return "ollama.chat"
        if path in ("/api/embed", "/api/embeddings"):
            return "ollama.embeddings"
        if path.endswith("/rerank"):
            return "rerank.rerank"
        for suffix, kind in _AUDIO_ROUTES:
            if path.endswith(suffix):
                return f"azure.{kind}" if path.startswith("/openai/") else f"openai.{kind}"
    if method == "GET":
        if path == "/v1/models":
            return "anthropic.models" if "anthropic-version" in headers else "openai.models"
        if path == "/api/tags":
            return "ollama.models"
    return None


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


class _Exchange:
    """One request/answer. Renders the reply in the request's protocol."""

    def __init__(
        self, server: FakeLLMServer, record: RecordedRequest, receive: Callable, send: Callable
    ) -> None:
        self.server = server
        self.record = record
        self.send = send
        self.protocol = record.route.split(".")[0]
        self._watcher = asyncio.ensure_future(self._watch(receive))

    async def _watch(self, receive: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    def stop_watching(self) -> None:
        self._watcher.cancel()

    @property
    def gone(self) -> bool:
        return self._watcher.done()

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up if the client hangs up."""
        if seconds > 0:
            await asyncio.wait([self._watcher], timeout=seconds)

    # -- low level

    async def start(
        self,
        status: int,
        content_type: str,
        extra: Mapping[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        headers = [(b"content-type", content_type.encode())]
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        for key, value in (extra or {}).items():
            headers.append((key.lower().encode(), str(value).encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def whole(
        self,
        status: int,
        payload: Any,
        content_type: str = "application/json",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        await self.start(status, content_type, extra, length=len(data))
        await self.send({"type": "http.response.body", "body": data, "more_body": False})
        self.record.completed = not self.gone

    async def piece(self, data: bytes, reply: Reply | None, counted: bool = True) -> None:
        """Send one streamed piece; honours chunk_delay and drop_after; notices a client that left."""
        if self.gone:
            raise _ClientGone
        if (
            counted
            and reply is not None
            and reply.drop_after is not None
            and self.record.chunks_sent >= reply.drop_after
        ):
            raise _Dropped
        await self.send({"type": "http.response.body", "body": data, "more_body": True})
        if counted:
            self.record.chunks_sent += 1
            if reply is not None and reply.chunk_delay:
                await self.pause(reply.chunk_delay)
                if self.gone:
                    raise _ClientGone

    async def end(self) -> None:
        if self.gone:
            self.record.disconnected = True
            return
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        self.record.completed = True

    # -- dispatch

    def _authorized(self) -> bool:
        keys = self.server.api_keys
        if not keys or self.protocol == "ollama":
            return True
        headers = self.record.headers
        presented = headers.get("x-api-key") or headers.get("api-key") or ""
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            presented = auth[7:]
        return presented in keys

    async def handle(self) -> None:
        record = self.record
        if record.route == "unknown":
            await self.whole(
                404,
                {"error": {"message": f"no route for {record.method} {record.path}", "type": "not_found"}},
            )
            return
        if not self._authorized():
            await self.error_answer(Reply.error(401, "Incorrect API key provided."))
            return
        reply = self.server._take(record.route)
        record.reply = reply
        if reply is not None and reply.delay:
            await self.pause(reply.delay)
            if self.gone:
                record.disconnected = True
                return
        if reply is not None and reply.body is not None:
            await self.whole(
                reply.status, reply.body, reply.content_type or "application/octet-stream", reply.headers
            )
            return
        if reply is not None and reply.status >= 400:
            await self.error_answer(reply)
            return
        request = {} if record.is_multipart else (record.json or {})
        kind = record.route.split(".")[1]
        try:
            if kind == "chat":
                await self.chat(request, reply or Reply())
            elif kind == "embeddings":
                await self.embeddings(request, reply)
            elif kind == "models":
                await self.list_models()
            elif kind == "rerank":
                await self.rerank(request, reply)
            elif kind == "transcriptions":
                await self.transcription(reply)
            elif kind == "speech":
                await self.speech(request, reply or Reply())
            elif kind == "moderations":
                await self.moderation(request, reply)
        except _ClientGone:
            record.disconnected = True

    async def error_answer(self, reply: Reply) -> None:
        status = reply.status
        message = reply.error_message or f"Error {status}"
        err_type = reply.error_type or _ERROR_TYPES.get(status, "api_error")
        if self.protocol == "anthropic":
            body: Any = {"type": "error", "error": {"type": err_type, "message": message}}
        elif self.protocol == "ollama":
            body = {"error": message}
        elif self.protocol == "rerank":
            body = {"detail": message}
        else:
            body = {"error": {"message": message, "type": err_type, "param": None, "code": reply.error_code}}
        await self.whole(status, body, "application/json", reply.headers)

    # -- chat

    def _default_text(self, request: Mapping[str, Any]) -> str:
        model = str(request.get("model", ""))
        if model.startswith("lorem"):
            limit = request.get("max_tokens") or request.get("max_completion_tokens")
            limit = limit or (request.get("options") or {}).get("num_predict") or 50
            words = [LOREM[i % len(LOREM)] for i in range(int(limit))]
            return " ".join(words)
        messages = request.get("messages")
        if self.protocol == "anthropic" and isinstance(request.get("system"), str):
            messages = messages or []
        return f"You said: {_last_user_text(messages)}"

    def _usage(self, request: Mapping[str, Any], reply: Reply, text: str) -> tuple[int, int] | None:
        if reply.usage is False:
            return None
        if isinstance(reply.usage, tuple):
            return reply.usage
        prompt = count_words(request.get("messages")) + count_words(request.get("system"))
        completion = len(split_text(text, None)) + sum(
            len(c.arguments_json) // 4 + 1 for c in reply.tool_calls
        )
        return max(1, prompt), completion

    async def chat(self, request: Mapping[str, Any], reply: Reply) -> None:
        text = reply.text if (reply.text or reply.tool_calls) else self._default_text(request)
        if self.protocol == "ollama":  # Ollama streams unless told not to
            streaming = request.get("stream", True) is not False
        else:
            streaming = bool(request.get("stream"))
        # Azure names the deployment in the path: /openai/deployments/{deployment}/chat/completions
        model = self.record.path.split("/")[3] if self.protocol == "azure" else str(request.get("model", ""))
        usage = self._usage(request, reply, text)
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        if self.protocol in ("openai", "azure"):
            if streaming:
                await self.openai_stream(request, reply, model, text, usage, finish)
            else:
                await self.whole(
                    200, self.openai_completion(reply, model, text, usage, finish), extra=reply.headers
                )
        elif self.protocol == "anthropic":
            finish = reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")
            if streaming:
                await self.anthropic_stream(reply, model, text, usage, finish)
            else:
                await self.whole(
                    200, self.anthropic_message(reply, model, text, usage, finish), extra=reply.headers
                )
        elif self.protocol == "ollama":
            if streaming:
                await self.ollama_stream(reply, model, text, usage)
            else:
                await self.whole(
                    200, self.ollama_message(reply, model, text, usage, done=True), extra=reply.headers
                )

    # OpenAI

    @staticmethod
    def _openai_usage(usage: tuple[int, int]) -> dict[str, int]:
        return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": usage[0] + usage[1]}

    def openai_completion(
        self, reply: Reply, model: str, text: str, usage: tuple[int, int] | None, finish: str
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id or f"call_{i}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json},
                }
                for i, c in enumerate(reply.tool_calls)
            ]
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        }
        if usage:
            answer["usage"] = self._openai_usage(usage)
        return answer

    async def openai_stream(
        self,
        request: Mapping[str, Any],
        reply: Reply,
        model: str,
        text: str,
        usage: tuple[int, int] | None,
        finish: str,
    ) -> None:
        await self.start(
            200, "text/event-stream; charset=utf-8", {"cache-control": "no-cache", **reply.headers}
        )
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
        }

        def event(choices: list[Any], **extra: Any) -> bytes:
            return b"data: " + json.dumps({**base, "choices": choices, **extra}).encode() + b"\n\n"

        first = True
        for piece in split_text(text, reply.chunks):
            delta: dict[str, Any] = {"content": piece}
            if first:
                delta["role"] = "assistant"
                first = False
            await self.piece(event([{"index": 0, "delta": delta, "finish_reason": None}]), reply)
        for index, call in enumerate(reply.tool_calls):
            opening = {
                "index": index,
                "id": call.id or f"call_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            await self.piece(
                event([{"index": 0, "delta": {"tool_calls": [opening]}, "finish_reason": None}]), reply
            )
            for fragment in split_even(call.arguments_json, reply.tool_call_chunks):
                part = {"index": index, "function": {"arguments": fragment}}
                await self.piece(
                    event([{"index": 0, "delta": {"tool_calls": [part]}, "finish_reason": None}]), reply
                )
        if reply.stream_error:
            err_type, message = reply.stream_error
            await self.piece(
                b"data: "
                + json.dumps({"error": {"message": message, "type": err_type, "code": None}}).encode()
                + b"\n\n",
                reply,
                counted=False,
            )
            await self.end()
            return
        await self.piece(event([{"index": 0, "delta": {}, "finish_reason": finish}]), reply)
        if usage and (request.get("stream_options") or {}).get("include_usage"):
            await self.piece(event([], usage=self._openai_usage(usage)), reply)
        await self.piece(b"data: [DONE]\n\n", reply, counted=False)
        await self.end()

    # Anthropic

    def anthropic_message(
        self, reply: Reply, model: str, text: str, usage: tuple[int, int] | None, finish: str
    ) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        for index, call in enumerate(reply.tool_calls):
            arguments = (
                call.arguments if isinstance(call.arguments, Mapping) else json.loads(call.arguments or "{}")
            )
            content.append(
                {"type": "tool_use", "id": call.id or f"toolu_{index}", "name": call.name, "input": arguments}
            )
        prompt, completion = usage or (0, 0)
        return {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": finish,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion},
        }

    async def anthropic_stream(
        self, reply: Reply, model: str, text: str, usage: tuple[int, int] | None, finish: str
    ) -> None:
        await self.start(
            200, "text/event-stream; charset=utf-8", {"cache-control": "no-cache", **reply.headers}
        )

        def event(name: str, data: Mapping[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

        prompt, completion = usage or (0, 0)
        start = {
            "type": "message_start",
            "message": {
                "id": f"msg_{uuid.uuid4().hex[:12]}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": 1},
            },
        }
        await self.piece(event("message_start", start), reply, counted=False)
        await self.piece(event("ping", {"type": "ping"}), reply, counted=False)
        index = 0
        if text:
            await self.piece(
                event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
                reply,
                counted=False,
            )
            for piece in split_text(text, reply.chunks):
                delta = {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                }
                await self.piece(event("content_block_delta", delta), reply)
            await self.piece(
                event("content_block_stop", {"type": "content_block_stop", "index": 0}), reply, counted=False
            )
            index = 1
        for offset, call in enumerate(reply.tool_calls):
            block = {"type": "tool_use", "id": call.id or f"toolu_{offset}", "name": call.name, "input": {}}
            await self.piece(
                event(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": block},
                ),
                reply,
                counted=False,
            )
            for fragment in split_even(call.arguments_json, reply.tool_call_chunks):
                delta = {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": fragment},
                }
                await self.piece(event("content_block_delta", delta), reply)
            await self.piece(
                event("content_block_stop", {"type": "content_block_stop", "index": index}),
                reply,
                counted=False,
            )
            index += 1
        if reply.stream_error:
            err_type, message = reply.stream_error
            await self.piece(
                event("error", {"type": "error", "error": {"type": err_type, "message": message}}),
                reply,
                counted=False,
            )
            await self.end()
            return
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": finish, "stop_sequence": None},
            "usage": {"output_tokens": completion},
        }
        await self.piece(event("message_delta", delta), reply, counted=False)
        await self.piece(event("message_stop", {"type": "message_stop"}), reply, counted=False)
        await self.end()

    # Ollama

    def ollama_message(
        self, reply: Reply, model: str, text: str, usage: tuple[int, int] | None, *, done: bool
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "function": {
                        "name": c.name,
                        "arguments": c.arguments
                        if isinstance(c.arguments, Mapping)
                        else json.loads(c.arguments),
                    }
                }
                for c in reply.tool_calls
            ]
        answer: dict[str, Any] = {
            "model": model,
            "created_at": "2026-01-01T00:00:00Z",
            "message": message,
            "done": done,
        }
        if done:
            answer["done_reason"] = reply.finish_reason or "stop"
            answer["total_duration"] = 1000
            if usage:
                answer["prompt_eval_count"], answer["eval_count"] = usage
        return answer

    async def ollama_stream(self, reply: Reply, model: str, text: str, usage: tuple[int, int] | None) -> None:
        await self.start(200, "application/x-ndjson", reply.headers)

        def line(data: Mapping[str, Any]) -> bytes:
            return json.dumps(data).encode() + b"\n"

        for piece in split_text(text, reply.chunks):
            await self.piece(
                line(
                    {
                        "model": model,
                        "created_at": "2026-01-01T00:00:00Z",
                        "message": {"role": "assistant", "content": piece},
                        "done": False,
                    }
                ),
                reply,
            )
        if reply.tool_calls:
            tool_reply = Reply(tool_calls=reply.tool_calls)
            await self.piece(line(self.ollama_message(tool_reply, model, "", None, done=False)), reply)
        if reply.stream_error:
            await self.piece(line({"error": reply.stream_error[1]}), reply, counted=False)
            await self.end()
            return
        final = self.ollama_message(Reply(finish_reason=reply.finish_reason), model, "", usage, done=True)
        await self.piece(line(final), reply, counted=False)
        await self.end()

    # -- embeddings, models, rerank

    async def embeddings(self, request: Mapping[str, Any], reply: Reply | None) -> None:
        inputs = request.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        inputs = list(inputs or [])
        dimensions = int(request.get("dimensions") or self.server.embedding_dimensions)
        vectors = (
            [list(v) for v in reply.embeddings]
            if reply and reply.embeddings
            else [fake_vector(str(t), dimensions) for t in inputs]
        )
        tokens = sum(count_words(t) for t in inputs)
        if reply is not None and isinstance(reply.usage, tuple):
            tokens = reply.usage[0]
        if self.protocol == "ollama":
            body: Any = {"model": request.get("model"), "embeddings": vectors, "prompt_eval_count": tokens}
        else:
            body = {
                "object": "list",
                "model": request.get("model"),
                "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            }
            if reply is None or reply.usage is not False:
                body["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        await self.whole(200, body, extra=reply.headers if reply else None)

    async def list_models(self) -> None:
        if self.protocol == "ollama":
            body: Any = {
                "models": [{"name": m, "model": m, "size": 1, "details": {}} for m in self.server.models]
            }
        elif self.protocol == "anthropic":
            data = [
                {"id": m, "type": "model", "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
                for m in self.server.models
            ]
            body = {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        else:
            body = {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.server.models
                ],
            }
        await self.whole(200, body)

    async def rerank(self, request: Mapping[str, Any], reply: Reply | None) -> None:
        query = str(request.get("query", ""))
        documents = [
            d if isinstance(d, str) else str(d.get("text", "")) for d in request.get("documents") or []
        ]
        if reply is not None and reply.rerank is not None:
            scored = list(reply.rerank)
        else:
            scored = sorted(
                ((i, overlap_score(query, d)) for i, d in enumerate(documents)),
                key=lambda p: p[1],
                reverse=True,
            )
        top_n = request.get("top_n") or len(scored)
        results = [
            {
                "index": i,
                "relevance_score": s,
                "document": {"text": documents[i] if i < len(documents) else ""},
            }
            for i, s in scored[: int(top_n)]
        ]
        await self.whole(
            200,
            {
                "model": request.get("model"),
                "results": results,
                "usage": {"total_tokens": count_words(query) + count_words(documents)},
            },
        )

    # -- audio and moderation (OpenAI's shapes; see tests.support.fake_audio)

    async def transcription(self, reply: Reply | None) -> None:
        if not self.record.is_multipart:
            await self.error_answer(Reply.error(400, "The request must be multipart/form-data."))
            return
        form, files = self.record.form, self.record.files
        upload = files.get("file")
        if upload is None or not form.get("model"):
            await self.error_answer(Reply.error(400, "Both 'file' and 'model' are required."))
            return
        text = reply.text if reply is not None and reply.text else transcribe(upload)
        response_format = form.get("response_format") or "json"
        if response_format in ("text", "srt", "vtt"):
            await self.whole(200, text, "text/plain; charset=utf-8", reply.headers if reply else None)
            return
        body: dict[str, Any] = {"text": text}
        if response_format == "verbose_json":
            body.update(language=form.get("language") or "english", duration=audio_seconds(upload.data))
        if reply is None or reply.usage is not False:
            body["usage"] = {"type": "duration", "seconds": audio_seconds(upload.data)}
        await self.whole(200, body, extra=reply.headers if reply else None)

    async def speech(self, request: Mapping[str, Any], reply: Reply) -> None:
        text = request.get("input")
        voice = request.get("voice")
        audio_format = request.get("response_format") or "mp3"
        problem = None
        if not isinstance(text, str) or not text:
            problem = "'input' is required."
        elif len(text) > self.server.speech_input_limit:
            problem = f"'input' is too long: at most {self.server.speech_input_limit} characters."
        elif not voice:
            problem = "'voice' is required."
        elif audio_format not in AUDIO_CONTENT_TYPES:
            problem = f"'response_format' must be one of {', '.join(AUDIO_CONTENT_TYPES)}."
        if problem:
            await self.error_answer(Reply.error(400, problem))
            return
        audio = reply.audio if reply.audio is not None else fake_audio(text, str(voice), audio_format)
        await self.start(200, AUDIO_CONTENT_TYPES[audio_format], reply.headers)
        for piece in split_bytes(audio, reply.chunks):
            await self.piece(piece, reply)
        await self.end()

    async def moderation(self, request: Mapping[str, Any], reply: Reply | None) -> None:
        inputs = moderation_inputs(request.get("input"))
        words = self.server.moderation_words
        await self.whole(
            200,
            {
                "id": f"modr-{uuid.uuid4().hex[:12]}",
                "model": request.get("model") or "omni-moderation-latest",
                "results": [moderation_result(text, words) for text in inputs],
            },
            extra=reply.headers if reply else None,
        )


@contextlib.contextmanager
def running_server(**kwargs: Any) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fake_llm", description=__doc__.split("\n\n")[0]
    )
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


if __name__ == "__main__":
    main()
