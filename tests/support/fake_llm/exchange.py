"""One request and its answer: reading the request, pacing and sending the reply, the protocol mixins."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tests.support.fake_llm.script import (
    _ERROR_TYPES,
    LOREM,
    RecordedRequest,
    Reply,
    _ClientGone,
    _Dropped,
    _last_user_text,
    count_words,
    split_text,
)
from tests.support.fake_llm.wire_anthropic import AnthropicWire
from tests.support.fake_llm.wire_extras import ExtrasWire
from tests.support.fake_llm.wire_ollama import OllamaWire
from tests.support.fake_llm.wire_openai import OpenAIWire

if TYPE_CHECKING:
    from tests.support.fake_llm.server import FakeLLMServer


class _Exchange(OpenAIWire, AnthropicWire, OllamaWire, ExtrasWire):
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
