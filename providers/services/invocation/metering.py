"""Metering: one `ModelUsage` row per call, written off the loop; the metered LLM stream."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from dify_project import metrics
from dify_project.db import db_sync_to_async
from providers import selectors
from providers.models import ModelUsage, UsageStatus
from providers.runtime import (
    LLMResult,
    LLMResultChunk,
    LLMStream,
    LLMUsage,
)

logger = logging.getLogger(__name__)

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
    """Wait for the meter rows this event loop scheduled without waiting (stopped or failed streams,
    document embeddings): before a temporary loop ends, in tests, at graceful shutdown. Rows another
    loop scheduled are that loop's to wait for."""
    loop = asyncio.get_running_loop()
    while mine := [task for task in _pending_writes if task.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)


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
