"""Stopping a stream early closes the upstream connection: the provider sees the client go."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from providers.runtime import InvokeError, LLMStream, ModelRuntime, UserMessage
from tests.providers.credentials import anthropic_creds, ollama_creds, openai_compatible
from tests.support.fake_llm import FakeLLMServer, Reply

SLOW = {"text": " ".join(f"word{i}" for i in range(40)), "chunk_delay": 0.05}

PROVIDERS = {
    "openai_api_compatible": ("echo", openai_compatible),
    "anthropic": ("claude-3-5-haiku-20241022", anthropic_creds),
    "ollama": ("llama3", ollama_creds),
}


async def _open(runtime: ModelRuntime, server: FakeLLMServer, provider: str) -> LLMStream:
    model, credentials = PROVIDERS[provider]
    stream = await runtime.invoke_llm(
        provider=provider, model=model, credentials=credentials(server), messages=[UserMessage("talk")]
    )
    assert isinstance(stream, LLMStream)
    return stream


def _assert_server_saw_the_client_leave(server: FakeLLMServer) -> None:
    record = server.requests[-1]
    assert record.wait_done(timeout=3), "the server never finished with the request"
    assert record.disconnected
    assert not record.completed
    assert record.chunks_sent < 40


@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_cancelling_the_consuming_task_closes_the_upstream_stream(
    provider: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a slow stream being read by a task
    fake_llm.push(Reply(**SLOW))  # type: ignore[arg-type]
    stream = await _open(model_runtime, fake_llm, provider)
    received: list[str] = []
    two_arrived = asyncio.Event()

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk.text)
            if len(received) == 2:
                two_arrived.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two_arrived.wait(), timeout=3)
    # when the task is cancelled mid-stream
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # then the provider saw the connection close, long before the end
    await asyncio.to_thread(_assert_server_saw_the_client_leave, fake_llm)
    assert 2 <= len(received) < 40


@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_closing_the_stream_early_closes_the_upstream_stream(
    provider: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(**SLOW))  # type: ignore[arg-type]
    stream = await _open(model_runtime, fake_llm, provider)
    first = await stream.__anext__()
    assert first.text.startswith("word0")
    await stream.aclose()
    await asyncio.to_thread(_assert_server_saw_the_client_leave, fake_llm)
    # and the stream is over for the caller too
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_leaving_an_async_with_block_closes_the_upstream_stream(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(**SLOW))  # type: ignore[arg-type]
    async with await _open(model_runtime, fake_llm, "openai_api_compatible") as stream:
        async for chunk in stream:
            if chunk.text.startswith("word2"):
                break
    await asyncio.to_thread(_assert_server_saw_the_client_leave, fake_llm)


async def test_a_dropped_stream_object_is_closed_when_collected(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a caller that breaks out of `async for` and forgets the stream (no aclose, no async with)
    fake_llm.push(Reply(**SLOW))  # type: ignore[arg-type]
    stream: Any = await _open(model_runtime, fake_llm, "openai_api_compatible")
    async for _ in stream:
        break
    del stream
    gc.collect()
    # then the safety net still closes the upstream connection
    await asyncio.sleep(0.05)
    await asyncio.to_thread(_assert_server_saw_the_client_leave, fake_llm)


async def test_a_stream_read_to_the_end_completes_normally(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="short answer"))
    stream = await _open(model_runtime, fake_llm, "openai_api_compatible")
    result = await stream.collect()
    assert result.text == "short answer"
    record = fake_llm.requests[-1]
    assert record.wait_done(timeout=3)
    assert record.completed
    assert not record.disconnected


async def test_closing_from_another_task_stops_a_blocked_reader(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a reader waiting on a slow stream (a "stop" request handled elsewhere closes it)
    fake_llm.push(Reply(text="a b c d e f", chunk_delay=1.0))
    stream = await _open(model_runtime, fake_llm, "openai_api_compatible")
    await stream.__anext__()
    reader = asyncio.create_task(stream.__anext__())
    await asyncio.sleep(0.05)
    # when another task closes the stream
    await stream.aclose()
    # then the reader stops with an error instead of waiting for the provider, and the provider saw it
    with pytest.raises(InvokeError):
        await asyncio.wait_for(reader, timeout=2)
    await asyncio.to_thread(_assert_server_saw_the_client_leave, fake_llm)
