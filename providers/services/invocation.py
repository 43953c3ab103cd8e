"""Calling a workspace's models: the service the app runners and the workflow engine's model port use.

    stream = await llm_stream(tenant_id=..., provider="openai", model="gpt-4o-mini",
                              messages=[{"role": "user", "content": "Hi"}], parameters={"temperature": 0.3},
                              source={"app_id": ..., "message_id": ...})
    async with stream:
        async for chunk in stream:
            ...                     # chunk.text, chunk.delta.message.tool_calls
    stream.result.usage             # priced LLMUsage; usage.to_dict() is Dify's message_end `usage`

Per call it resolves the workspace's credentials (the custom model's active credential, else the
provider's active one, or a load-balancing pool when balancing is on), the price (the workspace's override
wins over the catalogue's), lets the runtime validate the parameters against the model's rules, calls the
model, and meters the call: one `ModelUsage` row when it ends (a stream: when it ends, fails or is
stopped), written off the event loop (`sync_to_async`), never inside a transaction held across the call.
A finished stream's row is written before its last chunk is handed on; a stopped or failed stream's row
is scheduled without waiting (`usage_writes_settle()` waits for those, e.g. at shutdown or in tests).
What a call resolves is cached in memory per workspace and model (`config_cache`): a hot path makes no
database query until the workspace's provider configuration changes.

Errors are the runtime's (`providers.runtime.errors`) plus two of ours (`providers.exceptions`); each has
Dify's code, and `api_error_for(exc)` gives the `ApiError` to answer with (HTTP status, code, message):

    ProviderNotInitializedError, MissingCredentialError,
    NotInstalledError, UnknownProviderError              400 provider_not_initialize
    RateLimitError with quota_exceeded                   400 provider_quota_exceeded
    UnknownModelError, UnsupportedOperationError,
    ModelDisabledError                                   400 model_currently_not_support
    ParameterError, CredentialsValidationError           400 invalid_param
    RateLimitError, AllCredentialsCoolingDownError       429 rate_limit_error
    AuthenticationError, BadRequestError, ContextTooLongError, ServerError, InvokeTimeoutError,
    InvokeConnectionError, InvalidResponseError          400 completion_request_error
    any other ModelRuntimeError                          its own `code` and `http_status`
    an exception that is not a model error               None: not ours to map

Messages never contain a credential: the runtime scrubs them before they leave it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from dify_project import metrics
from dify_project.api.errors import ApiError, InvalidParam
from dify_project.db import db_sync_to_async
from providers import exceptions as errors
from providers import selectors
from providers.models import ModelUsage, UsageStatus
from providers.runtime import (
    AllCredentialsCoolingDownError,
    CredentialsValidationError,
    EmbeddingResult,
    InvokeError,
    LLMResult,
    LLMResultChunk,
    LLMStream,
    LLMUsage,
    MissingCredentialError,
    ModelRuntimeError,
    ModerationResult,
    NotInstalledError,
    ParameterError,
    PromptMessage,
    RateLimitError,
    RerankResult,
    Speech2TextResult,
    Tool,
    TTSStream,
    UnknownModelError,
    UnknownProviderError,
    UnsupportedOperationError,
)
from providers.services.config_cache import cached
from providers.services.runtime import model_runtime

logger = logging.getLogger(__name__)

__all__ = [
    "MeteredLLMStream",
    "api_error_for",
    "default_model",
    "embed",
    "llm_invoke",
    "llm_stream",
    "moderate",
    "rerank",
    "speech2text",
    "tts",
    "tts_voices",
    "usage_writes_settle",
]

Messages = Sequence[PromptMessage | Mapping[str, Any]]
Tools = Sequence[Tool | Mapping[str, Any]] | None


# --- resolution ------------------------------------------------------------------------------------------


async def _resolve(tenant_id: str, provider: str, model_type: str, model: str) -> selectors.ResolvedModel:
    # Canonical id first (no database): `langgenius/openai/openai` and `openai` share one cache entry.
    canonical = model_runtime().provider(provider).provider
    return await cached(
        tenant_id,
        ("model", canonical, model_type, model),
        lambda: selectors.model_config_resolve(
            tenant=tenant_id, provider=canonical, model_type=model_type, model=model
        ),
    )


async def default_model(*, tenant_id: str, model_type: str) -> tuple[str, str] | None:
    """(provider, model) the workspace uses for `model_type` (`llm`, `text-embedding`, `rerank`, ...): its
    chosen default, else the first active model of that type it has configured; None if it has none."""
    return await cached(
        tenant_id,
        ("default", model_type),
        lambda: selectors.default_model_resolve(tenant=tenant_id, model_type=model_type),
    )


def _parameters_with_response_format(
    parameters: Mapping[str, Any] | None, response_format: Mapping[str, Any] | None
) -> dict[str, Any]:
    """OpenAI-style `response_format` ({"type": "json_schema", "json_schema": {...}}) as Dify's model
    parameters (`response_format` + `json_schema`), which the runtime validates against the model."""
    params = dict(parameters or {})
    if not response_format:
        return params
    if not isinstance(response_format, Mapping) or not isinstance(response_format.get("type"), str):
        raise ParameterError("response_format", "must be an object with a 'type'")
    params["response_format"] = response_format["type"]
    if response_format["type"] == "json_schema":
        schema = response_format.get("json_schema")
        if not isinstance(schema, Mapping):
            raise ParameterError("json_schema", "is required when response_format is json_schema")
        params["json_schema"] = json.dumps(schema, ensure_ascii=False)
    return params


# --- metering --------------------------------------------------------------------------------------------


def _source_fields(source: Mapping[str, Any] | None) -> dict[str, Any]:
    source = dict(source or {})
    return {
        "app_id": str(source.get("app_id") or "")[:64],
        "message_id": str(source.get("message_id") or "")[:64],
        "workflow_run_id": str(source.get("workflow_run_id") or source.get("run_id") or "")[:64],
        "source": json.loads(json.dumps(source, default=str)),
    }


def _write_usage(fields: dict[str, Any]) -> None:
    try:
        ModelUsage.objects.create(**fields)
    except Exception:  # the meter must never break the call it measures
        logger.exception(
            "could not record model usage for %s/%s", fields.get("provider"), fields.get("model_name")
        )


_pending_writes: set[asyncio.Task[None]] = set()


def _count_call(fields: dict[str, Any]) -> None:
    try:
        metrics.model_call_observed(
            provider=fields.get("provider") or "unknown",
            model_type=fields.get("model_type") or "unknown",
            status=fields.get("status") or "unknown",
            prompt_tokens=fields.get("prompt_tokens") or 0,
            completion_tokens=fields.get("completion_tokens") or 0,
            time_to_first_token=fields.get("time_to_first_token"),
        )
    except Exception:  # metrics must never break the call they measure
        logger.exception("counting a model call failed")


async def _record(fields: dict[str, Any], *, wait: bool = True) -> None:
    """Write one meter row off the event loop. `wait=False` (a stream being torn down, perhaps by a
    cancellation): schedule it and return at once."""
    _count_call(fields)
    write = db_sync_to_async(_write_usage)
    if wait:
        await write(fields)
        return
    task = asyncio.get_running_loop().create_task(write(fields))
    _pending_writes.add(task)
    task.add_done_callback(_pending_writes.discard)


async def usage_writes_settle() -> None:
    """Wait for meter rows scheduled by stopped or failed streams (tests, graceful shutdown)."""
    while _pending_writes:
        await asyncio.gather(*list(_pending_writes), return_exceptions=True)


def _meter_fields(
    *,
    tenant_id: str,
    resolved: selectors.ResolvedModel,
    source: Mapping[str, Any] | None,
    status: str,
    usage: LLMUsage | None = None,
    latency: float = 0.0,
    error: BaseException | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "provider": resolved.provider,
        "model_name": resolved.model,
        "model_type": resolved.model_type,
        "status": status,
        "latency": latency,
        "error": (f"{type(error).__name__}: {error}" if error is not None else "")[:255],
        **_source_fields(source),
    }
    if usage is not None:
        fields.update(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            prompt_price=usage.prompt_price,
            completion_price=usage.completion_price,
            total_price=usage.total_price,
            currency=usage.currency,
            latency=usage.latency,
            time_to_first_token=usage.time_to_first_token,
            estimated=usage.estimated,
        )
    elif resolved.pricing is not None:
        fields["currency"] = resolved.pricing.currency
    return fields


class MeteredLLMStream(LLMStream):
    """The runtime's `LLMStream`, metered: the same chunks, `.result`, `aclose()` and `async with`, and
    a `ModelUsage` row written when it ends (with the priced usage), fails or is stopped early.

    It wraps the runtime's stream rather than re-creating one, so it never touches the runtime's private
    state; the base class's constructor is deliberately not called.
    """

    __slots__ = ("_inner", "_metered", "_on_end")

    def __init__(
        self,
        inner: LLMStream,
        on_end: Callable[[str, LLMUsage | None, BaseException | None, bool], Awaitable[None]],
    ) -> None:
        self._inner = inner
        self._on_end = on_end
        self._metered = False
        self.model = inner.model
        self.prompt_messages = inner.prompt_messages
        self.result = None

    def __aiter__(self) -> MeteredLLMStream:
        return self

    async def _end(self, status: str, error: BaseException | None = None, *, wait: bool = True) -> None:
        if self._metered:
            return
        self._metered = True
        result = self._inner.result
        await self._on_end(status, result.usage if result else None, error, wait)

    async def __anext__(self) -> LLMResultChunk:
        try:
            chunk = await self._inner.__anext__()
        except StopAsyncIteration:
            if self._inner.result is None:
                await self._end(UsageStatus.STOPPED, wait=False)
            raise
        except asyncio.CancelledError:
            await self._end(UsageStatus.STOPPED, wait=False)
            raise
        except BaseException as exc:
            await self._end(UsageStatus.FAILED, exc, wait=False)
            raise
        if chunk.delta.usage is not None and self._inner.result is not None:
            self.result = self._inner.result
            await self._end(UsageStatus.SUCCEEDED)
        return chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
        if not self._metered:
            await self._end(UsageStatus.STOPPED, wait=False)

    async def __aenter__(self) -> MeteredLLMStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def collect(self) -> LLMResult:
        async with self:
            async for _ in self:
                pass
        if self.result is None:
            raise RuntimeError("the stream was closed before it ended")
        return self.result

    def __del__(self) -> None:
        # The wrapped stream closes its own upstream when collected; nothing of ours to release.
        return


# --- LLM -------------------------------------------------------------------------------------------------


async def _llm(
    *,
    tenant_id: str,
    provider: str,
    model: str,
    messages: Messages,
    parameters: Mapping[str, Any] | None,
    tools: Tools,
    stop: Sequence[str] | None,
    response_format: Mapping[str, Any] | None,
    user: str | None,
    source: Mapping[str, Any] | None,
    stream: bool,
) -> LLMStream | LLMResult:
    tenant_id = str(tenant_id)
    resolved = await _resolve(tenant_id, provider, "llm", model)
    params = _parameters_with_response_format(parameters, response_format)
    started = time.perf_counter()
    try:
        answer = await model_runtime().invoke_llm(
            provider=resolved.provider,
            model=model,
            credentials=resolved.credentials,
            messages=messages,
            parameters=params,
            tools=tools,
            stop=stop,
            stream=stream,
            user=user,
            pricing=resolved.pricing,
        )
    except InvokeError as exc:  # the provider was called and failed: that is a metered call
        await _record(
            _meter_fields(
                tenant_id=tenant_id,
                resolved=resolved,
                source=source,
                status=UsageStatus.FAILED,
                latency=time.perf_counter() - started,
                error=exc,
            )
        )
        raise
    if isinstance(answer, LLMResult):
        await _record(
            _meter_fields(
                tenant_id=tenant_id,
                resolved=resolved,
                source=source,
                status=UsageStatus.SUCCEEDED,
                usage=answer.usage,
            )
        )
        return answer

    async def on_end(status: str, usage: LLMUsage | None, error: BaseException | None, wait: bool) -> None:
        fields = _meter_fields(
            tenant_id=tenant_id,
            resolved=resolved,
            source=source,
            status=status,
            usage=usage,
            latency=time.perf_counter() - started,
            error=error,
        )
        await _record(fields, wait=wait)

    return MeteredLLMStream(answer, on_end)


async def llm_stream(
    *,
    tenant_id: str,
    provider: str,
    model: str,
    messages: list,
    parameters: dict,
    tools: list | None = None,
    stop: list[str] | None = None,
    response_format: dict | None = None,
    user: str | None = None,
    source: dict | None = None,
) -> LLMStream:
    """Stream a chat model's answer for the workspace.

    Returns once the first chunk has arrived (failures before that are retried by the runtime, and
    raised here); iterate it for `LLMResultChunk`s, the last carrying `finish_reason` and priced `usage`;
    `.result` holds the whole answer after the end. Close it (`aclose()`, `async with`, or cancel the
    consuming task) to stop early: the upstream response is closed and the call metered as stopped.
    `messages`/`tools` are runtime objects or Dify-style dicts. `source` ({app_id, message_id,
    workflow_run_id, node_id, ...}) is recorded on the usage row. Raises the errors listed in the module
    docstring.
    """
    answer = await _llm(
        tenant_id=tenant_id,
        provider=provider,
        model=model,
        messages=messages,
        parameters=parameters,
        tools=tools,
        stop=stop,
        response_format=response_format,
        user=user,
        source=source,
        stream=True,
    )
    assert isinstance(answer, LLMStream)
    return answer


async def llm_invoke(
    *,
    tenant_id: str,
    provider: str,
    model: str,
    messages: list,
    parameters: dict,
    tools: list | None = None,
    stop: list[str] | None = None,
    response_format: dict | None = None,
    user: str | None = None,
    source: dict | None = None,
) -> LLMResult:
    """The same call, blocking: the whole answer (`.text`, `.tool_calls`, `.usage`), metered."""
    answer = await _llm(
        tenant_id=tenant_id,
        provider=provider,
        model=model,
        messages=messages,
        parameters=parameters,
        tools=tools,
        stop=stop,
        response_format=response_format,
        user=user,
        source=source,
        stream=False,
    )
    assert isinstance(answer, LLMResult)
    return answer


# --- embeddings and rerank -------------------------------------------------------------------------------


async def embed(
    *,
    tenant_id: str,
    provider: str,
    model: str,
    texts: list[str],
    input_type: str = "document",
    source: dict | None = None,
) -> EmbeddingResult:
    """Embed `texts` (`input_type` `document` or `query`) with the workspace's embedding model; metered
    (the tokens count as prompt tokens)."""
    tenant_id = str(tenant_id)
    resolved = await _resolve(tenant_id, provider, "text-embedding", model)
    started = time.perf_counter()
    try:
        result = await model_runtime().invoke_embedding(
            provider=resolved.provider,
            model=model,
            credentials=resolved.credentials,
            texts=texts,
            input_type=input_type,
            pricing=resolved.pricing,
        )
    except InvokeError as exc:
        await _record(
            _meter_fields(
                tenant_id=tenant_id,
                resolved=resolved,
                source=source,
                status=UsageStatus.FAILED,
                latency=time.perf_counter() - started,
                error=exc,
            )
        )
        raise
    usage = result.usage
    fields = _meter_fields(
        tenant_id=tenant_id, resolved=resolved, source=source, status=UsageStatus.SUCCEEDED
    )
    fields.update(
        prompt_tokens=usage.tokens,
        total_tokens=usage.total_tokens,
        prompt_price=usage.total_price,
        total_price=usage.total_price,
        currency=usage.currency,
        latency=usage.latency,
        estimated=usage.estimated,
    )
    await _record(fields)
    return result


async def _metered(
    *,
    tenant_id: str,
    resolved: selectors.ResolvedModel,
    source: dict | None,
    call: Callable[[], Awaitable[Any]],
    usage_fields: Callable[[Any], dict[str, Any]] | None = None,
) -> Any:
    """Run one non-streaming model call and write its meter row: failed (and re-raise) or succeeded."""
    started = time.perf_counter()
    try:
        result = await call()
    except InvokeError as exc:
        await _record(
            _meter_fields(
                tenant_id=tenant_id,
                resolved=resolved,
                source=source,
                status=UsageStatus.FAILED,
                latency=time.perf_counter() - started,
                error=exc,
            )
        )
        raise
    fields = _meter_fields(
        tenant_id=tenant_id,
        resolved=resolved,
        source=source,
        status=UsageStatus.SUCCEEDED,
        latency=time.perf_counter() - started,
    )
    if usage_fields is not None:
        fields.update(usage_fields(result))
    await _record(fields)
    return result


async def rerank(
    *,
    tenant_id: str,
    provider: str,
    model: str,
    query: str,
    documents: list[str],
    top_n: int | None = None,
    score_threshold: float | None = None,
    source: dict | None = None,
) -> RerankResult:
    """`documents` ordered by relevance to `query`, best first, cut to `top_n` and `score_threshold`;
    metered (rerank APIs report no tokens: the row records the call and its latency)."""
    tenant_id = str(tenant_id)
    resolved = await _resolve(tenant_id, provider, "rerank", model)
    return await _metered(
        tenant_id=tenant_id,
        resolved=resolved,
        source=source,
        call=lambda: model_runtime().invoke_rerank(
            provider=resolved.provider,
            model=model,
            credentials=resolved.credentials,
            query=query,
            documents=documents,
            top_n=top_n,
            score_threshold=score_threshold,
        ),
    )


async def speech2text(
    *,
    tenant_id: str,
    provider: str,
    model: str,
    file: bytes,
    filename: str,
    mime_type: str | None = None,
    language: str | None = None,
    source: dict | None = None,
) -> Speech2TextResult:
    """The transcript of an audio file with the workspace's speech-to-text model; metered."""
    tenant_id = str(tenant_id)
    resolved = await _resolve(tenant_id, provider, "speech2text", model)
    return await _metered(
        tenant_id=tenant_id,
        resolved=resolved,
        source=source,
        call=lambda: model_runtime().invoke_speech2text(
            provider=resolved.provider,
            model=model,
            credentials=resolved.credentials,
            file=file,
            filename=filename,
            mime_type=mime_type,
            language=language,
        ),
    )


async def moderate(
    *, tenant_id: str, provider: str, model: str, text: str, source: dict | None = None
) -> ModerationResult:
    """Whether ``text`` is flagged by the workspace's moderation model (truthy when flagged); metered."""
    tenant_id = str(tenant_id)
    resolved = await _resolve(tenant_id, provider, "moderation", model)
    return await _metered(
        tenant_id=tenant_id,
        resolved=resolved,
        source=source,
        call=lambda: model_runtime().invoke_moderation(
            provider=resolved.provider, model=model, credentials=resolved.credentials, text=text
        ),
    )


async def tts(
    *,
    tenant_id: str,
    provider: str,
    model: str,
    text: str,
    voice: str | None = None,
    audio_format: str | None = None,
    source: dict | None = None,
) -> tuple[AsyncIterator[bytes], str]:
    """Speech for ``text``: (audio byte chunks in order, mime type). The call is metered when the audio
    ends, fails or the consumer stops (characters as prompt tokens)."""
    tenant_id = str(tenant_id)
    resolved = await _resolve(tenant_id, provider, "tts", model)
    stream: TTSStream = await model_runtime().invoke_tts(
        provider=resolved.provider,
        model=model,
        credentials=resolved.credentials,
        text=text,
        voice=voice,
        audio_format=audio_format,
        pricing=resolved.pricing,
    )

    async def chunks() -> AsyncIterator[bytes]:
        status, error = UsageStatus.STOPPED, None
        try:
            async with stream:
                async for chunk in stream:
                    yield chunk
            status = UsageStatus.SUCCEEDED if stream.completed else UsageStatus.STOPPED
        except InvokeError as exc:
            status, error = UsageStatus.FAILED, exc
            raise
        finally:
            fields = _meter_fields(
                tenant_id=tenant_id, resolved=resolved, source=source, status=status, error=error
            )
            usage = stream.usage
            if usage is not None:
                fields.update(
                    prompt_tokens=usage.characters,
                    total_tokens=usage.characters,
                    prompt_price=usage.total_price,
                    total_price=usage.total_price,
                    currency=usage.currency,
                    latency=usage.latency,
                )
            await _record(fields, wait=False)

    return chunks(), stream.mime_type


async def tts_voices(*, tenant_id: str, provider: str, model: str, language: str | None = None) -> list[dict]:
    resolved = await _resolve(str(tenant_id), provider, "tts", model)
    return model_runtime().tts_voices(
        provider=resolved.provider, model=model, credentials=resolved.credentials, language=language
    )


# --- errors as API answers -------------------------------------------------------------------------------


def api_error_for(exc: BaseException) -> ApiError | None:
    """Dify's error body for a failed model call (see the table in the module docstring). An `ApiError`
    comes back as it is; an exception that is not a model error gives None (the caller's to map)."""
    if isinstance(exc, ApiError):
        return exc
    if not isinstance(exc, ModelRuntimeError):
        return None
    message = str(exc)
    if isinstance(
        exc,
        errors.ProviderNotInitializedError
        | MissingCredentialError
        | NotInstalledError
        | UnknownProviderError,
    ):
        return errors.ProviderNotInitialize(message)
    if isinstance(exc, RateLimitError) and getattr(exc, "quota_exceeded", False):
        return errors.ProviderQuotaExceeded(message)
    if isinstance(exc, RateLimitError | AllCredentialsCoolingDownError):
        return errors.InvokeRateLimit(message)
    if isinstance(exc, UnknownModelError | UnsupportedOperationError | errors.ModelDisabledError):
        return errors.ModelCurrentlyNotSupport(message)
    if isinstance(exc, ParameterError):
        return InvalidParam(message, params=exc.parameter)
    if isinstance(exc, CredentialsValidationError):
        return InvalidParam(message)
    if isinstance(exc, InvokeError):
        return errors.CompletionRequestError(message)
    return ApiError(message, code=exc.code, status=exc.http_status)
