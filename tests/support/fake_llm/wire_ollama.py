"""The Ollama chat wire format of the fake server (NDJSON streaming)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tests.support.fake_llm.script import (
    Reply,
    split_text,
)


class OllamaWire:
    """Methods of `_Exchange` that answer in Ollama's shapes."""

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
