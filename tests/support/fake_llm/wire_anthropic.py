"""The Anthropic messages wire format of the fake server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from tests.support.fake_llm.script import (
    Reply,
    split_even,
    split_text,
)


class AnthropicWire:
    """Methods of `_Exchange` that answer in Anthropic's shapes."""

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
