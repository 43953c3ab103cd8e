"""Pytest fixtures for the fake model-provider server and the model runtime.

Imported by tests/providers/conftest.py; any other package's conftest (or the root one) can import them
the same way: `from tests.support.fixtures import fake_llm, fake_llm_server, model_runtime, closed_port`.

- `fake_llm_server` (session): one FakeLLMServer on 127.0.0.1, started once.
- `fake_llm`: the same server, reset before the test (empty script, no recorded requests, any API key).
- `model_runtime`: a ModelRuntime with fast retries and short timeouts, closed after the test.
- `closed_port`: a loopback port with nothing listening (connection refused).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from providers.runtime import ModelRuntime, RetryPolicy, Timeouts
from tests.support.fake_llm import FakeLLMServer

TEST_TIMEOUTS = Timeouts(connect=2.0, read=5.0, write=5.0, pool=2.0)
TEST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=2.0)


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()


@pytest.fixture
async def model_runtime() -> AsyncIterator[ModelRuntime]:
    runtime = ModelRuntime(retry=TEST_RETRY, timeouts=TEST_TIMEOUTS)
    try:
        yield runtime
    finally:
        await runtime.aclose()


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
