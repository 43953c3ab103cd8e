"""Builders and fake ports for engine tests (no Django, no network beyond loopback)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from workflows.engine import (
    Engine,
    File,
    Limits,
    ModelDelta,
    ModelRequest,
    Ports,
    RetrievalRequest,
    RetrievedChunk,
    RunOutcome,
    StreamChunk,
    ToolMessage,
    ToolRequest,
    Usage,
    parse_graph,
)


def node(node_id: str, node_type: str, *, parent: str | None = None, **data: Any) -> dict[str, Any]:
    wrapper: dict[str, Any] = {
        "id": node_id,
        "type": "custom",
        "data": {"type": node_type, "title": node_id, **data},
    }
    if parent:
        wrapper["parentId"] = parent
    return wrapper


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {"id": f"{source}-{handle}-{target}", "source": source, "target": target, "sourceHandle": handle}


def start(*variables: str, **typed: str) -> dict[str, Any]:
    entries = [{"variable": name, "label": name, "type": "text-input"} for name in variables]
    entries += [{"variable": name, "label": name, "type": kind} for name, kind in typed.items()]
    return node("start", "start", variables=entries)


def end(**outputs: list[str]) -> dict[str, Any]:
    return node(
        "end", "end", outputs=[{"variable": key, "value_selector": value} for key, value in outputs.items()]
    )


def answer(node_id: str, text: str) -> dict[str, Any]:
    return node(node_id, "answer", answer=text)


def template(node_id: str, text: str, parent: str | None = None, **variables: list[str]) -> dict[str, Any]:
    return node(
        node_id,
        "template-transform",
        parent=parent,
        template=text,
        variables=[{"variable": key, "value_selector": value} for key, value in variables.items()],
    )


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}


def chain(*node_ids: str) -> list[dict[str, Any]]:
    return [edge(a, b) for a, b in itertools.pairwise(node_ids)]


async def run(
    config: dict[str, Any] | Any,
    *,
    inputs: dict[str, Any] | None = None,
    ports: Ports | None = None,
    limits: Limits | None = None,
    **kwargs: Any,
) -> RunOutcome:
    parsed = parse_graph(config) if isinstance(config, dict) else config
    engine = Engine(ports=ports or Ports(), limits=limits or Limits())
    return await engine.run(parsed, inputs=inputs or {}, **kwargs).collect()


def chunks(outcome: RunOutcome) -> list[str]:
    return [event.chunk for event in outcome.events if isinstance(event, StreamChunk)]


def kinds(outcome: RunOutcome) -> list[str]:
    return [type(event).__name__ for event in outcome.events]


def of_type(outcome: RunOutcome, cls: type) -> list[Any]:
    return [event for event in outcome.events if isinstance(event, cls)]


class FakeModel:
    """A ModelPort answering from a script: each call pops the next reply (a text or a list of deltas)."""

    def __init__(self, *replies: str | list[ModelDelta] | Callable[[ModelRequest], list[ModelDelta]]) -> None:
        self.replies = list(replies)
        self.requests: list[ModelRequest] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if callable(reply):
            reply = reply(request)
        if isinstance(reply, str):
            words = reply.split(" ")
            deltas = [ModelDelta(text=w if i == 0 else " " + w) for i, w in enumerate(words)]
            deltas.append(
                ModelDelta(
                    usage=Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5), finish_reason="stop"
                )
            )
        else:
            deltas = reply
        for delta in deltas:
            yield delta


class FailingModel:
    def __init__(self, message: str = "model unavailable") -> None:
        self.message = message
        self.calls = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        self.calls += 1
        raise RuntimeError(self.message)
        yield ModelDelta()  # pragma: no cover - makes this an async generator


class FakeRetrieval:
    def __init__(self, chunks: Iterable[RetrievedChunk]) -> None:
        self.chunks = list(chunks)
        self.requests: list[RetrievalRequest] = []

    async def retrieve(self, request: RetrievalRequest) -> list[RetrievedChunk]:
        self.requests.append(request)
        return self.chunks


class FakeTools:
    def __init__(self, *messages: ToolMessage) -> None:
        self.messages = list(messages)
        self.requests: list[ToolRequest] = []

    async def invoke(self, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        self.requests.append(request)
        for message in self.messages:
            yield message


class FakeFiles:
    def __init__(self, contents: dict[str, bytes] | None = None) -> None:
        self.contents = contents or {}
        self.saved: list[tuple[bytes, str, str | None]] = []

    async def download(self, file: File) -> bytes:
        return self.contents[file.related_id or file.filename or ""]

    async def save(self, *, content: bytes, mime_type: str, filename: str | None = None) -> File:
        self.saved.append((content, mime_type, filename))
        return File(
            type="document",
            transfer_method="tool_file",
            related_id=f"tool-{len(self.saved)}",
            filename=filename,
            mime_type=mime_type,
            size=len(content),
        )

    async def extract_text(self, file: File) -> str:
        if (file.extension or "") == ".bin":
            raise ValueError("unsupported file type")
        return f"extracted {file.filename}"
