"""LLM calls: streaming and blocking, resolved, validated and metered."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from providers.models import UsageStatus
from providers.runtime import (
    InvokeError,
    LLMResult,
    LLMStream,
    LLMUsage,
)
from providers.services.invocation.guards import guards_after, guards_before
from providers.services.invocation.metering import (
    MeteredLLMStream,
    _meter_fields,
    _record,
)
from providers.services.invocation.resolution import (
    Messages,
    Tools,
    _parameters_with_response_format,
    _resolve,
)
from providers.services.runtime import model_runtime

logger = logging.getLogger(__name__)

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
    # Budgets: refuse before the provider is called; settle with the real usage after.
    taken = await guards_before(tenant_id=tenant_id, source=source, parameters=params)
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
    except BaseException as exc:
        await guards_after(taken, None)
        if not isinstance(exc, InvokeError):
            raise
        # the provider was called and failed: that is a metered call
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
        await guards_after(taken, answer.usage)
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
        await guards_after(taken, usage)
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
