"""Reverse calls: a plugin asking the platform for a model or a tool while it serves a call
(`session.model.llm.invoke(...)`, `session.tool.invoke(...)` in the SDK). They run for the workspace whose
call the plugin is serving, through the same services as any other call (its credentials, metering,
the tool port), so a plugin can never reach another workspace's models.

Handled: `llm` (streamed), `text_embedding`, `rerank`, `tool`. Others answer the plugin with an error
naming the type (apps, storage, workflow nodes are not offered here yet).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from providers.runtime.results import LLMResultChunk
from workflows.engine.ports import ToolMessage, ToolRequest


class ReverseCallRefused(Exception):
    pass


def _chunk_dict(chunk: LLMResultChunk) -> dict[str, Any]:
    delta = chunk.delta
    message = delta.message
    return {
        "model": chunk.model,
        "prompt_messages": [],
        "system_fingerprint": chunk.system_fingerprint,
        "delta": {
            "index": delta.index,
            "message": {
                "role": "assistant",
                "content": chunk.text,
                "name": None,
                "tool_calls": [call.to_dict() for call in message.tool_calls or []],
            },
            "usage": delta.usage.to_dict() if delta.usage is not None else None,
            "finish_reason": delta.finish_reason,
        },
    }


def _tool_message_dict(message: ToolMessage) -> dict[str, Any]:
    if message.type == "json":
        return {"type": "json", "message": {"json_object": message.data}, "meta": None}
    if message.type == "variable":
        return {
            "type": "variable",
            "message": {
                "variable_name": message.name,
                "variable_value": message.data,
                "stream": message.stream,
            },
            "meta": None,
        }
    if message.type == "link":
        return {"type": "link", "message": {"text": message.text}, "meta": None}
    return {
        "type": "text",
        "message": {"text": message.text or ("" if message.data is None else str(message.data))},
        "meta": None,
    }


class ReverseCalls:
    """The reverse-call handler for calls made on behalf of one workspace (and end user)."""

    def __init__(self, *, tenant_id: str, user: str | None = None, tools: Any = None) -> None:
        self.tenant_id = str(tenant_id)
        self.user = user
        self.tools = tools  # the run's ToolPort, when the plugin serves a tool call

    def __call__(self, invoke: Mapping[str, Any]) -> AsyncIterator[Mapping[str, Any]]:
        kind = str(invoke.get("type") or "")
        request = dict(invoke.get("request") or {})
        handler = {
            "llm": self._llm,
            "text_embedding": self._embedding,
            "rerank": self._rerank,
            "tool": self._tool,
        }.get(kind)
        if handler is None:
            return self._refuse(kind)
        return handler(request)

    async def _refuse(self, kind: str) -> AsyncIterator[Mapping[str, Any]]:
        raise ReverseCallRefused(f"reverse call {kind or '(none)'} is not supported by this platform")
        yield {}  # pragma: no cover - makes this an async generator

    async def _llm(self, request: dict[str, Any]) -> AsyncIterator[Mapping[str, Any]]:
        from providers.services.invocation import llm_stream

        stream = await llm_stream(
            tenant_id=self.tenant_id,
            provider=str(request["provider"]),
            model=str(request["model"]),
            messages=list(request.get("prompt_messages") or []),
            parameters=dict(request.get("completion_params") or {}),
            tools=list(request.get("tools") or []) or None,
            stop=list(request.get("stop") or []) or None,
            user=self.user,
            source={"plugin_reverse_call": True},
        )
        async with stream:
            async for chunk in stream:
                yield _chunk_dict(chunk)

    async def _embedding(self, request: dict[str, Any]) -> AsyncIterator[Mapping[str, Any]]:
        from providers.services.invocation import embed

        result = await embed(
            tenant_id=self.tenant_id,
            provider=str(request["provider"]),
            model=str(request["model"]),
            texts=[str(t) for t in request.get("texts") or []],
        )
        yield {"model": result.model, "embeddings": result.embeddings, "usage": result.usage.to_dict()}

    async def _rerank(self, request: dict[str, Any]) -> AsyncIterator[Mapping[str, Any]]:
        from providers.services.invocation import rerank

        result = await rerank(
            tenant_id=self.tenant_id,
            provider=str(request["provider"]),
            model=str(request["model"]),
            query=str(request.get("query") or ""),
            documents=[str(d) for d in request.get("docs") or []],
            top_n=request.get("top_n"),
            score_threshold=request.get("score_threshold"),
        )
        yield {
            "model": result.model,
            "docs": [{"index": d.index, "text": d.text, "score": d.score} for d in result.docs],
        }

    async def _tool(self, request: dict[str, Any]) -> AsyncIterator[Mapping[str, Any]]:
        from providers.tools.port import TenantToolPort

        port = self.tools or TenantToolPort(tenant_id=self.tenant_id, user=self.user)
        tool_request = ToolRequest(
            provider_type=str(request.get("tool_type") or "builtin"),
            provider_id=str(request.get("provider") or ""),
            tool_name=str(request.get("tool") or ""),
            parameters=dict(request.get("tool_parameters") or {}),
            tenant_id=self.tenant_id,
            user=self.user,
        )
        async for message in port.invoke(tool_request):
            yield _tool_message_dict(message)
