"""Deterministic replay: record a run's outside I/O by wrapping its ports, and play it back.

`RecordingPorts(ports).ports` is a `Ports` bundle whose models, retrieval, tools, agents, code and
HTTP ports pass every call through to the real ones and append what came back to `.log`; `.log` is
plain JSON. `replaying_ports(log)` answers the same calls from the log instead. Calls are keyed by
the node that made them (`ports.current_node_id`, set by the executor) and their order within that
node, so a replay matches "the second model call of node `llm`" however the parallel branches
interleaved. Each entry keeps a digest of its request: a replay whose request differs (an upstream
node changed) still gets the recorded answer, and the mismatch is reported in `ReplayLog.drift`.

Secrets never reach the log: header values and mapping keys that look like credentials are replaced
by `[REDACTED]`, and so is every occurrence of a value listed in `secrets` (the run's secret
environment variables, for instance). Recording off means no wrapper at all: the plain ports run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .ports import (
    AgentRequest,
    HttpRequest,
    HttpResponse,
    ModelDelta,
    ModelRequest,
    Ports,
    RetrievalRequest,
    RetrievedChunk,
    ToolCall,
    ToolMessage,
    ToolRequest,
    Usage,
    current_node_id,
)
from .values import File

LOG_VERSION = 1
REDACTED = "[REDACTED]"
# Whole key names only: "max_tokens" or "total_tokens" are not secrets, "access_token" is.
_SECRET_KEY = re.compile(
    r"^(x[-_])?(proxy[-_])?(authorization|api[-_]?key|(client[-_])?secret([-_]key)?|password|passwd"
    r"|((access|refresh|auth|bearer|id|session)[-_])?token|(set[-_])?cookie|credentials?|private[-_]?key)$",
    re.I,
)
RECORDED_PORTS = ("models", "retrieval", "tools", "agents", "code", "http")


class ReplayMissingError(Exception):
    """A replayed node made a call the recorded run never made."""


class RecordedError(Exception):
    """A failure the recorded call ended with, raised again on replay with its original message."""

    def __init__(self, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type


# -- redaction and digests ---------------------------------------------------------------------------


class Redactor:
    """Scrubs credential-looking keys and known secret values from anything JSON-shaped."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole; short values would redact noise.
        self.secrets = sorted(
            {s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True
        )

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def raw(self, value: bytes) -> bytes:
        for secret in self.secrets:
            value = value.replace(secret.encode(), REDACTED.encode())
        return value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value) if self.secrets else value
        if isinstance(value, Mapping):
            return {
                str(k): (REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, "") else self(v))
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def _plain(value: Any) -> Any:
    """JSON-able form of requests and answers (dataclasses, files, bytes)."""
    if isinstance(value, File):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def request_digest(request: Any) -> str:
    """A stable fingerprint of a port request (tenant and user left out: they differ between runs)."""
    data = _plain(request)
    if isinstance(data, dict):
        for volatile in ("tenant_id", "user", "call_depth"):
            data.pop(volatile, None)
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- the log -------------------------------------------------------------------------------------------


@dataclass
class ReplayLog:
    """The recorded calls, in order; `drift` collects replay-time request mismatches."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    _counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def next_seq(self, node_id: str) -> int:
        seq = self._counters[node_id]
        self._counters[node_id] = seq + 1
        return seq

    def to_dict(self) -> dict[str, Any]:
        return {"version": LOG_VERSION, "entries": self.entries}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ReplayLog:
        return cls(entries=list((data or {}).get("entries") or []))

    def by_key(self) -> dict[tuple[str, str, int], dict[str, Any]]:
        return {(e["node_id"], e["port"], int(e["seq"])): e for e in self.entries}


class _Recorder:
    def __init__(self, log: ReplayLog, redact: Redactor) -> None:
        self.log = log
        self.redact = redact

    def begin(self, port: str, method: str, request: Any, summary: Any) -> dict[str, Any]:
        node_id = current_node_id.get() or ""
        entry = {
            "node_id": node_id,
            "port": port,
            "method": method,
            "seq": self.log.next_seq(f"{node_id}\x00{port}"),
            "digest": request_digest(request),
            "request": self.redact(_plain(summary)),
        }
        return entry

    def end(self, entry: dict[str, Any], *, response: Any = None, error: BaseException | None = None) -> None:
        entry["response"] = self.redact(response)
        if error is not None:
            entry["error"] = {"type": type(error).__name__, "message": self.redact(str(error))}
        self.log.entries.append(entry)


def _http_summary(request: HttpRequest) -> dict[str, Any]:
    data = asdict(request)
    data["headers"] = {k: (REDACTED if _SECRET_KEY.search(k) else v) for k, v in request.headers.items()}
    data.pop("files", None)  # file bytes would bloat the log; the digest still covers them
    return data


def _tool_summary(request: ToolRequest | AgentRequest) -> dict[str, Any]:
    data = _plain(request)
    data.pop("node_data", None)  # the graph holds it already
    data.pop("credential_id", None)
    return data


# -- recording wrappers ----------------------------------------------------------------------------


class _RecordingModels:
    def __init__(self, inner: Any, rec: _Recorder) -> None:
        self.inner, self.rec = inner, rec

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        entry = self.rec.begin("models", "stream", request, request)
        deltas: list[dict[str, Any]] = []
        try:
            async for delta in self.inner.stream(request):
                deltas.append(_plain(delta))
                yield delta
        except BaseException as exc:
            self.rec.end(entry, response=deltas, error=exc)
            raise
        self.rec.end(entry, response=deltas)


class _RecordingMessages:
    """Tools and agents: async iterators of `ToolMessage`."""

    def __init__(self, inner: Any, rec: _Recorder, port: str, method: str) -> None:
        self.inner, self.rec, self.port, self.method = inner, rec, port, method

    def invoke(self, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        return self._call(request)

    def run(self, request: AgentRequest) -> AsyncIterator[ToolMessage]:
        return self._call(request)

    async def _call(self, request: Any) -> AsyncIterator[ToolMessage]:
        entry = self.rec.begin(self.port, self.method, request, _tool_summary(request))
        messages: list[dict[str, Any]] = []
        try:
            async for message in getattr(self.inner, self.method)(request):
                messages.append(_plain(message))
                yield message
        except BaseException as exc:
            self.rec.end(entry, response=messages, error=exc)
            raise
        self.rec.end(entry, response=messages)


class _RecordingRetrieval:
    def __init__(self, inner: Any, rec: _Recorder) -> None:
        self.inner, self.rec = inner, rec

    async def retrieve(self, request: RetrievalRequest) -> list[RetrievedChunk]:
        entry = self.rec.begin("retrieval", "retrieve", request, request)
        try:
            chunks = await self.inner.retrieve(request)
        except BaseException as exc:
            self.rec.end(entry, error=exc)
            raise
        self.rec.end(entry, response=_plain(chunks))
        return chunks


class _RecordingCode:
    def __init__(self, inner: Any, rec: _Recorder) -> None:
        self.inner, self.rec = inner, rec

    async def execute(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        request = {"language": language, "code": code, "inputs": inputs}
        entry = self.rec.begin("code", "execute", request, {"language": language, "inputs": inputs})
        try:
            result = await self.inner.execute(language=language, code=code, inputs=inputs)
        except BaseException as exc:
            self.rec.end(entry, error=exc)
            raise
        self.rec.end(entry, response=_plain(result))
        return result


class _RecordingHttp:
    def __init__(self, inner: Any, rec: _Recorder) -> None:
        self.inner, self.rec = inner, rec

    async def request(self, request: HttpRequest) -> HttpResponse:
        entry = self.rec.begin("http", "request", request, _http_summary(request))
        try:
            response = await self.inner.request(request)
        except BaseException as exc:
            self.rec.end(entry, error=exc)
            raise
        self.rec.end(
            entry,
            response={
                "status_code": response.status_code,
                "headers": {
                    k: (REDACTED if k in ("set-cookie", "authorization") else v)
                    for k, v in response.headers.items()
                },
                # base64 hides text from the redactor: scrub the bytes before encoding them
                "content": _plain(self.rec.redact.raw(response.content)),
            },
        )
        return response


class RecordingPorts:
    """Wraps a run's ports so every outside call lands in `log` (redacted)."""

    def __init__(self, ports: Ports, *, secrets: Iterable[str] = ()) -> None:
        self.log = ReplayLog()
        rec = _Recorder(self.log, Redactor(secrets))
        wrapped: dict[str, Any] = {}
        if ports.models is not None:
            wrapped["models"] = _RecordingModels(ports.models, rec)
        if ports.retrieval is not None:
            wrapped["retrieval"] = _RecordingRetrieval(ports.retrieval, rec)
        if ports.tools is not None:
            wrapped["tools"] = _RecordingMessages(ports.tools, rec, "tools", "invoke")
        if ports.agents is not None:
            wrapped["agents"] = _RecordingMessages(ports.agents, rec, "agents", "run")
        if ports.code is not None:
            wrapped["code"] = _RecordingCode(ports.code, rec)
        if ports.http is not None:
            wrapped["http"] = _RecordingHttp(ports.http, rec)
        self.ports = ports.replace(**wrapped)


# -- replaying ------------------------------------------------------------------------------------------


def _file(data: Any) -> File | None:
    return File.from_dict(data) if isinstance(data, Mapping) else None


def _bytes(data: Any) -> bytes:
    if isinstance(data, Mapping) and "$bytes" in data:
        return base64.b64decode(data["$bytes"])
    return str(data or "").encode()


def _delta(data: Mapping[str, Any]) -> ModelDelta:
    return ModelDelta(
        text=data.get("text") or "",
        reasoning=data.get("reasoning") or "",
        tool_calls=[ToolCall(**c) for c in data.get("tool_calls") or []],
        usage=Usage.from_dict(data["usage"]) if data.get("usage") else None,
        finish_reason=data.get("finish_reason"),
        files=[f for f in (_file(x) for x in data.get("files") or []) if f is not None],
    )


def _message(data: Mapping[str, Any]) -> ToolMessage:
    return ToolMessage(
        type=data.get("type") or "text",
        text=data.get("text") or "",
        data=data.get("data"),
        file=_file(data.get("file")),
        name=data.get("name") or "",
        stream=bool(data.get("stream")),
    )


def _chunk(data: Mapping[str, Any]) -> RetrievedChunk:
    return RetrievedChunk(
        content=data.get("content") or "",
        score=data.get("score"),
        title=data.get("title") or "",
        metadata=dict(data.get("metadata") or {}),
        files=[f for f in (_file(x) for x in data.get("files") or []) if f is not None],
    )


class _Player:
    """Looks a call up by (node, port, order); falls through to `live` for the nodes named live."""

    def __init__(self, recorded: ReplayLog, live: Ports | None, live_nodes: Sequence[str]) -> None:
        self.entries = recorded.by_key()
        self.recorded = recorded
        self.live = live
        self.live_nodes = frozenset(live_nodes)
        self.counters = ReplayLog()

    def live_port(self, port: str) -> Any:
        node_id = current_node_id.get() or ""
        if node_id in self.live_nodes and self.live is not None:
            return getattr(self.live, port, None)
        return None

    def take(self, port: str, request: Any) -> dict[str, Any]:
        node_id = current_node_id.get() or ""
        seq = self.counters.next_seq(f"{node_id}\x00{port}")
        entry = self.entries.get((node_id, port, seq))
        if entry is None:
            raise ReplayMissingError(f"no recorded {port} call #{seq + 1} for node '{node_id}'")
        digest = request_digest(request)
        if digest != entry.get("digest"):
            self.recorded.drift.append({"node_id": node_id, "port": port, "seq": seq})
        return entry

    @staticmethod
    def fail_if_recorded(entry: Mapping[str, Any]) -> None:
        error = entry.get("error")
        if error:
            raise RecordedError(str(error.get("message") or ""), str(error.get("type") or ""))


class _ReplayModels:
    def __init__(self, player: _Player) -> None:
        self.player = player

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        live = self.player.live_port("models")
        if live is not None:
            async for delta in live.stream(request):
                yield delta
            return
        entry = self.player.take("models", request)
        for data in entry.get("response") or []:
            yield _delta(data)
        self.player.fail_if_recorded(entry)


class _ReplayMessages:
    def __init__(self, player: _Player, port: str, method: str) -> None:
        self.player, self.port, self.method = player, port, method

    def invoke(self, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        return self._call(request)

    def run(self, request: AgentRequest) -> AsyncIterator[ToolMessage]:
        return self._call(request)

    async def _call(self, request: Any) -> AsyncIterator[ToolMessage]:
        live = self.player.live_port(self.port)
        if live is not None:
            async for message in getattr(live, self.method)(request):
                yield message
            return
        entry = self.player.take(self.port, request)
        for data in entry.get("response") or []:
            yield _message(data)
        self.player.fail_if_recorded(entry)


class _ReplayRetrieval:
    def __init__(self, player: _Player) -> None:
        self.player = player

    async def retrieve(self, request: RetrievalRequest) -> list[RetrievedChunk]:
        live = self.player.live_port("retrieval")
        if live is not None:
            return await live.retrieve(request)
        entry = self.player.take("retrieval", request)
        self.player.fail_if_recorded(entry)
        return [_chunk(c) for c in entry.get("response") or []]


class _ReplayCode:
    def __init__(self, player: _Player) -> None:
        self.player = player

    async def execute(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        live = self.player.live_port("code")
        if live is not None:
            return await live.execute(language=language, code=code, inputs=inputs)
        entry = self.player.take("code", {"language": language, "code": code, "inputs": inputs})
        self.player.fail_if_recorded(entry)
        return dict(entry.get("response") or {})


class _ReplayHttp:
    def __init__(self, player: _Player) -> None:
        self.player = player

    async def request(self, request: HttpRequest) -> HttpResponse:
        live = self.player.live_port("http")
        if live is not None:
            return await live.request(request)
        entry = self.player.take("http", request)
        self.player.fail_if_recorded(entry)
        data = entry.get("response") or {}
        return HttpResponse(
            status_code=int(data.get("status_code") or 200),
            headers=dict(data.get("headers") or {}),
            content=_bytes(data.get("content")),
        )


def replaying_ports(
    recorded: ReplayLog,
    *,
    live: Ports | None = None,
    live_nodes: Sequence[str] = (),
    base: Ports | None = None,
) -> Ports:
    """Ports answering from `recorded`; calls made by `live_nodes` go to `live` instead (a node whose
    config was overridden must really run). `base` supplies the unrecorded ports (files, memory, clock)."""
    player = _Player(recorded, live, live_nodes)
    return (base or Ports()).replace(
        models=_ReplayModels(player),
        retrieval=_ReplayRetrieval(player),
        tools=_ReplayMessages(player, "tools", "invoke"),
        agents=_ReplayMessages(player, "agents", "run"),
        code=_ReplayCode(player),
        http=_ReplayHttp(player),
    )
