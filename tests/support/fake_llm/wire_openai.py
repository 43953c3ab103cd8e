"""The OpenAI chat-completions wire format of the fake server (also Azure OpenAI's)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from tests.support.fake_llm.script import (
    Reply,
    split_even,
    split_text,
)


class OpenAIWire:
    """Methods of `_Exchange` that answer in OpenAI's shapes."""

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
