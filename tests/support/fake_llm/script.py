"""How tests script the fake server (`Reply`, `FakeToolCall`), what it records (`RecordedRequest`), and
the helpers its answers share (text splitting, deterministic vectors, routing a request to a protocol)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_audio import (
    UploadedFile,
    parse_multipart,
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
