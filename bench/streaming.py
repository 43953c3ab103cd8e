"""Streaming benchmark: what the model runtime adds on top of the plain `openai` SDK.

A loopback fake OpenAI-compatible server (tests/support/fake_llm.py, in its own process so it does not
share our GIL) streams 500 tokens, one SSE event each. The same stream is read, alternately, by
  sdk      the official openai SDK alone (AsyncOpenAI on an httpx2 pool, stream_options.include_usage), and
  runtime  ModelRuntime.invoke_llm (provider openai_api_compatible): parameter validation, message
           conversion, retry policy, first-chunk prefetch, chunk objects, usage pricing, on the same SDK.
Reported per mode: time to first token (TTFT), total time, and client CPU time per call (less noisy than
wall time on a shared machine); then the runtime's overhead (runtime minus sdk) to first token and per
token, and the ratio. Goal (issue 4): under 1 ms added to first token, negligible per token.

    .venv/bin/python bench/streaming.py [--rounds 40] [--tokens 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import openai  # noqa: E402

from providers.runtime import ModelRuntime, UserMessage  # noqa: E402


@dataclass
class Samples:
    ttft: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_llm", "--port", str(port), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx2.get(f"http://127.0.0.1:{port}/v1/models", timeout=0.5)
            return process
        except httpx2.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the fake server did not start")


async def read_with_sdk(client: openai.AsyncOpenAI, tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = 0.0
    count = 0
    stream = await client.chat.completions.create(
        model="lorem",
        messages=[{"role": "user", "content": "go"}],
        max_tokens=tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            if count == 0:
                first = time.perf_counter() - started
            count += 1
    return first, time.perf_counter() - started, count


async def read_with_runtime(runtime: ModelRuntime, base_url: str, tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = 0.0
    count = 0
    stream = await runtime.invoke_llm(
        provider="openai_api_compatible",
        model="lorem",
        credentials={"endpoint_url": base_url, "api_key": "bench"},
        messages=[UserMessage("go")],
        parameters={"max_tokens": tokens},
    )
    async for chunk in stream:
        if chunk.text:
            if count == 0:
                first = time.perf_counter() - started
            count += 1
    assert stream.result is not None and stream.result.usage.completion_tokens == tokens
    return first, time.perf_counter() - started, count


async def measure(read: Callable[[], Awaitable[tuple[float, float, int]]], samples: Samples) -> None:
    cpu = time.process_time()
    ttft, total, count = await read()
    samples.cpu.append(time.process_time() - cpu)
    samples.ttft.append(ttft)
    samples.total.append(total)
    samples.tokens.append(count)


def ms(value: float) -> str:
    return f"{value * 1000:8.3f} ms"


def us(value: float) -> str:
    return f"{value * 1e6:8.2f} us"


async def run(rounds: int, tokens: int, base_url: str) -> tuple[Samples, Samples]:
    http_client = httpx2.AsyncClient()
    sdk_client = openai.AsyncOpenAI(
        api_key="bench", base_url=base_url, http_client=http_client, max_retries=0
    )
    runtime = ModelRuntime()
    sdk, ours = Samples(), Samples()
    for _ in range(5):  # warm up: connections, imports, lazy loads, CPU caches
        await read_with_sdk(sdk_client, tokens)
        await read_with_runtime(runtime, base_url, tokens)
    for index in range(rounds):
        # alternate the order so drift on the machine hits both modes alike
        pair = [
            (lambda: read_with_sdk(sdk_client, tokens), sdk),
            (lambda: read_with_runtime(runtime, base_url, tokens), ours),
        ]
        for read, samples in pair if index % 2 == 0 else reversed(pair):
            await measure(read, samples)
    await runtime.aclose()
    await http_client.aclose()
    return sdk, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=500)
    args = parser.parse_args()
    port = free_port()
    server = start_server(port)
    try:
        sdk, ours = asyncio.run(run(args.rounds, args.tokens, f"http://127.0.0.1:{port}/v1"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert set(sdk.tokens) == {args.tokens} and set(ours.tokens) == {args.tokens}, "token counts differ"

    med = statistics.median
    ttft_added = med(ours.ttft) - med(sdk.ttft)
    total_added = med(ours.total) - med(sdk.total)
    cpu_added = med(ours.cpu) - med(sdk.cpu)
    print(
        f"command: {Path(sys.executable).name} bench/streaming.py --rounds {args.rounds} --tokens {args.tokens}"
    )
    print(
        f"python {sys.version.split()[0]}, openai {openai.__version__}, {os.cpu_count()} CPUs; medians of {args.rounds} rounds"
    )
    print(
        f"fake server: {sys.executable} -m tests.support.fake_llm (separate process), {args.tokens} SSE events per call\n"
    )
    print(f"{'':10}{'TTFT':>14}{'total':>14}{'client CPU':>14}{'per token (CPU)':>18}")
    for name, s in (("sdk", sdk), ("runtime", ours)):
        print(
            f"{name:10}{ms(med(s.ttft)):>14}{ms(med(s.total)):>14}{ms(med(s.cpu)):>14}{us(med(s.cpu) / args.tokens):>18}"
        )
    print()
    print(f"added to first token (wall):   {ms(ttft_added)}   (goal < 1 ms)")
    print(f"added per token (wall):        {us(total_added / args.tokens)}")
    print(f"added per token (client CPU):  {us(cpu_added / args.tokens)}")
    print(
        f"ratio runtime/sdk: TTFT {med(ours.ttft) / med(sdk.ttft):.3f}, total {med(ours.total) / med(sdk.total):.3f}, "
        f"CPU {med(ours.cpu) / med(sdk.cpu):.3f}"
    )


if __name__ == "__main__":
    main()
