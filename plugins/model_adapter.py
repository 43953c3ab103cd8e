"""The `plugin` adapter: a model provider served by an installed Dify plugin, behind the same
`ModelAdapter` interface as the built-in protocols, so the runtime's parameter rules, retries, balancing,
prices and the engine's model port apply unchanged.

Each call goes to the plugin version that serves the provider (`registry.model_provider_owner`), as the
SDK's `invoke_llm` / `invoke_text_embedding` / `invoke_rerank` / `validate_provider_credentials`
requests. The plugin's errors (its `InvokeError` subclasses, a crash, a timeout) become the runtime's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from django.conf import settings

from plugins import registry
from plugins.runtime.process import (
    PluginCrashedError,
    PluginRuntimeError,
    PluginStartError,
    PluginTimeoutError,
)
from providers.runtime.adapters.base import AdapterStream, EmbeddingVectors, ModelAdapter, StreamState
from providers.runtime.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    InvokeConnectionError,
    InvokeTimeoutError,
    ModelRuntimeError,
    NotInstalledError,
    RateLimitError,
    ServerError,
)
from providers.runtime.http import Timeouts
from providers.runtime.messages import PromptMessage, Tool, ToolCall
from providers.runtime.results import LLMResultChunk, LLMResultChunkDelta, RerankDocument, TokenCounts
from providers.runtime.schema import ModelSchema

_ERRORS: dict[str, type[ModelRuntimeError]] = {
    "InvokeAuthorizationError": AuthenticationError,
    "CredentialsValidateFailedError": AuthenticationError,
    "InvokeRateLimitError": RateLimitError,
    "InvokeBadRequestError": BadRequestError,
    "InvokeConnectionError": InvokeConnectionError,
    "InvokeServerUnavailableError": ServerError,
}
_MODEL_TYPES = {"llm": "llm", "text-embedding": "text-embedding", "rerank": "rerank"}


def runtime_error(error: PluginRuntimeError, provider: str) -> ModelRuntimeError:
    """The plugin's failure in the runtime's vocabulary (the plugin's own message kept)."""
    if isinstance(error, PluginTimeoutError):
        return InvokeTimeoutError(error.message, provider=provider)
    if isinstance(error, PluginCrashedError | PluginStartError):
        return ServerError(error.message, provider=provider)
    cls = _ERRORS.get(error.error_type)
    if cls is None:
        return BadRequestError(f"{error.error_type}: {error.message}", provider=provider)
    return cls(error.message, provider=provider)


def _message_dict(message: PromptMessage) -> dict[str, Any]:
    data = message.to_dict()
    data.setdefault("name", None)
    return data


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            str(part.get("data") or "")
            for part in value
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


class PluginModelAdapter(ModelAdapter):
    name = "plugin"

    def _target(self) -> tuple[registry.ReadyPlugin, str]:
        owner = registry.model_provider_owner(self.provider)
        if owner is None:
            raise NotInstalledError(
                f"the plugin serving {self.provider} is not installed here", provider=self.provider
            )
        return owner, self.provider.rsplit("/", 1)[-1]

    async def _stream(self, data: dict[str, Any]) -> AsyncIterator[Any]:
        owner, short = self._target()
        request = {"type": "model", "user_id": data.pop("user_id", None) or "", "provider": short, **data}
        try:
            process = await registry.pool.aprocess(registry.launch_spec(owner))
            async for item in process.request(request, timeout=settings.PLUGIN_CALL_TIMEOUT):
                yield item
        except PluginRuntimeError as error:
            raise runtime_error(error, self.provider) from error

    async def _one(self, data: dict[str, Any]) -> Any:
        last = None
        async for item in self._stream(data):
            last = item
        if last is None:
            raise InvalidResponseError("the plugin answered nothing", provider=self.provider)
        return last

    # --- LLM ---------------------------------------------------------------------------------------------

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
    ) -> AdapterStream:
        # Always streamed from the plugin; the runtime assembles a blocking answer from the stream.
        upstream = self._stream(
            {
                "action": "invoke_llm",
                "user_id": user,
                "model_type": "llm",
                "model": model,
                "credentials": dict(credentials),
                "prompt_messages": [_message_dict(m) for m in messages],
                "model_parameters": dict(parameters),
                "stop": list(stop) if stop else None,
                "tools": [t.to_dict() for t in tools] if tools else None,
                "stream": True,
            }
        )
        state = StreamState(model=model)
        iterator = self._chunks(upstream, state, model, list(messages))
        return AdapterStream(iterator, state, upstream.aclose)

    async def _chunks(
        self, upstream: AsyncIterator[Any], state: StreamState, model: str, prompt: list[PromptMessage]
    ) -> AsyncIterator[LLMResultChunk]:
        calls: list[ToolCall] = []
        async for chunk in upstream:
            delta = (chunk or {}).get("delta") or {}
            message = delta.get("message") or {}
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                if calls and (not call.get("id") or call.get("id") == calls[-1].id):
                    calls[-1].arguments += str(function.get("arguments") or "")  # a streamed fragment
                    if function.get("name") and not calls[-1].name:
                        calls[-1].name = str(function["name"])
                else:
                    calls.append(
                        ToolCall(
                            id=str(call.get("id")),
                            name=str(function.get("name") or ""),
                            arguments=str(function.get("arguments") or ""),
                        )
                    )
            if delta.get("finish_reason"):
                state.finish_reason = str(delta["finish_reason"])
            usage = delta.get("usage")
            if isinstance(usage, dict) and "prompt_tokens" in usage:
                state.tokens = TokenCounts(
                    int(usage["prompt_tokens"]), int(usage.get("completion_tokens") or 0)
                )
            text = _content(message.get("content"))
            if text:
                yield LLMResultChunk(
                    model=model,
                    prompt_messages=prompt,
                    delta=LLMResultChunkDelta(
                        index=int(delta.get("index") or 0),
                        message=PromptMessage(role="assistant", content=text),
                    ),
                )
        if calls:
            yield LLMResultChunk(
                model=model,
                prompt_messages=prompt,
                delta=LLMResultChunkDelta(
                    index=0, message=PromptMessage(role="assistant", content="", tool_calls=calls)
                ),
            )
        if state.finish_reason is None:
            state.finish_reason = "tool_calls" if calls else "stop"

    # --- embeddings, rerank --------------------------------------------------------------------------------

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
        result = await self._one(
            {
                "action": "invoke_text_embedding",
                "model_type": "text-embedding",
                "model": model,
                "credentials": dict(credentials),
                "texts": list(texts),
                "input_type": input_type,
            }
        )
        embeddings = result.get("embeddings") if isinstance(result, dict) else None
        if not isinstance(embeddings, list) or len(embeddings) != len(texts):
            raise InvalidResponseError(
                "the plugin's embeddings do not match the texts", provider=self.provider
            )
        tokens = (result.get("usage") or {}).get("tokens")
        return EmbeddingVectors(embeddings=[[float(v) for v in e] for e in embeddings], tokens=tokens)

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
        result = await self._one(
            {
                "action": "invoke_rerank",
                "model_type": "rerank",
                "model": model,
                "credentials": dict(credentials),
                "query": query,
                "docs": list(documents),
                "score_threshold": None,
                "top_n": top_n,
            }
        )
        docs = result.get("docs") if isinstance(result, dict) else None
        if not isinstance(docs, list):
            raise InvalidResponseError("the plugin's rerank answer has no docs", provider=self.provider)
        ranked = [
            RerankDocument(index=int(d["index"]), text=str(d.get("text") or ""), score=float(d["score"]))
            for d in docs
        ]
        return sorted(ranked, key=lambda d: d.score, reverse=True)

    # --- configuration -------------------------------------------------------------------------------------

    async def validate_credentials(
        self,
        *,
        credentials: Mapping[str, Any],
        model: str | None,
        model_type: str | None,
        schema: ModelSchema | None,
        timeouts: Timeouts,
    ) -> None:
        if model is None:
            data = {"action": "validate_provider_credentials", "credentials": dict(credentials)}
        else:
            data = {
                "action": "validate_model_credentials",
                "model_type": _MODEL_TYPES.get(model_type or "llm", model_type),
                "model": model,
                "credentials": dict(credentials),
            }
        result = await self._one(data)
        if not (isinstance(result, dict) and result.get("result")):
            raise AuthenticationError("the plugin refused the credentials", provider=self.provider)


__all__ = ["PluginModelAdapter", "runtime_error"]
