"""Ollama's native API: `POST /api/chat` (streamed as NDJSON, one JSON object per line), `POST /api/embed`,
`GET /api/tags`.

Ollama sends tool calls whole (arguments as an object, not text), reports `prompt_eval_count` /
`eval_count` on the final `done` line, and signals errors as `{"error": "..."}`, with an HTTP status
before streaming starts or as a line inside the stream.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from providers.runtime.adapters.base import (
    AdapterStream,
    Completion,
    EmbeddingVectors,
    ModelAdapter,
    StreamState,
    content_chunk,
    expect,
    require,
)
from providers.runtime.adapters.errors import error_from_stream_event, looks_like_html, map_exception
from providers.runtime.adapters.http_json import open_response, read_json, request_json
from providers.runtime.errors import InvalidResponseError, InvokeConnectionError, InvokeError, ParameterError
from providers.runtime.http import Timeouts
from providers.runtime.messages import PromptMessage, Tool, ToolCall
from providers.runtime.results import TokenCounts
from providers.runtime.schema import ModelSchema
from providers.runtime.structured_output import parse_json_schema_parameter

# Parameters that travel in Ollama's `options` object; the rest are top-level request fields.
_OPTIONS = frozenset(
    {"temperature", "top_p", "top_k", "num_predict", "num_ctx", "repeat_penalty", "seed", "min_p", "mirostat"}
)


def to_ollama_messages(messages: Sequence[PromptMessage]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.text()}
        images = message.images()
        if images:
            if any(image.url and not image.base64_data for image in images):
                raise ParameterError("messages", "Ollama needs images inline (base64), not as URLs")
            item["images"] = [image.base64_data for image in images]
        if message.tool_calls:
            item["tool_calls"] = [
                {"function": {"name": call.name, "arguments": _arguments_object(call)}}
                for call in message.tool_calls
            ]
        if message.role == "tool" and message.name:
            item["tool_name"] = message.name
        converted.append(item)
    return converted


def _arguments_object(call: ToolCall) -> dict[str, Any]:
    try:
        return call.parsed_arguments()
    except ValueError:
        raise ParameterError(
            "messages", f"tool call {call.name!r} has arguments that are not a JSON object"
        ) from None


def _tool_calls(raw: Any) -> list[ToolCall]:
    calls = []
    for item in raw or ():
        function = item.get("function") or {}
        arguments = function.get("arguments", {})
        calls.append(
            ToolCall(
                id=str(item.get("id") or f"call_{uuid.uuid4().hex[:24]}"),
                name=str(function.get("name", "")),
                arguments=arguments
                if isinstance(arguments, str)
                else json.dumps(arguments, ensure_ascii=False),
            )
        )
    return calls


def _tokens(data: Mapping[str, Any]) -> TokenCounts | None:
    if "prompt_eval_count" not in data and "eval_count" not in data:
        return None
    return TokenCounts(
        prompt_tokens=int(data.get("prompt_eval_count") or 0),
        completion_tokens=int(data.get("eval_count") or 0),
    )


class OllamaAdapter(ModelAdapter):
    name = "ollama"

    def base_url(self, credentials: Mapping[str, Any]) -> str:
        return require(credentials, "base_url", self.provider).rstrip("/")

    def build_request(
        self,
        *,
        model: str,
        messages: Sequence[PromptMessage],
        parameters: Mapping[str, Any],
        tools: Sequence[Tool] | None,
        stop: Sequence[str] | None,
        stream: bool,
    ) -> dict[str, Any]:
        params = dict(parameters)
        body: dict[str, Any] = {"model": model, "messages": to_ollama_messages(messages), "stream": stream}
        json_schema = params.pop("json_schema", None)
        output_format = params.pop("format", None)
        if json_schema:
            body["format"] = parse_json_schema_parameter(json_schema)[1]
        elif output_format == "json":
            body["format"] = "json"
        if "keep_alive" in params:
            body["keep_alive"] = params.pop("keep_alive")
        options = {k: v for k, v in params.items() if k in _OPTIONS}
        if stop:
            options["stop"] = list(stop)
        if options:
            body["options"] = options
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": dict(t.parameters),
                    },
                }
                for t in tools
            ]
        return body

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
        body = self.build_request(
            model=model, messages=messages, parameters=parameters, tools=tools, stop=stop, stream=stream
        )
        response = await open_response(
            self.http,
            "POST",
            f"{self.base_url(credentials)}/api/chat",
            provider=self.provider,
            timeouts=timeouts,
            json_body=body,
        )
        if not stream:
            data = await read_json(response, provider=self.provider)
            return self._completion(data)
        content_type = response.headers.get("content-type", "")
        if "html" in content_type:
            await response.aclose()
            raise InvalidResponseError(
                "The server answered with an HTML page instead of Ollama's stream; check the base URL.",
                provider=self.provider,
            )
        state = StreamState()
        return AdapterStream(self._iterate(response, model, list(messages), state), state, response.aclose)

    def _completion(self, data: Any) -> Completion:
        expect(isinstance(data, Mapping), "the answer is not a JSON object", self.provider)
        if data.get("error"):
            raise error_from_stream_event(data, provider=self.provider)
        message = data.get("message")
        expect(isinstance(message, Mapping), "no message in the answer", self.provider)
        calls = _tool_calls(message.get("tool_calls"))
        return Completion(
            message=PromptMessage(
                role="assistant", content=str(message.get("content") or ""), tool_calls=calls
            ),
            finish_reason=("tool_calls" if calls else data.get("done_reason") or "stop"),
            tokens=_tokens(data),
            model=data.get("model"),
        )

    async def _iterate(
        self, response: Any, model: str, prompt_messages: list[PromptMessage], state: StreamState
    ):
        done = False
        saw_tool_calls = False
        try:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError:
                    what = (
                        "an HTML page"
                        if looks_like_html(line)
                        else f"a line that is not JSON ({line[:80]!r})"
                    )
                    raise InvalidResponseError(
                        f"Ollama's stream held {what}.", provider=self.provider
                    ) from None
                if not isinstance(data, dict):
                    raise InvalidResponseError(
                        "Ollama's stream held a line that is not an object.", provider=self.provider
                    )
                if data.get("error"):
                    raise error_from_stream_event(data, provider=self.provider)
                message = data.get("message") or {}
                text = message.get("content")
                if text:
                    yield content_chunk(model, prompt_messages, text)
                if message.get("tool_calls"):
                    saw_tool_calls = True
                    yield content_chunk(model, prompt_messages, tool_calls=_tool_calls(message["tool_calls"]))
                if data.get("done"):
                    done = True
                    state.finish_reason = (
                        "tool_calls" if saw_tool_calls else (data.get("done_reason") or "stop")
                    )
                    state.tokens = _tokens(data)
                    state.model = data.get("model")
                    break
        except InvokeError:
            raise
        except Exception as exc:
            raise (map_exception(exc, provider=self.provider) or exc) from exc
        finally:
            await response.aclose()
        if not done:
            raise InvokeConnectionError(
                "Ollama's stream ended before the final `done` line.", provider=self.provider
            )

    async def invoke_embedding(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        texts: Sequence[str],
        input_type: str,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> EmbeddingVectors:
        data = await request_json(
            self.http,
            "POST",
            f"{self.base_url(credentials)}/api/embed",
            provider=self.provider,
            timeouts=timeouts,
            json_body={"model": model, "input": list(texts)},
        )
        embeddings = data.get("embeddings") if isinstance(data, Mapping) else None
        expect(
            isinstance(embeddings, list) and len(embeddings) == len(texts),
            "the embeddings do not match the inputs",
            self.provider,
        )
        tokens = data.get("prompt_eval_count")
        return EmbeddingVectors(embeddings=[list(map(float, v)) for v in embeddings], tokens=tokens)

    async def list_models(self, *, credentials: Mapping[str, Any], timeouts: Timeouts) -> list[str]:
        data = await request_json(
            self.http,
            "GET",
            f"{self.base_url(credentials)}/api/tags",
            provider=self.provider,
            timeouts=timeouts,
        )
        models = data.get("models") if isinstance(data, Mapping) else None
        expect(isinstance(models, list), "no model list in /api/tags", self.provider)
        return [str(m.get("name") or m.get("model")) for m in models]
