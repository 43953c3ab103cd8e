"""The engine's ports, implemented for one workspace: models and tools through ``providers``, retrieval
through ``knowledge``, conversation memory and files through our tables, HTTP and code through the
engine's own in-process implementations.

Built per run (cheap: plain objects); the expensive parts (the model runtime, HTTP pools) are
process-wide and shared.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.models import Message
from apps.runners.agent_node import TenantAgentPort
from dify_project.code_execution import code_port
from dify_project.db import db_sync_to_async
from dify_project.outbound import DestinationBlocked, ResponseTooLarge, async_http_client, ssrf_policy
from files.models import ToolFile, UploadFile
from knowledge.retrieval_port import TenantRetrievalPort
from netguard import Policy, aread_capped
from providers.tools.port import TenantToolPort
from workflows import engine as wf

_http_ports: dict[Policy, wf.HttpxHttpPort] = {}


def _http_port() -> wf.HttpxHttpPort:
    """The HTTP-request nodes' port, guarded by the SSRF policy the settings describe."""
    policy = ssrf_policy()
    port = _http_ports.get(policy)
    if port is None:
        port = _http_ports[policy] = wf.HttpxHttpPort(policy=policy)
    return port


_TEXT_EXTENSIONS = {
    ".txt",
    ".md",
    ".markdown",
    ".mdx",
    ".csv",
    ".json",
    ".yaml",
    ".yml",
    ".html",
    ".htm",
    ".xml",
    ".vtt",
    ".properties",
    ".log",
}


def _runtime_message(message: wf.PromptMessage) -> dict[str, Any]:
    """An engine prompt message as the runtime's Dify-style dict."""
    data: dict[str, Any] = {"role": message.role}
    if message.parts:
        content: list[dict[str, Any]] = [{"type": "text", "data": message.content}] if message.content else []
        for part in message.parts:
            url = part.file.fetch_url
            if part.type == "image" and url:
                content.append({"type": "image", "data": url, "detail": part.detail})
        data["content"] = content
    else:
        data["content"] = message.content
    if message.name:
        data["name"] = message.name
    if message.tool_calls:
        data["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    return data


class TenantModelPort:
    """Model calls on the workspace's credentials, metered against the run (engine `ModelPort`)."""

    def __init__(self, *, tenant_id: str, user: str | None, source: dict[str, Any] | None = None) -> None:
        self.tenant_id = tenant_id
        self.user = user
        self.source = source or {}

    async def stream(self, request: wf.ModelRequest) -> AsyncIterator[wf.ModelDelta]:
        from providers.services.invocation import llm_stream

        response_format = None
        if request.response_schema:
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": request.response_schema},
            }
        stream = await llm_stream(
            tenant_id=request.tenant_id or self.tenant_id,
            provider=request.provider,
            model=request.model,
            messages=[_runtime_message(m) for m in request.messages],
            parameters=dict(request.parameters),
            tools=[
                {"name": t.name, "description": t.description, "parameters": t.parameters}
                for t in request.tools
            ]
            or None,
            stop=list(request.stop) or None,
            response_format=response_format,
            user=request.user or self.user,
            source=self.source,
        )
        finish_reason = None
        async with stream:
            async for chunk in stream:
                delta = chunk.delta
                finish_reason = delta.finish_reason or finish_reason
                calls = [
                    wf.ToolCall(id=call.id, name=call.name, arguments=call.arguments)
                    for call in (delta.message.tool_calls or [])
                ]
                text = chunk.text
                if text or calls:
                    yield wf.ModelDelta(text=text, tool_calls=calls)
        usage = stream.result.usage
        yield wf.ModelDelta(
            usage=wf.Usage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.total_tokens,
                total_price=float(usage.total_price),
                currency=usage.currency,
                latency=usage.latency,
            ),
            finish_reason=finish_reason or "stop",
        )


class ConversationMemoryPort:
    """Chat history for LLM nodes with memory: the conversation's earlier turns, oldest first; or, when
    ``given`` ([query, answer] pairs from the caller, no stored conversation yet), those turns."""

    def __init__(self, given: list[Any] | None = None) -> None:
        self.given = given

    async def history(self, *, conversation_id: str, max_messages: int | None) -> list[wf.PromptMessage]:
        if self.given:
            history = [
                wf.PromptMessage(role=role, content=str(text))
                for query, answer in self.given
                for role, text in (("user", query), ("assistant", answer))
            ]
            return history[-max_messages:] if max_messages else history
        return await db_sync_to_async(self._history)(conversation_id, max_messages)

    @staticmethod
    def _history(conversation_id: str, max_messages: int | None) -> list[wf.PromptMessage]:
        # A window counts messages of both roles, as Dify's TokenBufferMemory does (two per turn).
        turns = (max_messages + 1) // 2 if max_messages else 500
        rows = list(
            Message.objects.filter(conversation_id=conversation_id)
            .exclude(answer="")
            .order_by("-created_at")
            .values_list("query", "answer")[:turns]
        )
        history: list[wf.PromptMessage] = []
        for query, answer in reversed(rows):
            history.append(wf.PromptMessage(role="user", content=query))
            history.append(wf.PromptMessage(role="assistant", content=answer))
        if max_messages:
            history = history[-max_messages:]
        return history


class StorageFilePort:
    """File bytes from uploads, tool files and remote URLs; generated files stored as tool files."""

    def __init__(self, *, tenant_id: str, user_id: str, conversation_id: str | None = None) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.conversation_id = conversation_id

    async def download(self, file: wf.File) -> bytes:
        if file.transfer_method in ("local_file", "tool_file") and file.related_id:
            return await db_sync_to_async(self._read_stored)(file)
        url = file.fetch_url
        if not url:
            raise ValueError(f"file {file.filename or file.id} has no content to read")
        try:
            async with async_http_client() as client, client.stream("GET", url) as response:
                response.raise_for_status()
                return await aread_capped(response, settings.SSRF_MAX_RESPONSE_BYTES)
        except (DestinationBlocked, ResponseTooLarge, httpx.InvalidURL) as error:
            raise ValueError(f"cannot download {url}: {error}") from None

    def _read_stored(self, file: wf.File) -> bytes:
        if file.transfer_method == "tool_file":
            row = ToolFile.objects.for_tenant(self.tenant_id).filter(id=file.related_id).first()
            key = row.file_key if row else None
        else:
            row = UploadFile.objects.for_tenant(self.tenant_id).filter(id=file.related_id).first()
            key = row.key if row else None
        if key is None:
            raise ValueError(f"file {file.related_id} not found in this workspace")
        with default_storage.open(key, "rb") as handle:
            return handle.read()

    async def save(self, *, content: bytes, mime_type: str, filename: str | None = None) -> wf.File:
        return await db_sync_to_async(self._save)(content, mime_type, filename)

    def _save(self, content: bytes, mime_type: str, filename: str | None) -> wf.File:
        extension = mimetypes.guess_extension(mime_type or "") or ".bin"
        file_id = uuid.uuid4()
        key = default_storage.save(f"tools/{self.tenant_id}/{file_id}{extension}", ContentFile(content))
        row = ToolFile.objects.create(
            id=file_id,
            tenant_id=self.tenant_id,
            user_id=self.user_id,
            conversation_id=self.conversation_id,
            file_key=key,
            mimetype=mime_type,
            name=filename or f"{file_id}{extension}",
            size=len(content),
        )
        kind = "image" if mime_type.startswith("image/") else "document"
        return wf.File(
            type=kind,
            transfer_method="tool_file",
            id=str(row.id),
            tenant_id=self.tenant_id,
            related_id=str(row.id),
            filename=row.name,
            extension=extension,
            mime_type=mime_type,
            size=len(content),
        )

    async def extract_text(self, file: wf.File) -> str:
        extension = (file.extension or "").lower()
        if extension and not extension.startswith("."):
            extension = f".{extension}"
        if extension not in _TEXT_EXTENSIONS and not (file.mime_type or "").startswith("text/"):
            raise ValueError(f"cannot extract text from {extension or file.mime_type or 'this file'} files")
        raw = await self.download(file)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            # Legacy encodings: latin-1 maps every byte, so the text is never lost, only possibly misread.
            return raw.decode("latin-1")


def ports_for_run(
    *,
    tenant_id: str,
    user_id: str,
    user: str | None,
    conversation_id: str | None,
    source: dict[str, Any],
    history: list[Any] | None = None,
) -> wf.Ports:
    files = StorageFilePort(tenant_id=tenant_id, user_id=user_id, conversation_id=conversation_id)
    tools = TenantToolPort(tenant_id=tenant_id, user=user, files=files)
    return wf.Ports(
        models=TenantModelPort(tenant_id=tenant_id, user=user, source=source),
        retrieval=TenantRetrievalPort(tenant_id=tenant_id, user=user, app_id=source.get("app_id")),
        tools=tools,
        agents=TenantAgentPort(tenant_id=tenant_id, user=user, tools=tools, source=source),
        memory=ConversationMemoryPort(history),
        files=files,
        http=_http_port(),
        code=code_port(),
    )


def offline_ports() -> wf.Ports:
    """Ports for a run outside any workspace (a DSL file's test cases): code and HTTP only; nodes needing
    a model, a tool, a dataset or files fail unless mocked."""
    return wf.Ports(http=_http_port(), code=code_port())
