"""Anthropic's Messages API through the official `anthropic` SDK.

Differences from OpenAI handled here: the system prompt is a top-level field; tool results are `tool_result`
blocks in a user message; `max_tokens` is required; sampling parameters go in the body as they are.
Streaming events: `message_start` (input tokens), `content_block_start/delta/stop` (text deltas, or a
`tool_use` block whose input arrives as `input_json_delta` fragments), `message_delta` (stop reason,
output tokens), `message_stop`; `ping` is skipped by the SDK and `error` raises from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message

from providers.runtime.adapters.base import (
    AdapterStream,
    Completion,
    ModelAdapter,
    StreamState,
    content_chunk,
    expect,
    require,
)
from providers.runtime.adapters.errors import looks_like_html, map_exception
from providers.runtime.errors import InvalidResponseError, InvokeConnectionError, InvokeError, ParameterError
from providers.runtime.http import Timeouts, secret_digest
from providers.runtime.messages import PromptMessage, TextContent, Tool, ToolCall
from providers.runtime.results import TokenCounts
from providers.runtime.schema import ModelSchema
from providers.runtime.structured_output import parse_json_schema_parameter

ANTHROPIC_BASE_URL = "https://api.anthropic.com"


@lru_cache(maxsize=32)
def _httpx_timeout(timeouts: Timeouts) -> httpx2.Timeout:
    return timeouts.to_httpx()


def _content_blocks(message: PromptMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id or "", "content": message.text()}]
    for part in message.parts():
        if isinstance(part, TextContent):
            if part.data:
                blocks.append({"type": "text", "text": part.data})
        elif part.url:
            blocks.append({"type": "image", "source": {"type": "url", "url": part.url}})
        else:
            blocks.append(
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": part.mime_type, "data": part.base64_data},
                }
            )
    for call in message.tool_calls:
        try:
            arguments = call.parsed_arguments()
        except ValueError:
            raise ParameterError(
                "messages", f"tool call {call.name!r} has arguments that are not a JSON object"
            ) from None
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def to_anthropic_messages(messages: Sequence[PromptMessage]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system prompt, messages). Consecutive messages of one role are merged, since the API wants turns
    to alternate; tool results travel as user turns."""
    system_parts = [m.text() for m in messages if m.role == "system" and m.text()]
    converted: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _content_blocks(message)
        if not blocks:
            continue
        if converted and converted[-1]["role"] == role:
            converted[-1]["content"].extend(blocks)
        else:
            converted.append({"role": role, "content": blocks})
    return ("\n\n".join(system_parts) or None), converted


def _tokens(usage: Any, output_tokens: int | None = None) -> TokenCounts | None:
    if usage is None:
        return None
    prompt = (
        (getattr(usage, "input_tokens", 0) or 0)
        + (getattr(usage, "cache_creation_input_tokens", 0) or 0)
        + (getattr(usage, "cache_read_input_tokens", 0) or 0)
    )
    completion = output_tokens if output_tokens is not None else (getattr(usage, "output_tokens", 0) or 0)
    return TokenCounts(prompt_tokens=int(prompt), completion_tokens=int(completion))


class AnthropicAdapter(ModelAdapter):
    name = "anthropic"

    def client(self, credentials: Mapping[str, Any]) -> anthropic.AsyncAnthropic:
        api_key = require(credentials, "anthropic_api_key", self.provider)
        base_url = str(credentials.get("anthropic_api_url") or "").strip().rstrip("/") or ANTHROPIC_BASE_URL
        # Dify users sometimes paste the URL with /v1; the SDK adds /v1/messages itself.
        base_url = base_url.removesuffix("/v1")
        key = ("anthropic", base_url, secret_digest(api_key))
        return self.http.sdk_client(
            key,
            lambda http_client: anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, http_client=http_client, max_retries=0
            ),
        )

    def _map(self, exc: BaseException) -> BaseException:
        return map_exception(exc, provider=self.provider) or exc

    def build_request(
        self,
        *,
        model: str,
        messages: Sequence[PromptMessage],
        parameters: Mapping[str, Any],
        tools: Sequence[Tool] | None,
        stop: Sequence[str] | None,
        stream: bool,
        user: str | None,
    ) -> dict[str, Any]:
        params = dict(parameters)
        system, converted = to_anthropic_messages(messages)
        if not converted:
            raise ParameterError("messages", "must contain at least one user message")
        json_schema = params.pop("json_schema", None)
        params.pop("response_format", None)
        max_tokens = params.pop("max_tokens", None) or 4096
        request: dict[str, Any] = {
            "model": model,
            "max_tokens": int(max_tokens),
            "messages": converted,
            "stream": stream,
        }
        if system:
            request["system"] = system
        if json_schema:
            _, schema, _ = parse_json_schema_parameter(json_schema)
            request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        if stop:
            request["stop_sequences"] = list(stop)
        if tools:
            request["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
                for t in tools
            ]
        if user:
            request["metadata"] = {"user_id": user}
        if params:
            # temperature, top_p, top_k, ...: the current SDK no longer lists them, the API still takes them.
            request["extra_body"] = params
        return request

    async def invoke_llm(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        messages: Sequence[PromptMessage],
        parameters: Mapping[str, Any],
        tools: Sequence[Tool] | None,
        stop: Sequence[str] | None,
        stream: bool,
        user: str | None,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> Completion | AdapterStream:
        request = self.build_request(
            model=model,
            messages=messages,
            parameters=parameters,
            tools=tools,
            stop=stop,
            stream=stream,
            user=user,
        )
        client = self.client(credentials)
        try:
            response = await client.messages.create(**request, timeout=_httpx_timeout(timeouts))
        except Exception as exc:
            raise self._map(exc) from exc
        if stream:
            return await self._open_stream(response, model, list(messages))
        return self._completion(response)

    def _completion(self, response: Any) -> Completion:
        if isinstance(response, str):
            what = "an HTML page" if looks_like_html(response) else "non-JSON text"
            raise InvalidResponseError(
                f"The server answered with {what} instead of a message.", provider=self.provider
            )
        content = getattr(response, "content", None)
        expect(
            isinstance(response, Message) and isinstance(content, list), "no content blocks", self.provider
        )
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                calls.append(
                    ToolCall(
                        id=block.id, name=block.name, arguments=json.dumps(block.input, ensure_ascii=False)
                    )
                )
        return Completion(
            message=PromptMessage(role="assistant", content="".join(texts), tool_calls=calls),
            finish_reason=getattr(response, "stop_reason", None),
            tokens=_tokens(getattr(response, "usage", None)),
            model=getattr(response, "model", None),
        )

    async def _open_stream(
        self, sdk_stream: Any, model: str, prompt_messages: list[PromptMessage]
    ) -> AdapterStream:
        content_type = sdk_stream.response.headers.get("content-type", "")
        if "event-stream" not in content_type:
            body = (await sdk_stream.response.aread())[:2000].decode("utf-8", "replace")
            await sdk_stream.close()
            what = (
                "an HTML page"
                if looks_like_html(body)
                else f"{content_type or 'no content type'} ({body[:80]!r})"
            )
            raise InvalidResponseError(
                f"The server answered with {what} instead of an event stream; check the API URL.",
                provider=self.provider,
            )
        state = StreamState()
        return AdapterStream(
            self._iterate(sdk_stream, model, prompt_messages, state), state, sdk_stream.close
        )

    async def _iterate(
        self, sdk_stream: Any, model: str, prompt_messages: list[PromptMessage], state: StreamState
    ):
        tool_blocks: dict[int, tuple[str, str, list[str]]] = {}
        input_usage: Any = None
        output_tokens: int | None = None
        stopped = False
        try:
            async for event in sdk_stream:
                kind = event.type
                if kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        if delta.text:
                            yield content_chunk(model, prompt_messages, delta.text)
                    elif delta.type == "input_json_delta" and event.index in tool_blocks:
                        tool_blocks[event.index][2].append(delta.partial_json)
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        tool_blocks[event.index] = (block.id, block.name, [])
                    elif block.type == "text" and getattr(block, "text", ""):
                        yield content_chunk(model, prompt_messages, block.text)
                elif kind == "content_block_stop":
                    finished = tool_blocks.pop(event.index, None)
                    if finished is not None:
                        call_id, name, fragments = finished
                        call = ToolCall(id=call_id, name=name, arguments="".join(fragments) or "{}")
                        yield content_chunk(model, prompt_messages, tool_calls=[call])
                elif kind == "message_start":
                    input_usage = event.message.usage
                    state.model = event.message.model
                elif kind == "message_delta":
                    state.finish_reason = event.delta.stop_reason
                    if event.usage is not None and event.usage.output_tokens is not None:
                        output_tokens = event.usage.output_tokens
                elif kind == "message_stop":
                    stopped = True
        except InvokeError:
            raise
        except Exception as exc:
            raise self._map(exc) from exc
        if not stopped:
            raise InvokeConnectionError("The stream ended before message_stop.", provider=self.provider)
        state.tokens = _tokens(input_usage, output_tokens) if input_usage is not None else None

    async def list_models(self, *, credentials: Mapping[str, Any], timeouts: Timeouts) -> list[str]:
        client = self.client(credentials)
        try:
            return [m.id async for m in client.models.list(timeout=_httpx_timeout(timeouts))]
        except Exception as exc:
            raise self._map(exc) from exc
