"""The fake server as a development tool: `python -m tests.support.fake_llm --port N`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from providers.runtime import ModelRuntime, UserMessage

ROOT = Path(__file__).resolve().parents[2]


def _start(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_llm", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx2.get(f"http://127.0.0.1:{port}/v1/models", timeout=0.5)
            return
        except httpx2.TransportError:
            time.sleep(0.1)
    pytest.fail("the fake server did not start")


@pytest.fixture
def running_tool(closed_port: int) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    process = _start(closed_port)
    try:
        _wait_until_up(closed_port)
        yield closed_port, process
    finally:
        process.kill()
        process.wait(timeout=10)


async def test_the_dev_tool_serves_echo_and_lorem_models_and_says_how_to_use_it(
    running_tool: tuple[int, subprocess.Popen[str]], model_runtime: ModelRuntime
) -> None:
    port, process = running_tool
    credentials = {"endpoint_url": f"http://127.0.0.1:{port}/v1", "api_key": "anything"}
    # an OpenAI-compatible client gets the echo model's answer, streamed
    stream = await model_runtime.invoke_llm(
        provider="openai_api_compatible",
        model="echo",
        credentials=credentials,
        messages=[UserMessage("ping pong")],
    )
    assert (await stream.collect()).text == "You said: ping pong"
    # and `lorem` streams as many words as max_tokens asks for
    stream = await model_runtime.invoke_llm(
        provider="openai_api_compatible",
        model="lorem",
        credentials=credentials,
        messages=[UserMessage("go")],
        parameters={"max_tokens": 25},
    )
    chunks = [c async for c in stream]
    assert len(chunks) == 26  # 25 words, then the closing chunk with usage
    assert chunks[-1].delta.usage is not None
    assert chunks[-1].delta.usage.completion_tokens == 25
    process.terminate()
    output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in output
    assert "/v1/audio/transcriptions, /v1/audio/speech, /v1/moderations" in output
    assert "endpoint_url" in output
