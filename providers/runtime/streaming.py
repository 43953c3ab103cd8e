"""`LLMStream`: what a streaming `invoke_llm` returns.

It passes the adapter's content chunks through untouched (text deltas; tool calls already assembled), then
ends with one chunk carrying `finish_reason` and the priced `usage` (provider-reported tokens, or our
estimate), as Dify's last chunk does. Closing it, leaving an `async with` block, or cancelling the task
that iterates it closes the upstream HTTP response, so the provider stops generating (and billing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from providers.runtime.adapters.base import AdapterStream
from providers.runtime.messages import PromptMessage, Tool, ToolCall
from providers.runtime.pricing import PriceConfig
from providers.runtime.results import LLMResult, LLMResultChunk, LLMResultChunkDelta, LLMUsage
from providers.runtime.tokens import count_prompt_tokens, count_text_tokens

_closing: set[asyncio.Task[None]] = set()


class LLMStream:
    __slots__ = (
        "_closed",
        "_count",
        "_first",
        "_pricing",
        "_started",
        "_texts",
        "_tool_calls",
        "_tools",
        "_ttft",
        "_upstream",
        "model",
        "prompt_messages",
        "result",
    )

    def __init__(
        self,
        *,
        upstream: AdapterStream,
        first: LLMResultChunk | None,
        model: str,
        prompt_messages: list[PromptMessage],
        tools: Sequence[Tool] | None,
        pricing: PriceConfig | None,
        started: float,
        time_to_first_token: float | None,
    ) -> None:
        self._upstream = upstream
        self._first = first
        self.model = model
        self.prompt_messages = prompt_messages
        self._tools = tools
        self._pricing = pricing
        self._started = started
        self._ttft = time_to_first_token
        self._texts: list[str] = []
        self._tool_calls: list[ToolCall] = []
        self._count = 0
        self._closed = False
        # The whole answer (text, tool calls, usage), set once the stream has ended normally.
        self.result: LLMResult | None = None

    def __aiter__(self) -> LLMStream:
        return self

    def _record(self, chunk: LLMResultChunk) -> LLMResultChunk:
        message = chunk.delta.message
        content = message.content
        if content:
            self._texts.append(content if isinstance(content, str) else message.text())
        if message.tool_calls:
            self._tool_calls.extend(message.tool_calls)
        chunk.delta.index = self._count
        self._count += 1
        return chunk

    async def __anext__(self) -> LLMResultChunk:
        first = self._first
        if first is not None:
            self._first = None
            return self._record(first)
        if self._closed:
            raise StopAsyncIteration
        try:
            chunk = await self._upstream.__anext__()
        except StopAsyncIteration:
            return await self._finish()
        except BaseException:
            # An error, or the consuming task was cancelled: drop the upstream connection now.
            await self.aclose()
            raise
        return self._record(chunk)

    async def _finish(self) -> LLMResultChunk:
        self._closed = True
        await self._upstream.aclose()
        state = self._upstream.state
        text = "".join(self._texts)
        if state.tokens is not None:
            prompt_tokens, completion_tokens, estimated = (
                state.tokens.prompt_tokens,
                state.tokens.completion_tokens,
                False,
            )
        else:
            prompt_tokens = count_prompt_tokens(self.prompt_messages, self._tools)
            completion_tokens = count_text_tokens(text) + sum(
                count_text_tokens(call.name) + count_text_tokens(call.arguments) for call in self._tool_calls
            )
            estimated = True
        usage = LLMUsage.build(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            pricing=self._pricing,
            latency=time.perf_counter() - self._started,
            time_to_first_token=self._ttft,
            estimated=estimated,
        )
        self.result = LLMResult(
            model=self.model,
            prompt_messages=self.prompt_messages,
            message=PromptMessage(role="assistant", content=text, tool_calls=list(self._tool_calls)),
            usage=usage,
            finish_reason=state.finish_reason,
            system_fingerprint=state.system_fingerprint,
        )
        return LLMResultChunk(
            model=self.model,
            prompt_messages=self.prompt_messages,
            system_fingerprint=state.system_fingerprint,
            delta=LLMResultChunkDelta(
                index=self._count,
                message=PromptMessage(role="assistant", content=""),
                usage=usage,
                finish_reason=state.finish_reason,
            ),
        )

    async def aclose(self) -> None:
        """Stop early: closes the upstream response. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._first = None
        await self._upstream.aclose()

    async def __aenter__(self) -> LLMStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def collect(self) -> LLMResult:
        """Read the stream to its end and return the whole result."""
        async with self:
            async for _ in self:
                pass
        if self.result is None:  # closed before the end
            raise RuntimeError("the stream was closed before it ended")
        return self.result

    def __del__(self) -> None:
        # `async for ... break` does not close an async iterator: don't leave the upstream open until the
        # connection times out. Best effort only; `async with` or `aclose()` is the way to stop early.
        if getattr(self, "_closed", True):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if not loop.is_closed():
            task = loop.create_task(self._upstream.aclose())
            _closing.add(task)  # keep a reference until it is done
            task.add_done_callback(_closing.discard)
