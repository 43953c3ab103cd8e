"""Streaming benchmark: what the model runtime adds on top of the plain `openai` SDK.

A loopback fake OpenAI-compatible server (tests/support/fake_llm.py, in its own process so it does not
share our GIL) streams 500 tokens, one SSE event each. The same stream is read, alternately, by
  sdk      the official openai SDK alone (AsyncOpenAI on an httpx2 pool, stream_options.include_usage), and
  runtime  ModelRuntime.invoke_llm (provider openai_api_compatible): parameter validation, message
           conversion, retry policy, first-chunk prefetch, chunk objects, usage pricing, over the same
           httpx2 pool (the runtime speaks the chat protocol itself; it no longer goes through the SDK).
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
    ttft: list[float] = field(default_factory=list)  # wall time to first token
    cpu_ttft: list[float] = field(default_factory=list)  # client CPU time to first token
    total: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)


class Clocks:
    """Wall and client-CPU time since the call started; CPU time ignores other load on the machine."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.first: tuple[float, float] | None = None

    def token(self) -> None:
        if self.first is None:
            self.first = (time.perf_counter() - self.wall, time.process_time() - self.cpu)


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


async def read_with_sdk(client: openai.AsyncOpenAI, tokens: int, samples: Samples) -> None:
    clocks = Clocks()
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
            clocks.token()
            count += 1
    record(samples, clocks, count)


async def read_with_runtime(runtime: ModelRuntime, base_url: str, tokens: int, samples: Samples) -> None:
    clocks = Clocks()
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
            clocks.token()
            count += 1
    assert stream.result is not None and stream.result.usage.completion_tokens == tokens
    record(samples, clocks, count)


def record(samples: Samples, clocks: Clocks, count: int) -> None:
    assert clocks.first is not None
    samples.ttft.append(clocks.first[0])
    samples.cpu_ttft.append(clocks.first[1])
    samples.total.append(time.perf_counter() - clocks.wall)
    samples.cpu.append(time.process_time() - clocks.cpu)
    samples.tokens.append(count)


def ms(value: float) -> str:
    return f"{value * 1000:.3f} ms"


def us(value: float) -> str:
    return f"{value * 1e6:.2f} us"


async def run(rounds: int, tokens: int, base_url: str) -> tuple[Samples, Samples]:
    http_client = httpx2.AsyncClient()
    sdk_client = openai.AsyncOpenAI(
        api_key="bench", base_url=base_url, http_client=http_client, max_retries=0
    )
    runtime = ModelRuntime()
    sdk, ours = Samples(), Samples()
    scratch = Samples()
    for _ in range(5):  # warm up: connections, imports, lazy loads, CPU caches
        await read_with_sdk(sdk_client, tokens, scratch)
        await read_with_runtime(runtime, base_url, tokens, scratch)
    for index in range(rounds):
        # alternate the order so drift on the machine hits both modes alike
        pair: list[Callable[[], Awaitable[None]]] = [
            lambda: read_with_sdk(sdk_client, tokens, sdk),
            lambda: read_with_runtime(runtime, base_url, tokens, ours),
        ]
        for read in pair if index % 2 == 0 else reversed(pair):
            await read()
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
    n = args.tokens
    print(f"command: .venv/bin/python bench/streaming.py --rounds {args.rounds} --tokens {n}")
    print(
        f"python {sys.version.split()[0]}, openai {openai.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    print(f"fake server: python -m tests.support.fake_llm in its own process, {n} SSE events per call")
    print(f"medians of {args.rounds} interleaved rounds (after 5 warm-up rounds each)\n")
    header = ("TTFT wall", "TTFT CPU", "total wall", "total CPU", "CPU/token")
    print(f"{'':9}" + "".join(f"{h:>13}" for h in header))
    for name, s in (("sdk", sdk), ("runtime", ours)):
        cells = (ms(med(s.ttft)), ms(med(s.cpu_ttft)), ms(med(s.total)), ms(med(s.cpu)), us(med(s.cpu) / n))
        print(f"{name:9}" + "".join(f"{c:>13}" for c in cells))
    print()
    print(
        f"added to first token, wall:  {ms(med(ours.ttft) - med(sdk.ttft))}   (goal < 1 ms; wall time moves with load)"
    )
    print(
        f"added to first token, CPU:   {ms(med(ours.cpu_ttft) - med(sdk.cpu_ttft))}   (our own work before the first token)"
    )
    print(f"added per token, wall:       {us((med(ours.total) - med(sdk.total)) / n)}")
    print(f"added per token, CPU:        {us((med(ours.cpu) - med(sdk.cpu)) / n)}")
    print(
        f"ratio runtime/sdk: TTFT wall {med(ours.ttft) / med(sdk.ttft):.3f}, TTFT CPU "
        f"{med(ours.cpu_ttft) / med(sdk.cpu_ttft):.3f}, total wall {med(ours.total) / med(sdk.total):.3f}, "
        f"total CPU {med(ours.cpu) / med(sdk.cpu):.3f}"
    )


if __name__ == "__main__":
    main()
