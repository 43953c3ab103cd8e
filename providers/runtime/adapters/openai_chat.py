"""OpenAI chat completions and embeddings through the official `openai` SDK: OpenAI itself, any
OpenAI-compatible server (vLLM, Ollama's /v1, LM Studio, llama.cpp, ...), and Azure OpenAI. Speech to
text, text to speech and moderation come from `openai_audio`.

Streaming uses SSE with `stream_options.include_usage`, so the last event carries token usage. Tool calls
arrive as fragments (`index`, then `id`/`name`, then pieces of `arguments`); they are assembled here and
handed on complete, when the choice finishes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

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
from providers.runtime.adapters.errors import looks_like_html, map_exception
from providers.runtime.adapters.openai_audio import OpenAIAudioMixin
from providers.runtime.adapters.rerank_http import rerank_via_http
from providers.runtime.errors import InvalidResponseError, InvokeConnectionError, InvokeError, ParameterError
from providers.runtime.http import Timeouts, secret_digest
from providers.runtime.messages import PromptMessage, TextContent, Tool, ToolCall
from providers.runtime.results import RerankDocument, TokenCounts
from providers.runtime.schema import ModelSchema
from providers.runtime.structured_output import parse_json_schema_parameter

OPENAI_BASE_URL = "https://api.openai.com/v1"

# Parameters the SDK takes as keyword arguments; any other validated parameter goes into `extra_body`.
_SDK_PARAMETERS = frozenset(
    {
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "reasoning_effort",
        "logit_bias",
        "n",
        "parallel_tool_calls",
        "tool_choice",
        "service_tier",
    }
)


@lru_cache(maxsize=32)
def _httpx_timeout(timeouts: Timeouts) -> httpx2.Timeout:
    return timeouts.to_httpx()


def to_openai_messages(messages: Sequence[PromptMessage]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any]
        if message.role == "user" and isinstance(message.content, list):
            parts: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextContent):
                    parts.append({"type": "text", "text": part.data})
                else:
                    parts.append(
                        {"type": "image_url", "image_url": {"url": part.data_url, "detail": part.detail}}
                    )
            item = {"role": "user", "content": parts}
        elif message.role == "assistant":
            item = {"role": "assistant", "content": message.text() or None}
            if message.tool_calls:
                item["tool_calls"] = [call.to_dict() for call in message.tool_calls]
        elif message.role == "tool":
            item = {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.text()}
        else:
            item = {"role": message.role, "content": message.text()}
        if message.name and message.role in ("user", "system", "assistant"):
            item["name"] = message.name
        converted.append(item)
    return converted


def to_openai_tools(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
        }
        for t in tools
    ]


def json_schema_format(value: Any) -> dict[str, Any]:
    """OpenAI's `response_format` for structured output, from Dify's `json_schema` parameter."""
    name, schema, strict = parse_json_schema_parameter(value)
    payload: dict[str, Any] = {"name": name, "schema": schema}
    if strict is not None:
        payload["strict"] = strict
    return {"type": "json_schema", "json_schema": payload}


class _ToolCallBuilder:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []

    def build(self) -> ToolCall:
        return ToolCall(
            id=self.id or f"call_{uuid.uuid4().hex[:24]}", name=self.name, arguments="".join(self.arguments)
        )


def _accumulate_tool_calls(builders: dict[int, _ToolCallBuilder], deltas: Sequence[Any]) -> None:
    for position, delta in enumerate(deltas):
        index = getattr(delta, "index", None)
        if index is None:
            # Some servers omit `index`; a new id starts a new call, otherwise it continues the last one.
            call_id = getattr(delta, "id", None)
            known = next((i for i, b in builders.items() if call_id and b.id == call_id), None)
            index = (
                known if known is not None else (len(builders) if call_id or not builders else max(builders))
            )
            index = index if index is not None else position
        builder = builders.get(index)
        if builder is None:
            builder = builders[index] = _ToolCallBuilder()
        if getattr(delta, "id", None):
            builder.id = delta.id
        function = getattr(delta, "function", None)
        if function is not None:
            if function.name and not builder.name:
                builder.name = function.name
            if function.arguments:
                builder.arguments.append(function.arguments)


def _tokens(usage: Any) -> TokenCounts | None:
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if prompt is None and completion is None:
        return None
    return TokenCounts(prompt_tokens=int(prompt or 0), completion_tokens=int(completion or 0))


class OpenAIAdapter(OpenAIAudioMixin, ModelAdapter):
    name = "openai"
    include_usage_default = True

    # --- connection --------------------------------------------------------------------------------------

    def base_url(self, credentials: Mapping[str, Any]) -> str:
        base = str(credentials.get("openai_api_base") or "").strip().rstrip("/")
        if not base:
            return OPENAI_BASE_URL
        # Dify accepts the host alone for OpenAI (`https://api.openai.com`) and appends /v1.
        return base if base.endswith("/v1") else f"{base}/v1"

    def api_key(self, credentials: Mapping[str, Any]) -> str:
        return require(credentials, "openai_api_key", self.provider)

    def wire_model(self, model: str, credentials: Mapping[str, Any]) -> str:
        return model

    def include_usage(self, credentials: Mapping[str, Any]) -> bool:
        return self.include_usage_default

    def client(self, credentials: Mapping[str, Any]) -> openai.AsyncOpenAI:
        base_url = self.base_url(credentials)
        api_key = self.api_key(credentials)
        organization = credentials.get("openai_organization") or None
        key = ("openai", base_url, secret_digest(api_key, organization))
        return self.http.sdk_client(
            key,
            lambda http_client: openai.AsyncOpenAI(
                api_key=api_key,
                organization=organization,
                base_url=base_url,
                http_client=http_client,
                max_retries=0,  # the runtime retries, once, for every adapter alike
            ),
        )

    def _map(self, exc: BaseException) -> BaseException:
        return map_exception(exc, provider=self.provider) or exc

    # --- chat --------------------------------------------------------------------------------------------

    def build_request(
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
    ) -> dict[str, Any]:
        params = dict(parameters)
        response_format = params.pop("response_format", None)
        json_schema = params.pop("json_schema", None)
        request: dict[str, Any] = {
            "model": self.wire_model(model, credentials),
            "messages": to_openai_messages(messages),
            "stream": stream,
        }
        if response_format == "json_schema" or (json_schema and response_format in (None, "", "JSON")):
            if not json_schema:
                raise ParameterError("json_schema", "is required when response_format is json_schema")
            request["response_format"] = json_schema_format(json_schema)
        elif response_format in ("json_object", "JSON"):
            request["response_format"] = {"type": "json_object"}
        extra_body = {k: v for k, v in params.items() if k not in _SDK_PARAMETERS}
        request.update({k: v for k, v in params.items() if k in _SDK_PARAMETERS})
        if extra_body:
            request["extra_body"] = extra_body
        if stop:
            request["stop"] = list(stop)[:4]  # OpenAI accepts at most four
        if tools:
            request["tools"] = to_openai_tools(tools)
        if user:
            request["user"] = user
        if stream and self.include_usage(credentials):
            request["stream_options"] = {"include_usage": True}
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
            credentials=credentials,
            messages=messages,
            parameters=parameters,
            tools=tools,
            stop=stop,
            stream=stream,
            user=user,
        )
        client = self.client(credentials)
        try:
            response = await client.chat.completions.create(**request, timeout=_httpx_timeout(timeouts))
        except Exception as exc:
            raise self._map(exc) from exc
        prompt_messages = list(messages)
        if stream:
            return await self._open_stream(response, model, prompt_messages)
        return self._completion(response)

    def _completion(self, response: Any) -> Completion:
        if isinstance(response, str):
            what = "an HTML page" if looks_like_html(response) else f"non-JSON text ({response[:80]!r})"
            raise InvalidResponseError(
                f"The server answered with {what} instead of a chat completion.", provider=self.provider
            )
        choices = getattr(response, "choices", None)
        expect(
            isinstance(response, ChatCompletion) and choices, "no choices in the completion", self.provider
        )
        choice = choices[0]
        message = getattr(choice, "message", None)
        expect(message is not None, "no message in the first choice", self.provider)
        tool_calls = [
            ToolCall(
                id=call.id or f"call_{uuid.uuid4().hex[:24]}",
                name=call.function.name,
                arguments=call.function.arguments or "",
            )
            for call in (message.tool_calls or [])
            if getattr(call, "function", None) is not None
        ]
        return Completion(
            message=PromptMessage(role="assistant", content=message.content or "", tool_calls=tool_calls),
            finish_reason=choice.finish_reason,
            tokens=_tokens(getattr(response, "usage", None)),
            model=getattr(response, "model", None),
            system_fingerprint=getattr(response, "system_fingerprint", None),
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
                f"The server answered with {what} instead of an event stream; check the base URL.",
                provider=self.provider,
            )
        state = StreamState()
        return AdapterStream(
            self._iterate(sdk_stream, model, prompt_messages, state), state, sdk_stream.close
        )

    async def _iterate(
        self, sdk_stream: Any, model: str, prompt_messages: list[PromptMessage], state: StreamState
    ):
        builders: dict[int, _ToolCallBuilder] = {}
        events = 0
        try:
            async for event in sdk_stream:
                events += 1
                usage = getattr(event, "usage", None)
                if usage is not None:
                    state.tokens = _tokens(usage)
                choices = getattr(event, "choices", None)
                if not choices:
                    continue
                choice = choices[0]
                delta = choice.delta
                if delta is not None:
                    if delta.tool_calls:
                        _accumulate_tool_calls(builders, delta.tool_calls)
                    if delta.content:
                        yield content_chunk(model, prompt_messages, delta.content)
                if choice.finish_reason:
                    state.finish_reason = choice.finish_reason
                    state.system_fingerprint = getattr(event, "system_fingerprint", None)
                    if builders:
                        yield content_chunk(
                            model,
                            prompt_messages,
                            tool_calls=[b.build() for _, b in sorted(builders.items())],
                        )
                        builders.clear()
        except InvokeError:
            raise
        except Exception as exc:
            raise self._map(exc) from exc
        if events == 0:
            raise InvalidResponseError("The server's event stream held no events.", provider=self.provider)
        if state.finish_reason is None:
            raise InvokeConnectionError(
                "The stream ended before the model finished (no finish_reason).", provider=self.provider
            )

    # --- embeddings and models ---------------------------------------------------------------------------

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
        client = self.client(credentials)
        extra: dict[str, Any] = {}
        dimensions = (
            schema.model_properties.get("dimensions") if schema.fetch_from == "customizable-model" else None
        )
        if dimensions:
            extra["dimensions"] = int(dimensions)
        try:
            response = await client.embeddings.create(
                model=self.wire_model(model, credentials),
                input=list(texts),
                encoding_format="float",
                timeout=_httpx_timeout(timeouts),
                **extra,
            )
        except Exception as exc:
            raise self._map(exc) from exc
        if isinstance(response, str):
            raise InvalidResponseError(
                "The server answered with text instead of embeddings.", provider=self.provider
            )
        data = getattr(response, "data", None)
        expect(
            isinstance(data, list) and len(data) == len(texts),
            "the embeddings do not match the inputs",
            self.provider,
        )
        vectors = [list(item.embedding) for item in sorted(data, key=lambda item: item.index)]
        usage = getattr(response, "usage", None)
        tokens = getattr(usage, "prompt_tokens", None) or getattr(usage, "total_tokens", None)
        return EmbeddingVectors(embeddings=vectors, tokens=int(tokens) if tokens is not None else None)

    async def list_models(self, *, credentials: Mapping[str, Any], timeouts: Timeouts) -> list[str]:
        client = self.client(credentials)
        try:
            return [m.id async for m in client.models.list(timeout=_httpx_timeout(timeouts))]
        except (AttributeError, TypeError, KeyError) as exc:
            # The SDK trips over a 200 answer that is not a model list (an HTML page behind a proxy, ...).
            raise InvalidResponseError(
                f"The server's answer to the model list is not OpenAI's API ({type(exc).__name__}).",
                provider=self.provider,
            ) from exc
        except Exception as exc:
            raise self._map(exc) from exc


class OpenAICompatibleAdapter(OpenAIAdapter):
    """A server speaking OpenAI's API at `endpoint_url`; the key is optional (local servers have none)."""

    name = "openai_compatible"

    def base_url(self, credentials: Mapping[str, Any]) -> str:
        return require(credentials, "endpoint_url", self.provider).rstrip("/")

    def api_key(self, credentials: Mapping[str, Any]) -> str:
        # The SDK insists on a key; servers without authentication ignore the header.
        return str(credentials.get("api_key") or "").strip() or "no-key-required"

    def wire_model(self, model: str, credentials: Mapping[str, Any]) -> str:
        return str(credentials.get("endpoint_model_name") or "").strip() or model

    def include_usage(self, credentials: Mapping[str, Any]) -> bool:
        return str(credentials.get("stream_include_usage", "true")).lower() != "false"

    async def invoke_rerank(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        query: str,
        documents: Sequence[str],
        top_n: int | None,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> list[RerankDocument]:
        # vLLM, Xinference, TEI and LocalAI serve a Jina/Cohere-style /rerank beside /v1/chat/completions.
        return await rerank_via_http(
            self,
            base_url=self.base_url(credentials),
            api_key=str(credentials.get("api_key") or "").strip() or None,
            model=self.wire_model(model, credentials),
            query=query,
            documents=documents,
            top_n=top_n,
            timeouts=timeouts,
        )


class AzureOpenAIAdapter(OpenAIAdapter):
    """Azure OpenAI: `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...` with an
    `api-key` header. The model name is the deployment name."""

    name = "azure_openai"
    default_api_version = "2024-10-21"

    def client(self, credentials: Mapping[str, Any]) -> openai.AsyncOpenAI:
        endpoint = require(credentials, "openai_api_base", self.provider).rstrip("/")
        api_key = require(credentials, "openai_api_key", self.provider)
        api_version = str(credentials.get("openai_api_version") or self.default_api_version)
        key = ("azure", endpoint, api_version, secret_digest(api_key))
        return self.http.sdk_client(
            key,
            lambda http_client: openai.AsyncAzureOpenAI(
                azure_endpoint=endpoint,
                api_key=api_key,
                api_version=api_version,
                http_client=http_client,
                max_retries=0,
            ),
        )

    async def list_models(self, *, credentials: Mapping[str, Any], timeouts: Timeouts) -> list[str]:
        raise self._unsupported("Listing Azure deployments")

    async def invoke_moderation(self, **kwargs: Any) -> Any:
        # Azure OpenAI has no moderation endpoint: it filters content inside each deployment instead.
        raise self._unsupported("Moderation on Azure OpenAI")
