"""Ports: the only way nodes reach the outside world.

A run receives a `Ports` bundle. The Django side implements the real ports (`providers/` for models
and tools, `knowledge/` for retrieval, file storage for files); tests pass fakes. The engine ships
working in-process implementations for HTTP (`http_client.HttpxHttpPort`) and code execution
(`sandbox.SandboxCodePort`). A node whose port is missing fails with `PortMissingError`.

Every port method is `async`. A port must raise an exception (any type) to report a failure; the
node turns it into a failed node result with the exception's message. Ports must not block the
event loop: run blocking work in a thread (`asyncio.to_thread`) or a subprocess.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from .values import File

# The node whose port calls are in flight: set by the executor in each node's task, so a port wrapper
# (replay recording) can key calls by node without every port request carrying the id.
current_node_id: ContextVar[str | None] = ContextVar("current_node_id", default=None)

# -- models ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class ContentPart:
    """A non-text part of a message (vision input)."""

    type: str  # "image" | "document" | "audio" | "video"
    file: File
    detail: str = "high"


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as models return it


@dataclass(slots=True)
class PromptMessage:
    role: str  # system | user | assistant | tool
    content: str = ""
    parts: list[ContentPart] = field(default_factory=list)
    name: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "text": self.content}
        if self.parts:
            data["files"] = [part.file.to_dict() for part in self.parts]
        if self.tool_calls:
            data["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls
            ]
        if self.tool_call_id:
            data["tool_call_id"] = self.tool_call_id
        return data


@dataclass(slots=True)
class ToolSpec:
    """A function the model may call (parameter extractor, agents)."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    total_price: float = 0.0
    currency: str = "USD"
    latency: float = 0.0

    def plus(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            total_price=self.total_price + other.total_price,
            currency=other.currency or self.currency,
            latency=self.latency + other.latency,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "total_price": self.total_price,
            "currency": self.currency,
            "latency": self.latency,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Usage:
        data = data or {}
        return cls(
            prompt_tokens=int(data.get("prompt_tokens", 0) or 0),
            completion_tokens=int(data.get("completion_tokens", 0) or 0),
            total_tokens=int(data.get("total_tokens", 0) or 0),
            total_price=float(data.get("total_price", 0) or 0),
            currency=str(data.get("currency", "USD") or "USD"),
            latency=float(data.get("latency", 0) or 0),
        )


@dataclass(slots=True)
class ModelRequest:
    provider: str
    model: str
    mode: str  # "chat" | "completion"
    messages: list[PromptMessage]
    parameters: dict[str, Any] = field(default_factory=dict)  # temperature, max_tokens, ...
    stop: list[str] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    response_schema: dict[str, Any] | None = None  # structured output JSON Schema
    user: str | None = None
    tenant_id: str | None = None


@dataclass(slots=True)
class ModelDelta:
    """One streamed piece of a model answer. The last delta should carry `usage` and `finish_reason`."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    files: list[File] = field(default_factory=list)


@runtime_checkable
class ModelPort(Protocol):
    """Invoke a chat/completion model (LLM, question-classifier, parameter-extractor, agents).

    `stream` returns an async iterator of deltas. Implementations resolve provider credentials for
    the tenant, translate messages and tools to the provider's API, and report usage on the final
    delta. Errors (bad credentials, rate limits, timeouts) are raised as exceptions. Idempotency is
    not required: the engine only retries when the node's retry config says so.
    """

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]: ...


# -- retrieval ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class RetrievalRequest:
    dataset_ids: list[str]
    query: str
    mode: str = "multiple"  # "single" | "multiple"
    top_k: int = 4
    score_threshold: float | None = None
    reranking: dict[str, Any] | None = None  # reranking_mode, reranking_model, weights
    single_model: dict[str, Any] | None = None  # model used to route in "single" mode
    metadata_filtering: dict[str, Any] | None = None  # mode + conditions, already rendered
    tenant_id: str | None = None
    user: str | None = None
    files: list[File] = field(default_factory=list)


@dataclass(slots=True)
class RetrievedChunk:
    content: str
    score: float | None = None
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[File] = field(default_factory=list)


@runtime_checkable
class RetrievalPort(Protocol):
    """Search knowledge bases (knowledge-retrieval node). Implemented by `knowledge/`.

    Returns chunks best first. Must scope every dataset id to the run's tenant and ignore (not
    fail on) datasets that no longer exist, as Dify does.
    """

    async def retrieve(self, request: RetrievalRequest) -> list[RetrievedChunk]: ...


# -- tools and agents --------------------------------------------------------------------------------


@dataclass(slots=True)
class ToolRequest:
    provider_type: str  # builtin | plugin | api | workflow | app | mcp | dataset-retrieval
    provider_id: str
    tool_name: str
    parameters: dict[str, Any]
    configurations: dict[str, Any] = field(default_factory=dict)
    credential_id: str | None = None
    tenant_id: str | None = None
    user: str | None = None
    call_depth: int = 0
    node_data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ToolMessage:
    """One message from a tool: `text`, `json`, `link`, `file`/`image`, `variable`, `log`."""

    type: str
    text: str = ""
    data: Any = None
    file: File | None = None
    name: str = ""  # variable name for `variable` messages
    stream: bool = False  # for `variable`: append `text` to a streamed string variable


@runtime_checkable
class ToolPort(Protocol):
    """Invoke a tool (builtin, plugin, API, workflow-as-tool, MCP). Implemented by `providers/`."""

    def invoke(self, request: ToolRequest) -> AsyncIterator[ToolMessage]: ...


@dataclass(slots=True)
class AgentRequest:
    strategy_provider: str
    strategy: str
    parameters: dict[str, Any]
    tenant_id: str | None = None
    user: str | None = None
    node_data: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class AgentPort(Protocol):
    """Run an agent strategy (agent node). Yields the same message kinds as tools plus `log`."""

    def run(self, request: AgentRequest) -> AsyncIterator[ToolMessage]: ...


# -- code, HTTP, files, memory, human input, clock ------------------------------------------------------


class CodeExecutionError(Exception):
    """The user's code raised, timed out or printed something that is not a result."""


@runtime_checkable
class CodePort(Protocol):
    """Run a code node's `main` with keyword inputs and return the dict it returns.

    `language` is "python3" or "javascript". Must enforce its own timeout and resource limits and
    raise `CodeExecutionError` with a user-readable message on any failure.
    """

    async def execute(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(slots=True)
class HttpRequest:
    method: str
    url: str
    params: list[tuple[str, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: str | bytes | None = None
    data: dict[str, str] | None = None
    json: Any = None
    files: list[tuple[str, tuple[str | None, bytes, str]]] | None = None
    timeout: tuple[float, float, float] = (10.0, 600.0, 600.0)  # connect, read, write
    verify_ssl: bool = True
    follow_redirects: bool = True
    max_response_bytes: int = 10 * 1024 * 1024


@dataclass(slots=True)
class HttpResponse:
    status_code: int
    headers: dict[str, str]  # keys lower-cased
    content: bytes

    @property
    def text(self) -> str:
        charset = "utf-8"
        content_type = self.headers.get("content-type", "")
        for piece in content_type.split(";")[1:]:
            key, _, value = piece.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip().strip('"')
        try:
            return self.content.decode(charset)
        except (LookupError, UnicodeDecodeError):
            return self.content.decode("utf-8", errors="replace")


class HttpPortError(Exception):
    """Network failure, timeout, blocked destination or response over the size limit."""


@runtime_checkable
class HttpPort(Protocol):
    """Send one HTTP request (http-request node). No retries here: the engine retries nodes."""

    async def request(self, request: HttpRequest) -> HttpResponse: ...


@runtime_checkable
class FilePort(Protocol):
    """Access file bytes and store generated files.

    `download` returns a file's bytes (uploads, tool files, remote URLs). `save` stores bytes
    produced by a node (HTTP file responses, model images) and returns a `File` that later nodes and
    the API can reference. `extract_text` turns a document into text (document-extractor); it may
    raise for unsupported types.
    """

    async def download(self, file: File) -> bytes: ...

    async def save(self, *, content: bytes, mime_type: str, filename: str | None = None) -> File: ...

    async def extract_text(self, file: File) -> str: ...


@runtime_checkable
class MemoryPort(Protocol):
    """Conversation history for chatflow nodes with `memory` enabled (oldest first)."""

    async def history(self, *, conversation_id: str, max_messages: int | None) -> list[PromptMessage]: ...


@dataclass(slots=True)
class HumanInputRequest:
    node_id: str
    node_title: str
    run_id: str
    form_content: str  # already rendered with the pool
    inputs: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    node_data: dict[str, Any]


@dataclass(slots=True)
class HumanInputDecision:
    """`status`: "pause" (wait for a human), "submitted", or "expired" (timeout branch)."""

    status: str
    action_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None


@runtime_checkable
class HumanInputPort(Protocol):
    """Create or look up the form for a human-input node. Returning "pause" pauses the run."""

    async def request(self, request: HumanInputRequest) -> HumanInputDecision: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time. Tests may pass a fake clock to make retries and timestamps deterministic."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(slots=True)
class Ports:
    """Everything with side effects a run may use. Unset ports make the nodes needing them fail."""

    models: ModelPort | None = None
    retrieval: RetrievalPort | None = None
    tools: ToolPort | None = None
    agents: AgentPort | None = None
    code: CodePort | None = None
    http: HttpPort | None = None
    files: FilePort | None = None
    memory: MemoryPort | None = None
    human_input: HumanInputPort | None = None
    clock: Clock = field(default_factory=SystemClock)

    def replace(self, **changes: Any) -> Ports:
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return Ports(**values)
