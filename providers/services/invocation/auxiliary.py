"""The other model types: embeddings, rerank, speech to text, moderation, text to speech."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from providers import selectors
from providers.models import UsageStatus
from providers.runtime import (
    EmbeddingResult,
    InvokeError,
    ModerationResult,
    RerankResult,
    Speech2TextResult,
    TTSStream,
)
from providers.services.invocation.metering import (
    _meter_fields,
    _record,
)
from providers.services.invocation.resolution import (
    _resolve,
)
from providers.services.runtime import model_runtime

logger = logging.getLogger(__name__)

# --- embeddings and rerank -------------------------------------------------------------------------------


async def embed(
    *,
    tenant_id: str,
    provider: str,
    model: str,
    texts: list[str],
    input_type: str = "document",
    source: dict | None = None,
    wait_for_meter: bool = True,
) -> EmbeddingResult:
    """Embed `texts` (`input_type` `document` or `query`) with the workspace's embedding model; metered
    (the tokens count as prompt tokens). `wait_for_meter=False` returns as soon as the model answered and
    writes the meter row when the database is free (indexing: the next batch goes to the model while
    this thread writes the last one; the caller's loop waits with `usage_writes_settle()`)."""
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
    await _record(fields, wait=wait_for_meter)
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
