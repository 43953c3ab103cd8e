"""Stopping speech early closes every upstream request, the one streaming and those fetched ahead."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

from providers.runtime import InvokeTimeoutError, ModelRuntime, RetryPolicy, Timeouts, TTSStream
from tests.providers.credentials import openai_creds
from tests.support.fake_llm import FakeLLMServer, RecordedRequest, Reply

# Long enough for tts-1 (120 characters a request) to need several requests.
TEXT = " ".join(f"This is sentence number {i} of a long answer." for i in range(10))


def slow(pieces: int = 40) -> Reply:
    return Reply(chunks=pieces, chunk_delay=0.05, route="speech")


async def open_speech(
    runtime: ModelRuntime, server: FakeLLMServer, text: str = TEXT, **kwargs: Any
) -> TTSStream:
    return await runtime.invoke_tts(
        provider="openai", model="tts-1", credentials=openai_creds(server), text=text, **kwargs
    )


def _assert_every_request_was_cut_short(requests: list[RecordedRequest]) -> None:
    for record in requests:
        assert record.wait_done(timeout=3), "the server never finished with a request"
        assert record.disconnected
        assert not record.completed
        assert record.chunks_sent < 40


async def test_cancelling_the_reader_closes_the_streaming_and_prefetched_requests(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given three slow pieces in flight (the one being read and two fetched ahead)
    fake_llm.push(slow(), slow(), slow())
    stream = await open_speech(model_runtime, fake_llm)
    received: list[bytes] = []
    two_arrived = asyncio.Event()

    async def read() -> None:
        async for chunk in stream:
            received.append(chunk)
            if len(received) == 2:
                two_arrived.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(two_arrived.wait(), timeout=3)
    await asyncio.sleep(0.1)
    assert len(fake_llm.requests) == 3
    # when the reading task is cancelled
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # then the provider saw every one of those connections close before its end
    await asyncio.to_thread(_assert_every_request_was_cut_short, list(fake_llm.requests))
    assert len(fake_llm.requests) == 3  # and nothing more was asked for


async def test_closing_the_stream_early_closes_the_upstream_requests(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(slow(), slow(), slow())
    stream = await open_speech(model_runtime, fake_llm)
    assert (await stream.__anext__()).startswith(b"ID3")
    await stream.aclose()
    await asyncio.to_thread(_assert_every_request_was_cut_short, list(fake_llm.requests))
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    assert stream.usage.characters > 0  # what was asked for stays countable for metering


async def test_leaving_an_async_with_block_closes_the_upstream_requests(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(slow(), slow(), slow())
    async with await open_speech(model_runtime, fake_llm) as stream:
        async for _ in stream:
            break
    await asyncio.to_thread(_assert_every_request_was_cut_short, list(fake_llm.requests))


async def test_closing_from_another_task_stops_a_blocked_reader(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(chunks=6, chunk_delay=1.0, route="speech"))
    stream = await open_speech(model_runtime, fake_llm, "Just one piece.")
    await stream.__anext__()
    reader = asyncio.create_task(stream.__anext__())
    await asyncio.sleep(0.05)
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(reader, timeout=2)
    await asyncio.to_thread(_assert_every_request_was_cut_short, list(fake_llm.requests))


async def test_a_dropped_stream_object_still_closes_its_requests(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(slow(), slow(), slow())
    stream: Any = await open_speech(model_runtime, fake_llm)
    await stream.__anext__()
    await asyncio.sleep(0.1)
    del stream
    gc.collect()
    await asyncio.sleep(0.05)
    await asyncio.to_thread(_assert_every_request_was_cut_short, list(fake_llm.requests))


async def test_a_stream_read_to_the_end_completes_every_request(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    stream = await open_speech(model_runtime, fake_llm)
    await stream.collect()
    assert stream.completed
    for record in fake_llm.requests:
        assert record.wait_done(timeout=3)
        assert record.completed
        assert not record.disconnected


async def test_a_slow_first_byte_times_out_after_the_retries(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(*[Reply(delay=1.0, route="speech") for _ in range(2)])
    started = time.perf_counter()
    with pytest.raises(InvokeTimeoutError):
        await open_speech(
            model_runtime,
            fake_llm,
            "Hi.",
            timeouts=Timeouts(connect=1, read=0.2, write=1, pool=1),
            retry=RetryPolicy(max_attempts=2, base_delay=0.01),
        )
    assert time.perf_counter() - started < 1.5
    assert len(fake_llm.requests) == 2


async def test_a_stall_mid_piece_times_out_from_iteration_without_retry(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(chunks=4, chunk_delay=1.0, route="speech"))
    stream = await open_speech(
        model_runtime, fake_llm, "Hi there.", timeouts=Timeouts(connect=1, read=0.3, write=1, pool=1)
    )
    received = []
    with pytest.raises(InvokeTimeoutError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 1
    assert len(fake_llm.requests) == 1
