"""OpenAI's chat completions and embeddings: OpenAI itself, any OpenAI-compatible server (vLLM, Ollama's
/v1, LM Studio, llama.cpp, ...), and Azure OpenAI. Chat goes over the shared httpx2 pool (`http_json`);
embeddings and model listing use the official `openai` SDK. Speech to text, text to speech and moderation
come from `openai_audio`.

Streaming uses SSE with `stream_options.include_usage`, so the last event carries token usage. Tool calls
arrive as fragments (`index`, then `id`/`name`, then pieces of `arguments`); they are assembled here and
handed on complete, when the choice finishes.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx2
import numpy
import openai

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
from providers.runtime.adapters.errors import error_from_stream_event, map_exception
from providers.runtime.adapters.http_json import (
    httpx_timeout,
    open_response,
    read_json,
    require_event_stream,
    sse_json,
)
from providers.runtime.adapters.openai_audio import OpenAIAudioMixin
from providers.runtime.adapters.rerank_http import rerank_via_http
from providers.runtime.errors import InvalidResponseError, InvokeConnectionError, InvokeError, ParameterError
from providers.runtime.http import Timeouts, secret_digest
from providers.runtime.messages import PromptMessage, TextContent, Tool, ToolCall
from providers.runtime.results import RerankDocument, TokenCounts
from providers.runtime.schema import ModelSchema
from providers.runtime.structured_output import parse_json_schema_parameter

OPENAI_BASE_URL = "https://api.openai.com/v1"


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


def _accumulate_tool_calls(builders: dict[int, _ToolCallBuilder], deltas: Any) -> None:
    if not isinstance(deltas, list):
        return
    for position, delta in enumerate(deltas):
        if not isinstance(delta, dict):
            continue
        call_id = delta.get("id")
        index = delta.get("index")
        if not isinstance(index, int):
            # Some servers omit `index`; a new id starts a new call, otherwise it continues the last one.
            known = next((i for i, b in builders.items() if call_id and b.id == call_id), None)
            index = (
                known if known is not None else (len(builders) if call_id or not builders else max(builders))
            )
            index = index if index is not None else position
        builder = builders.get(index)
        if builder is None:
            builder = builders[index] = _ToolCallBuilder()
        if call_id:
            builder.id = str(call_id)
        function = delta.get("function")
        if isinstance(function, dict):
            if function.get("name") and not builder.name:
                builder.name = str(function["name"])
            if function.get("arguments"):
                builder.arguments.append(str(function["arguments"]))


def _tokens(usage: Any) -> TokenCounts | None:
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    if prompt is None and completion is None:
        return None
    return TokenCounts(prompt_tokens=int(prompt or 0), completion_tokens=int(completion or 0))


def _tool_calls(message: dict[str, Any]) -> list[ToolCall]:
    calls = message.get("tool_calls")
    return [
        ToolCall(
            id=str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}"),
            name=str(call["function"].get("name") or ""),
            arguments=str(call["function"].get("arguments") or ""),
        )
        for call in (calls if isinstance(calls, list) else [])
        if isinstance(call, dict) and isinstance(call.get("function"), dict)
    ]


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

    def chat_url(self, credentials: Mapping[str, Any], model: str) -> str:
        return f"{self.base_url(credentials)}/chat/completions"

    def chat_headers(self, credentials: Mapping[str, Any]) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key(credentials)}"}
        organization = credentials.get("openai_organization")
        if organization:
            headers["OpenAI-Organization"] = str(organization)
        return headers

    def _map(self, exc: BaseException) -> BaseException:
        return map_exception(exc, provider=self.provider) or exc

    # --- chat --------------------------------------------------------------------------------------------
    # Chat completions go over the shared httpx2 pool directly rather than through the SDK: the SDK's
    # per-call work (request transforms, typed models for every chunk) measured ~1.3 ms per streamed call,
    # a quarter of the time the platform may add before the first token. Errors are classified by the
    # same rules as the SDK's (`errors.error_from_status`, `error_from_stream_event`).

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
        """The JSON body of a chat completions request."""
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
        request.update(params)
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
        body = self.build_request(
            model=model,
            credentials=credentials,
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
            self.chat_url(credentials, model),
            provider=self.provider,
            timeouts=timeouts,
            json_body=body,
            headers=self.chat_headers(credentials),
        )
        if not stream:
            return self._completion(await read_json(response, provider=self.provider))
        return await self._open_stream(response, model, list(messages))

    def _completion(self, data: Any) -> Completion:
        expect(isinstance(data, dict), "the answer is not a JSON object", self.provider)
        if data.get("error"):
            raise error_from_stream_event(data, provider=self.provider)
        choices = data.get("choices")
        expect(isinstance(choices, list) and choices, "no choices in the completion", self.provider)
        choice = choices[0]
        message = choice.get("message") if isinstance(choice, dict) else None
        expect(isinstance(message, dict), "no message in the first choice", self.provider)
        return Completion(
            message=PromptMessage(
                role="assistant", content=message.get("content") or "", tool_calls=_tool_calls(message)
            ),
            finish_reason=choice.get("finish_reason"),
            tokens=_tokens(data.get("usage")),
            model=data.get("model"),
            system_fingerprint=data.get("system_fingerprint"),
        )

    async def _open_stream(
        self, response: httpx2.Response, model: str, prompt_messages: list[PromptMessage]
    ) -> AdapterStream:
        await require_event_stream(response, provider=self.provider, fix="check the base URL")
        state = StreamState()
        return AdapterStream(self._iterate(response, model, prompt_messages, state), state, response.aclose)

    async def _iterate(
        self, response: httpx2.Response, model: str, prompt_messages: list[PromptMessage], state: StreamState
    ):
        builders: dict[int, _ToolCallBuilder] = {}
        events = 0
        try:
            async for _, event in sse_json(response, provider=self.provider):
                if not isinstance(event, dict):
                    continue
                if event.get("error"):
                    raise error_from_stream_event(event, provider=self.provider)
                events += 1
                usage = event.get("usage")
                if usage:
                    state.tokens = _tokens(usage)
                choices = event.get("choices")
                if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
                    continue
                choice = choices[0]
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    if delta.get("tool_calls"):
                        _accumulate_tool_calls(builders, delta["tool_calls"])
                    text = delta.get("content")
                    if text:
                        yield content_chunk(model, prompt_messages, str(text))
                if choice.get("finish_reason"):
                    state.finish_reason = choice["finish_reason"]
                    state.system_fingerprint = event.get("system_fingerprint")
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
        finally:
            await response.aclose()
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
            # The raw answer, decoded by the json module: the SDK builds a pydantic value per float, which
            # measured ~5x the loopback model's own time for 32 x 384 floats (bench/knowledge.py). Vectors
            # come as base64 float32 (as the SDK itself asks by default, so servers made for it accept it):
            # parsing JSON floats was half this process's time per indexing batch.
            raw = await client.embeddings.with_raw_response.create(
                model=self.wire_model(model, credentials),
                input=list(texts),
                encoding_format="base64",
                timeout=httpx_timeout(timeouts),
                **extra,
            )
        except Exception as exc:
            raise self._map(exc) from exc
        try:
            response = json.loads(raw.content)
        except ValueError:
            raise InvalidResponseError(
                "The server answered with text instead of embeddings.", provider=self.provider
            ) from None
        data = response.get("data") if isinstance(response, dict) else None
        expect(
            isinstance(data, list)
            and len(data) == len(texts)
            and all(
                isinstance(item, dict) and isinstance(item.get("embedding"), list | str) for item in data
            ),
            "the embeddings do not match the inputs",
            self.provider,
        )
        ordered = sorted(enumerate(data), key=lambda pair: (pair[1].get("index", pair[0]), pair[0]))
        vectors = [self._vector(item["embedding"]) for _, item in ordered]
        usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
        tokens = usage.get("prompt_tokens") or usage.get("total_tokens")
        return EmbeddingVectors(embeddings=vectors, tokens=int(tokens) if tokens is not None else None)

    def _vector(self, embedding: list | str) -> list[float]:
        """One vector as sent: base64 of little-endian float32 (what was asked), or a list of numbers (a
        server that ignores `encoding_format`)."""
        if isinstance(embedding, list):
            return [float(v) for v in embedding]
        try:
            packed = base64.b64decode(embedding, validate=True)
        except ValueError:
            packed = b"-"  # not base64: refused below
        expect(packed and len(packed) % 4 == 0, "an embedding is not base64 float32", self.provider)
        return numpy.frombuffer(packed, dtype="<f4").tolist()

    async def list_models(self, *, credentials: Mapping[str, Any], timeouts: Timeouts) -> list[str]:
        client = self.client(credentials)
        try:
            return [m.id async for m in client.models.list(timeout=httpx_timeout(timeouts))]
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

    def chat_headers(self, credentials: Mapping[str, Any]) -> dict[str, str]:
        api_key = str(credentials.get("api_key") or "").strip()
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

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

    def api_version(self, credentials: Mapping[str, Any]) -> str:
        return str(credentials.get("openai_api_version") or self.default_api_version)

    def chat_url(self, credentials: Mapping[str, Any], model: str) -> str:
        endpoint = require(credentials, "openai_api_base", self.provider).rstrip("/")
        deployment = quote(self.wire_model(model, credentials), safe="")
        version = quote(self.api_version(credentials), safe="")
        return f"{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={version}"

    def chat_headers(self, credentials: Mapping[str, Any]) -> dict[str, str]:
        return {"api-key": require(credentials, "openai_api_key", self.provider)}

    def client(self, credentials: Mapping[str, Any]) -> openai.AsyncOpenAI:
        endpoint = require(credentials, "openai_api_base", self.provider).rstrip("/")
        api_key = require(credentials, "openai_api_key", self.provider)
        api_version = self.api_version(credentials)
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
