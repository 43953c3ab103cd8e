"""Each adapter maps each failure to the same error class: the matrix of providers x failures."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from providers.runtime import (
    AuthenticationError,
    ContextTooLongError,
    InvalidResponseError,
    InvokeConnectionError,
    InvokeError,
    InvokeTimeoutError,
    ModelRuntime,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Timeouts,
    UserMessage,
)
from tests.providers.credentials import (
    anthropic_creds,
    azure_creds,
    ollama_creds,
    openai_compatible,
    openai_creds,
)
from tests.support.fake_llm import FakeLLMServer, Reply

FAST = Timeouts(connect=1.0, read=0.3, write=1.0, pool=1.0)
RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)

# provider -> (model, credentials builder, model type)
TARGETS: dict[str, tuple[str, Callable[..., dict[str, Any]], str]] = {
    "openai": ("gpt-4o-mini", openai_creds, "llm"),
    "openai_api_compatible": ("echo", openai_compatible, "llm"),
    "azure_openai": ("deploy-1", azure_creds, "llm"),
    "anthropic": ("claude-3-5-haiku-20241022", anthropic_creds, "llm"),
    "ollama": ("llama3", ollama_creds, "llm"),
    "jina": (
        "jina-reranker-m0",
        lambda s: {"api_key": "jina_key_000000", "base_url": s.openai_base_url},
        "rerank",
    ),
}
LLM_TARGETS = [p for p, (_, _, kind) in TARGETS.items() if kind == "llm"]


async def invoke(runtime: ModelRuntime, server: Any, provider: str, *, stream: bool) -> Any:
    model, credentials, kind = TARGETS[provider]
    values = credentials(server)
    if kind == "rerank":
        return await runtime.invoke_rerank(
            provider=provider,
            model=model,
            credentials=values,
            query="q",
            documents=["a", "b"],
            timeouts=FAST,
            retry=RETRY,
        )
    answer = await runtime.invoke_llm(
        provider=provider,
        model=model,
        credentials=values,
        messages=[UserMessage("hello")],
        stream=stream,
        timeouts=FAST,
        retry=RETRY,
    )
    return await answer.collect() if stream else answer


SCENARIOS: dict[str, tuple[Callable[[], list[Reply]], type[InvokeError], int]] = {
    # name: (replies to queue, expected error, requests the server should see)
    "401": (lambda: [Reply.error(401, "invalid key")], AuthenticationError, 1),
    "403": (lambda: [Reply.error(403, "forbidden")], AuthenticationError, 1),
    "429": (lambda: [Reply.error(429, "slow down", headers={"retry-after": "0"})] * 2, RateLimitError, 2),
    "400 context": (
        lambda: [Reply.error(400, "This model's maximum context length is 4096 tokens, you asked for 5000")],
        ContextTooLongError,
        1,
    ),
    "500": (lambda: [Reply.error(500, "internal")] * 2, ServerError, 2),
    "503 html": (lambda: [Reply.html(503)] * 2, ServerError, 2),
    "200 html": (lambda: [Reply.html(200)], InvalidResponseError, 1),
    "200 garbage": (lambda: [Reply.garbage()], InvalidResponseError, 1),
    "slow": (lambda: [Reply(text="late", delay=1.0)] * 2, InvokeTimeoutError, 2),
}


# (provider, stream): every adapter blocking, and those with a streaming form streaming too
MODES = [
    pytest.param(provider, stream, id=f"{provider}-{'stream' if stream else 'blocking'}")
    for provider, (_, _, kind) in TARGETS.items()
    for stream in ((True, False) if kind == "llm" else (False,))
]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize(("provider", "stream"), MODES)
async def test_failures_map_to_the_same_error_class_for_every_adapter(
    provider: str, stream: bool, scenario: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    replies, expected, requests = SCENARIOS[scenario]
    fake_llm.push(*replies())
    with pytest.raises(expected) as excinfo:
        await invoke(model_runtime, fake_llm, provider, stream=stream)
    assert type(excinfo.value) is expected
    assert excinfo.value.provider == provider
    assert len(fake_llm.requests) == requests


@pytest.mark.parametrize("provider", list(TARGETS))
async def test_connection_refused_is_a_connection_error_for_every_adapter(
    provider: str, closed_port: int, model_runtime: ModelRuntime
) -> None:
    # the same credentials as elsewhere, pointing at a port where nothing listens
    nowhere = SimpleNamespace(
        url=f"http://127.0.0.1:{closed_port}", openai_base_url=f"http://127.0.0.1:{closed_port}/v1"
    )
    with pytest.raises(InvokeConnectionError, match="Could not reach the provider"):
        await invoke(model_runtime, nowhere, provider, stream=False)


@pytest.mark.parametrize("provider", LLM_TARGETS)
async def test_a_drop_mid_stream_is_a_connection_error_for_every_adapter(
    provider: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="one two three four five", drop_after=2))
    with pytest.raises(InvokeConnectionError):
        await invoke(model_runtime, fake_llm, provider, stream=True)
    assert len(fake_llm.requests) == 1  # output had started: no retry


@pytest.mark.parametrize("provider", LLM_TARGETS)
async def test_retry_then_success_for_every_adapter(
    provider: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(429, "busy", headers={"retry-after": "0"}), Reply(text="fine now"))
    result = await invoke(model_runtime, fake_llm, provider, stream=True)
    assert result.text == "fine now"
    assert len(fake_llm.requests) == 2
