"""Speech to text, text to speech and moderation map each failure to the same error class as the chat
calls do, for every provider that offers them."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from providers.runtime import (
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    InvokeConnectionError,
    InvokeError,
    InvokeTimeoutError,
    ModelRuntime,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Timeouts,
)
from tests.providers.credentials import azure_creds, openai_compatible, openai_creds
from tests.support.fake_audio import spoken
from tests.support.fake_llm import FakeLLMServer, Reply

FAST = Timeouts(connect=1.0, read=0.3, write=1.0, pool=1.0)
RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)


def _azure(base: str) -> Callable[[Any], dict[str, Any]]:
    return lambda server: azure_creds(server, base_model_name=base)


# id -> (provider, model type, model, credentials builder)
TARGETS: dict[str, tuple[str, str, str, Callable[[Any], dict[str, Any]]]] = {
    "openai-speech2text": ("openai", "speech2text", "whisper-1", openai_creds),
    "compatible-speech2text": ("openai_api_compatible", "speech2text", "whisper-large", openai_compatible),
    "azure-speech2text": ("azure_openai", "speech2text", "whisper-deploy", _azure("whisper-1")),
    "openai-tts": ("openai", "tts", "tts-1", openai_creds),
    "compatible-tts": ("openai_api_compatible", "tts", "kokoro", openai_compatible),
    "azure-tts": ("azure_openai", "tts", "tts-deploy", _azure("tts-1")),
    "openai-moderation": ("openai", "moderation", "omni-moderation-latest", openai_creds),
}


async def invoke(runtime: ModelRuntime, server: Any, target: str) -> Any:
    provider, model_type, model, credentials = TARGETS[target]
    common = {"provider": provider, "model": model, "credentials": credentials(server), "timeouts": FAST}
    if model_type == "speech2text":
        return await runtime.invoke_speech2text(**common, file=b"some words", filename="a.wav", retry=RETRY)
    if model_type == "tts":
        stream = await runtime.invoke_tts(**common, text="Some words.", retry=RETRY)
        return await stream.collect()
    return await runtime.invoke_moderation(**common, text="some words", retry=RETRY)


SCENARIOS: dict[str, tuple[Callable[[], list[Reply]], type[InvokeError], int]] = {
    # name: (replies to queue, expected error, requests the server should see)
    "401": (lambda: [Reply.error(401, "invalid key")], AuthenticationError, 1),
    "403": (lambda: [Reply.error(403, "forbidden")], AuthenticationError, 1),
    "429": (lambda: [Reply.error(429, "slow down", headers={"retry-after": "0"})] * 2, RateLimitError, 2),
    "400": (lambda: [Reply.error(400, "Invalid value for 'voice'")], BadRequestError, 1),
    "413": (lambda: [Reply.error(413, "Request entity too large")], BadRequestError, 1),
    "500": (lambda: [Reply.error(500, "internal")] * 2, ServerError, 2),
    "503 html": (lambda: [Reply.html(503)] * 2, ServerError, 2),
    "200 html": (lambda: [Reply.html(200)], InvalidResponseError, 1),
    "200 garbage": (lambda: [Reply.garbage()], InvalidResponseError, 1),
    "slow": (lambda: [Reply(text="late", delay=1.0)] * 2, InvokeTimeoutError, 2),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("target", list(TARGETS))
async def test_failures_map_to_the_same_error_class_for_every_media_call(
    target: str, scenario: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    replies, expected, requests = SCENARIOS[scenario]
    fake_llm.push(*replies())
    with pytest.raises(expected) as excinfo:
        await invoke(model_runtime, fake_llm, target)
    assert type(excinfo.value) is expected
    assert excinfo.value.provider == TARGETS[target][0]
    assert len(fake_llm.requests) == requests


@pytest.mark.parametrize("target", list(TARGETS))
async def test_connection_refused_is_a_connection_error_for_every_media_call(
    target: str, closed_port: int, model_runtime: ModelRuntime
) -> None:
    nowhere = SimpleNamespace(
        url=f"http://127.0.0.1:{closed_port}", openai_base_url=f"http://127.0.0.1:{closed_port}/v1"
    )
    with pytest.raises(InvokeConnectionError, match="Could not reach the provider"):
        await invoke(model_runtime, nowhere, target)


@pytest.mark.parametrize("target", list(TARGETS))
async def test_retry_then_success_for_every_media_call(
    target: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(502, "bad gateway"))
    result = await invoke(model_runtime, fake_llm, target)
    model_type = TARGETS[target][1]
    if model_type == "speech2text":
        assert result.text == "some words"
    elif model_type == "tts":
        assert [text for _, text in spoken(result)] == ["Some words."]
    else:
        assert result.flagged is False
    assert len(fake_llm.requests) == 2
