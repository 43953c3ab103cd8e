"""Anthropic's Messages API: messages over the shared httpx2 pool (`http_json`; the SDK's
per-call work cost about a millisecond of each call's time to first token), model listing through the
official `anthropic` SDK.

Differences from OpenAI handled here: the system prompt is a top-level field; tool results are `tool_result`
blocks in a user message; `max_tokens` is required; sampling parameters go in the body as they are.
Streaming events: `message_start` (input tokens), `content_block_start/delta/stop` (text deltas, or a
`tool_use` block whose input arrives as `input_json_delta` fragments), `message_delta` (stop reason,
output tokens), `message_stop`; `ping` is skipped and `error` raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import anthropic
import httpx2

from providers.runtime.adapters.base import (
    AdapterStream,
    Completion,
    ModelAdapter,
    StreamState,
    content_chunk,
    expect,
    require,
)
from providers.runtime.adapters.errors import error_from_stream_event, map_exception
from providers.runtime.adapters.http_json import (
    httpx_timeout,
    open_response,
    read_json,
    require_event_stream,
    sse_json,
)
from providers.runtime.errors import InvokeConnectionError, InvokeError, ParameterError
from providers.runtime.http import Timeouts, secret_digest
from providers.runtime.messages import PromptMessage, TextContent, Tool, ToolCall
from providers.runtime.results import TokenCounts
from providers.runtime.schema import ModelSchema
from providers.runtime.structured_output import parse_json_schema_parameter

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


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
    if not isinstance(usage, dict):
        return None
    prompt = (
        (usage.get("input_tokens") or 0)
        + (usage.get("cache_creation_input_tokens") or 0)
        + (usage.get("cache_read_input_tokens") or 0)
    )
    completion = output_tokens if output_tokens is not None else (usage.get("output_tokens") or 0)
    return TokenCounts(prompt_tokens=int(prompt), completion_tokens=int(completion))


class AnthropicAdapter(ModelAdapter):
    name = "anthropic"

    def base_url(self, credentials: Mapping[str, Any]) -> str:
        base_url = str(credentials.get("anthropic_api_url") or "").strip().rstrip("/") or ANTHROPIC_BASE_URL
        # Dify users sometimes paste the URL with /v1; /v1/messages is added here.
        return base_url.removesuffix("/v1")

    def headers(self, credentials: Mapping[str, Any]) -> dict[str, str]:
        api_key = require(credentials, "anthropic_api_key", self.provider)
        # The key both ways: the current SDK sends it as a bearer token, older SDKs (and the proxies and
        # Anthropic-compatible servers built against them) read `x-api-key`.
        return {
            "x-api-key": api_key,
            "Authorization": f"Bearer {api_key}",
            "anthropic-version": ANTHROPIC_VERSION,
        }

    def client(self, credentials: Mapping[str, Any]) -> anthropic.AsyncAnthropic:
        api_key = require(credentials, "anthropic_api_key", self.provider)
        base_url = self.base_url(credentials)
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
        request.update(params)  # temperature, top_p, top_k, ... go in the body as they are
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
        response = await open_response(
            self.http,
            "POST",
            f"{self.base_url(credentials)}/v1/messages",
            provider=self.provider,
            timeouts=timeouts,
            json_body=request,
            headers=self.headers(credentials),
        )
        if stream:
            return await self._open_stream(response, model, list(messages))
        return self._completion(await read_json(response, provider=self.provider))

    def _completion(self, data: Any) -> Completion:
        expect(isinstance(data, dict), "the answer is not a JSON object", self.provider)
        if data.get("type") == "error" or data.get("error"):
            raise error_from_stream_event(data, provider=self.provider)
        content = data.get("content")
        expect(isinstance(content, list), "no content blocks", self.provider)
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_use":
                calls.append(
                    ToolCall(
                        id=str(block.get("id") or ""),
                        name=str(block.get("name") or ""),
                        arguments=json.dumps(block.get("input") or {}, ensure_ascii=False),
                    )
                )
        return Completion(
            message=PromptMessage(role="assistant", content="".join(texts), tool_calls=calls),
            finish_reason=data.get("stop_reason"),
            tokens=_tokens(data.get("usage")),
            model=data.get("model"),
        )

    async def _open_stream(
        self, response: httpx2.Response, model: str, prompt_messages: list[PromptMessage]
    ) -> AdapterStream:
        await require_event_stream(response, provider=self.provider, fix="check the API URL")
        state = StreamState()
        return AdapterStream(self._iterate(response, model, prompt_messages, state), state, response.aclose)

    async def _iterate(
        self, response: httpx2.Response, model: str, prompt_messages: list[PromptMessage], state: StreamState
    ):
        tool_blocks: dict[int, tuple[str, str, list[str]]] = {}
        input_usage: Any = None
        output_tokens: int | None = None
        stopped = False
        try:
            async for name, event in sse_json(response, provider=self.provider):
                if stopped or not isinstance(event, dict):
                    continue
                kind = event.get("type") or name
                if kind == "error" or event.get("error"):
                    raise error_from_stream_event(event, provider=self.provider)
                if kind == "content_block_delta":
                    delta = event.get("delta") or {}
                    if delta.get("type") == "text_delta":
                        if delta.get("text"):
                            yield content_chunk(model, prompt_messages, str(delta["text"]))
                    elif delta.get("type") == "input_json_delta" and event.get("index") in tool_blocks:
                        tool_blocks[event["index"]][2].append(str(delta.get("partial_json") or ""))
                elif kind == "content_block_start":
                    block = event.get("content_block") or {}
                    if block.get("type") == "tool_use":
                        tool_blocks[event.get("index")] = (str(block.get("id")), str(block.get("name")), [])
                    elif block.get("type") == "text" and block.get("text"):
                        yield content_chunk(model, prompt_messages, str(block["text"]))
                elif kind == "content_block_stop":
                    finished = tool_blocks.pop(event.get("index"), None)
                    if finished is not None:
                        call_id, name, fragments = finished
                        call = ToolCall(id=call_id, name=name, arguments="".join(fragments) or "{}")
                        yield content_chunk(model, prompt_messages, tool_calls=[call])
                elif kind == "message_start":
                    message = event.get("message") or {}
                    input_usage = message.get("usage")
                    state.model = message.get("model")
                elif kind == "message_delta":
                    state.finish_reason = (event.get("delta") or {}).get("stop_reason")
                    usage = event.get("usage") or {}
                    if usage.get("output_tokens") is not None:
                        output_tokens = int(usage["output_tokens"])
                elif kind == "message_stop":
                    stopped = True
        except InvokeError:
            raise
        except Exception as exc:
            raise self._map(exc) from exc
        finally:
            await response.aclose()
        if not stopped:
            raise InvokeConnectionError("The stream ended before message_stop.", provider=self.provider)
        state.tokens = _tokens(input_usage, output_tokens) if input_usage is not None else None

    async def list_models(self, *, credentials: Mapping[str, Any], timeouts: Timeouts) -> list[str]:
        client = self.client(credentials)
        try:
            return [m.id async for m in client.models.list(timeout=httpx_timeout(timeouts))]
        except Exception as exc:
            raise self._map(exc) from exc
