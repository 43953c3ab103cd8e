"""Service API benchmark: the platform's ASGI server (one uvicorn worker) in front of a loopback model.

Processes: this script (the clients), the platform (`uvicorn dify_project.asgi:application`, one worker,
migrated first), the fake model (`python -m tests.support.fake_llm`) and a slow fake model
(`bench/service_api_fake_llm.py`). Data is set up through the Django ORM with the server's settings:
a temporary SQLite database under a temporary VAR_DIR, or DATABASE_URL / REDIS_URL when they are set.

Measured:
  (a) requests/s of blocking completion calls at several concurrency levels (async httpx), with errors,
      beside the fake model alone at the same concurrency;
  (b) time to first token of a streaming chat through the stack vs the same request made straight to
      the fake model (interleaved, sequential): the added milliseconds, median and p95;
  (c) concurrent open streams: a slow model streams a long answer to N chats opened over a ramp; how
      many complete without error, the peak held open at once, the server's RSS and open files;
  (d) requests/s of a small workflow app (Start -> End, blocking).

    .venv/bin/python bench/service_api.py                     # a few minutes
    .venv/bin/python bench/service_api.py --duration 20 --concurrency 1,16,64,256 --streams 1000,2000,3000
    .venv/bin/python bench/service_api.py --only b --profile b   # where the server spends (b)'s time

Goals (issue 5): added time to first byte under 5 ms; thousands of concurrent streams on one ASGI
process; throughput well beyond the ~10 requests/s reported for Dify on 8 cores.

Long on purpose: the four scenarios and their reports, read together; the harness is service_api_harness.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.service_api_harness import (  # noqa: E402
    PG_GUARD,
    Children,
    DbConnections,
    Keys,
    Peaks,
    cpu_seconds,
    describe_mode,
    drop_data,
    environment,
    free_port,
    ms,
    pct,
    raise_open_files_limit,
    rss_mb,
    sampling,
    setup_data,
    wait_http,
)
from bench.service_api_profile import PySpy, print_cprofile, py_spy, summarize  # noqa: E402

GOALS = {
    "ttfb": "added time to first byte < 5 ms",
    "streams": "thousands of concurrent streams on one ASGI process",
    "rps": "throughput well beyond ~10 requests/s (reported for Dify on 8 cores)",
}
# --- (a) and (d): requests per second --------------------------------------------------------------------


@dataclass
class Load:
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0
    peaks: Peaks | None = None

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def closed_loop(
    call: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    check: Callable[[httpx.Response], bool],
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    server_pid: int | None = None,
) -> Load:
    """`concurrency` workers each send the next request when the last one answers."""
    load = Load()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        measure_from = started + warmup
        stop_at = measure_from + duration
        cpu_start: list[float] = []

        async def worker(index: int) -> None:
            while (now := time.perf_counter()) < stop_at and not (load.peaks and load.peaks.stop.is_set()):
                counted = now >= measure_from
                if counted and not cpu_start and server_pid:
                    cpu_start.append(cpu_seconds(server_pid))
                try:
                    response = await call(client, index)
                    good = check(response)
                    label = None if good else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    label = type(exc).__name__
                took = time.perf_counter() - now
                if not counted:
                    continue
                if label is None:
                    load.ok += 1
                    load.latencies.append(took)
                else:
                    load.errors[label] += 1

        if server_pid:
            async with sampling(server_pid) as load.peaks:
                await asyncio.gather(*(worker(i) for i in range(concurrency)))
        else:
            await asyncio.gather(*(worker(i) for i in range(concurrency)))
        load.seconds = time.perf_counter() - measure_from
        if server_pid and cpu_start:
            load.server_cpu = cpu_seconds(server_pid) - cpu_start[0]
    return load


def report_load(label: str, concurrency: int, load: Load) -> None:
    errors = sum(load.errors.values())
    detail = f" ({dict(load.errors)})" if errors else ""
    cpu = f", server CPU {load.server_cpu / load.seconds:.2f} cores" if load.server_cpu else ""
    print(
        f"  {label:<22} c={concurrency:<4} {load.rps:8.1f} req/s   p50 {ms(pct(load.latencies, 0.5)):>10}"
        f"   p95 {ms(pct(load.latencies, 0.95)):>10}   ok {load.ok:<6} errors {errors}{detail}{cpu}"
    )
    if load.peaks is not None:
        print(f"  {'':22} {load.peaks.line()}")


def completion_call(base: str, key: str) -> Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]:
    headers = {"Authorization": f"Bearer {key}"}

    def call(client: httpx.AsyncClient, index: int) -> Awaitable[httpx.Response]:
        body = {
            "inputs": {"query": f"hello {index}"},
            "response_mode": "blocking",
            "user": f"bench-{index % 8}",
        }
        return client.post(f"{base}/v1/completion-messages", json=body, headers=headers)

    return call


def model_call(model_url: str) -> Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]:
    def call(client: httpx.AsyncClient, index: int) -> Awaitable[httpx.Response]:
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"Answer briefly: hello {index}"}],
            "max_tokens": 64,
        }
        return client.post(f"{model_url}/v1/chat/completions", json=body)

    return call


def workflow_call(base: str, key: str) -> Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]:
    headers = {"Authorization": f"Bearer {key}"}

    def call(client: httpx.AsyncClient, index: int) -> Awaitable[httpx.Response]:
        body = {
            "inputs": {"query": f"hello {index}"},
            "response_mode": "blocking",
            "user": f"bench-{index % 8}",
        }
        return client.post(f"{base}/v1/workflows/run", json=body, headers=headers)

    return call


def answered(response: httpx.Response) -> bool:
    return response.status_code == 200 and bool(response.json().get("answer"))


def model_answered(response: httpx.Response) -> bool:
    return response.status_code == 200 and bool(response.json()["choices"][0]["message"]["content"])


def workflow_succeeded(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json()["data"]["status"] == "succeeded"


# --- (b): time to first token ----------------------------------------------------------------------------


async def first_token_stack(
    client: httpx.AsyncClient, base: str, key: str, query: str
) -> tuple[float, float]:
    """(headers, first `message` event) seconds after sending a streaming chat through the platform."""
    body = {
        "inputs": {},
        "query": query,
        "response_mode": "streaming",
        "user": "bench-ttfb",
        "auto_generate_name": False,
    }
    started = time.perf_counter()
    async with client.stream(
        "POST", f"{base}/v1/chat-messages", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        headers_at = time.perf_counter() - started
        first = None
        async for line in response.aiter_lines():
            if first is None and line.startswith("data: ") and json.loads(line[6:])["event"] == "message":
                first = time.perf_counter() - started
        if response.status_code != 200 or first is None:
            raise RuntimeError(f"chat stream failed: HTTP {response.status_code}")
    return headers_at, first


async def first_token_model(client: httpx.AsyncClient, model_url: str, query: str) -> tuple[float, float]:
    """The same chat request straight to the fake model (the payload the platform sends it)."""
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": query}],
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    async with client.stream("POST", f"{model_url}/v1/chat/completions", json=body) as response:
        headers_at = time.perf_counter() - started
        first = None
        async for line in response.aiter_lines():
            if first is None and line.startswith("data: {") and _delta_text(json.loads(line[6:])):
                first = time.perf_counter() - started
        if response.status_code != 200 or first is None:
            raise RuntimeError(f"model stream failed: HTTP {response.status_code}")
    return headers_at, first


def _delta_text(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or ""


@dataclass
class FirstToken:
    stack: list[float] = field(default_factory=list)
    model: list[float] = field(default_factory=list)
    stack_headers: list[float] = field(default_factory=list)
    added: list[float] = field(default_factory=list)  # per interleaved pair
    # context: the request path alone, no model: the index (no key) and /parameters (key + a read)
    index: list[float] = field(default_factory=list)
    parameters: list[float] = field(default_factory=list)


async def time_to_first_token(base: str, key: str, model_url: str, samples: int) -> FirstToken:
    result = FirstToken()
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(10):  # warm up: connections, caches, lazy imports on both sides
            await first_token_stack(client, base, key, f"warm {index}")
            await first_token_model(client, model_url, f"warm {index}")
        for index in range(samples):
            query = f"What is {index} + {index}?"
            # alternate the order so drift on the machine hits both alike
            if index % 2:
                model_first = await first_token_model(client, model_url, query)
                stack_first = await first_token_stack(client, base, key, query)
            else:
                stack_first = await first_token_stack(client, base, key, query)
                model_first = await first_token_model(client, model_url, query)
            result.stack.append(stack_first[1])
            result.stack_headers.append(stack_first[0])
            result.model.append(model_first[1])
            result.added.append(stack_first[1] - model_first[1])
        headers = {"Authorization": f"Bearer {key}"}
        for _ in range(samples):
            started = time.perf_counter()
            (await client.get(f"{base}/v1/")).raise_for_status()
            result.index.append(time.perf_counter() - started)
            started = time.perf_counter()
            (await client.get(f"{base}/v1/parameters", headers=headers)).raise_for_status()
            result.parameters.append(time.perf_counter() - started)
    return result


# --- (c): concurrent streams (raw asyncio HTTP/1.1: the client must stay cheaper than the server) ---------


@dataclass
class StreamStats:
    target: int
    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    open_now: int = 0
    peak_open: int = 0
    first_event: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    streaming_now: int = 0  # received a first answer chunk, not finished yet
    peak_streaming: int = 0
    peaks: Peaks = field(default_factory=Peaks)
    model_rss_peak: float = 0.0
    model_files_peak: int = 0  # ~ connections the platform holds open to the model


async def chunks_of(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The body pieces of a chunked HTTP/1.1 response."""
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise ConnectionError("connection closed inside the body")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


async def one_stream(host: str, port: int, key: str, index: int, stats: StreamStats, words: int) -> None:
    body = json.dumps(
        {
            "inputs": {},
            "query": f"stream {index}",
            "response_mode": "streaming",
            "user": f"bench-stream-{index % 50}",
            "auto_generate_name": False,
        }
    ).encode()
    request = (
        f"POST /v1/chat-messages HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    started = time.perf_counter()
    writer = None
    opened = streaming = False
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        writer.write(request)
        await writer.drain()
        status = (await reader.readline()).split(b" ", 2)
        headers = (await reader.readuntil(b"\r\n\r\n")).lower()
        if len(status) < 2 or status[1] != b"200":
            stats.errors[f"HTTP {status[1].decode() if len(status) > 1 else '?'}"] += 1
            return
        if b"transfer-encoding: chunked" not in headers:
            stats.errors["not chunked"] += 1
            return
        opened = True
        stats.open_now += 1
        stats.peak_open = max(stats.peak_open, stats.open_now)
        messages, ended, failed = 0, False, None
        buffer = b""
        async for piece in chunks_of(reader):
            buffer += piece
            *frames, buffer = buffer.split(b"\n\n")
            for frame in frames:
                if not frame.startswith(b"data: "):
                    continue  # `event: ping`
                payload = json.loads(frame[6:])
                event = payload["event"]
                if event == "message":
                    if messages == 0:
                        stats.first_event.append(time.perf_counter() - started)
                        streaming = True
                        stats.streaming_now += 1
                        stats.peak_streaming = max(stats.peak_streaming, stats.streaming_now)
                    messages += 1
                elif event == "message_end":
                    ended = True
                elif event == "error":
                    failed = f"{payload.get('code')}: {str(payload.get('message'))[:90]}"
        if failed:
            stats.errors[f"error event: {failed}"] += 1
        elif not ended or messages < words:
            stats.errors[f"incomplete ({messages}/{words} chunks, message_end {ended})"] += 1
        else:
            stats.completed += 1
            stats.durations.append(time.perf_counter() - started)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        stats.errors[type(exc).__name__] += 1
    finally:
        if opened:
            stats.open_now -= 1
        if streaming:
            stats.streaming_now -= 1
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def hold_streams(
    base_host: str,
    port: int,
    key: str,
    target: int,
    ramp: float,
    words: int,
    server_pid: int,
    model_pid: int,
) -> StreamStats:
    stats = StreamStats(target=target)
    async with sampling(server_pid) as stats.peaks, sampling(model_pid, database=False) as model:
        tasks = []
        interval = ramp / max(1, target)
        for index in range(target):
            if stats.peaks.stop.is_set():
                break
            tasks.append(asyncio.create_task(one_stream(base_host, port, key, index, stats, words)))
            await asyncio.sleep(interval)
        await asyncio.gather(*tasks)
    stats.model_rss_peak, stats.model_files_peak = model.rss, model.files
    return stats


# --- the run --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])

    def ints(text: str) -> list[int]:
        return [int(part) for part in text.split(",") if part]

    parser.add_argument("--concurrency", type=ints, default=[1, 16, 64], help="levels for (a) and (d)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring each level")
    parser.add_argument("--ttfb-samples", type=int, default=100, help="interleaved pairs for (b)")
    parser.add_argument("--streams", type=ints, default=[1000], help="stream counts for (c), in turn")
    parser.add_argument("--stream-words", type=int, default=20, help="chunks in each slow answer")
    parser.add_argument("--chunk-delay", type=float, default=2.0, help="seconds between slow chunks")
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds over which streams are opened")
    parser.add_argument(
        "--only", default="a,b,c,d", help="which measurements to run, e.g. 'b' or 'a,d' (default all)"
    )
    parser.add_argument(
        "--profile",
        choices=["none", "a", "b", "c", "d"],
        default="none",
        help="profile the server during one measurement (py-spy if found, else cProfile) and print hot spots",
    )
    parser.add_argument(
        "--what-if-model-pool",
        type=int,
        default=0,
        metavar="N",
        help="experiment: start the server with the model connection limit set to N (bench/service_api_server.py)",
    )
    parser.add_argument(
        "--what-if-switch-interval",
        type=float,
        default=0.0,
        metavar="S",
        help="experiment: start the server with sys.setswitchinterval(S) (default interval 0.005)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    return parser.parse_args()


def print_header(args: argparse.Namespace, mode: str, limits: tuple[int, int]) -> None:
    print(f"command: .venv/bin/python bench/service_api.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"python {sys.version.split()[0]} ({sys.executable}), {os.cpu_count()} CPUs, {platform_line()}")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(mode)
    print(
        "server: uvicorn dify_project.asgi:application, 1 worker; models: tests.support.fake_llm on loopback"
    )
    if args.what_if_model_pool:
        print(
            f"WHAT-IF EXPERIMENT: model connection limit set to {args.what_if_model_pool} in memory"
            " (stock: 256, providers/runtime/http.py DEFAULT_LIMITS)"
        )
    if args.what_if_switch_interval:
        print(
            f"WHAT-IF EXPERIMENT: server GIL switch interval {args.what_if_switch_interval} s (stock: 0.005 s)"
        )
    print(f"open-files limit (this process and children): soft {limits[0]}, hard {limits[1]}")
    print("goals: " + "; ".join(GOALS.values()))
    warn_postgres_connections(args)


def warn_postgres_connections(args: argparse.Namespace) -> None:
    """On PostgreSQL every in-flight request holds a connection of its own (a thread per request under
    Django's ASGI handler), and a stream holds it to the end: say so before the server runs out."""
    db = DbConnections()
    if db.conn is None:
        return
    limit = int(db.conn.execute("SHOW max_connections").fetchone()[0])
    used = db.conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0]
    db.close()
    print(
        f"PostgreSQL max_connections {limit}, {used} in use now (shared with every other client). The server"
        " opens a connection per request thread and they close late: the bench stops a measurement when"
        f" the server's connections reach {PG_GUARD:.0%} of max_connections."
    )


def platform_line() -> str:
    import platform

    return f"{platform.system()} {platform.release()}"


@dataclass
class Verdicts:
    lines: list[str] = field(default_factory=list)

    def add(self, goal: str, met: bool | None, figure: str) -> None:
        mark = "n/a" if met is None else ("MET" if met else "NOT MET")
        self.lines.append(f"  {mark:<8} {GOALS[goal]}: {figure}")


def run(args: argparse.Namespace, tmp: Path, children: Children) -> None:
    env = environment(tmp / "var")
    os.environ.update({k: env[k] for k in ("VAR_DIR", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE")})
    limits = raise_open_files_limit(max(args.streams) * 4 + 1024)

    import django

    django.setup()
    fast_port, slow_port, server_port = free_port(), free_port(), free_port()
    fast_url, slow_url = f"http://127.0.0.1:{fast_port}", f"http://127.0.0.1:{slow_port}"
    children.start(
        "fake-model",
        [sys.executable, "-m", "tests.support.fake_llm", "--port", str(fast_port), "--quiet"],
        env,
    )
    children.start(
        "slow-model",
        [
            sys.executable,
            str(ROOT / "bench" / "service_api_fake_llm.py"),
            "--port",
            str(slow_port),
            "--words",
            str(args.stream_words),
            "--chunk-delay",
            str(args.chunk_delay),
        ],
        env,
    )
    print_header(args, describe_mode(), limits)
    keys = setup_data(fast_url, slow_url)
    bench = Bench(args, env, children, keys, fast_url, slow_url, server_port, tmp / "server.prof")
    try:
        measure(bench)
    finally:
        if os.environ.get("DATABASE_URL"):
            drop_data(keys)


def start_server(
    children: Children, env: dict[str, str], port: int, profile_to: Path | None, args: argparse.Namespace
) -> subprocess.Popen[bytes]:
    # what-if: the same uvicorn command behind a launcher that changes a setting in memory
    what_if = []
    if args.what_if_model_pool:
        what_if += ["--model-pool", str(args.what_if_model_pool)]
    if args.what_if_switch_interval:
        what_if += ["--switch-interval", str(args.what_if_switch_interval)]
    launcher = (
        [str(ROOT / "bench" / "service_api_server.py"), *what_if, "--"] if what_if else ["-m", "uvicorn"]
    )
    uvicorn = [
        *launcher,
        "dify_project.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
        "--backlog",
        "4096",
    ]
    # cProfile sees the event-loop thread only (not asgiref's thread for sync database work)
    profiler = ["-m", "cProfile", "-o", str(profile_to)] if profile_to else []
    proc = children.start("server", [sys.executable, *profiler, *uvicorn], env)
    wait_http(f"http://127.0.0.1:{port}/v1/", proc)
    return proc


@dataclass
class Bench:
    args: argparse.Namespace
    env: dict[str, str]
    children: Children
    keys: Keys
    fast_url: str
    slow_url: str
    port: int
    profile_to: Path
    server: subprocess.Popen[bytes] | None = None
    verdicts: Verdicts = field(default_factory=Verdicts)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restart_server(self, *, profile: bool) -> None:
        if self.server is not None:
            self.children.stop("server")  # SIGINT: uvicorn exits cleanly and cProfile writes its file
        self.server = start_server(
            self.children,
            self.env,
            self.port,
            self.profile_to if profile else None,
            self.args,
        )

    def rps(self, label: str, call: Any, check: Callable[[httpx.Response], bool]) -> float:
        best = 0.0
        for concurrency in self.args.concurrency:
            load = asyncio.run(
                closed_loop(
                    call,
                    check,
                    concurrency=concurrency,
                    duration=self.args.duration,
                    warmup=self.args.warmup,
                    server_pid=self.server.pid,
                )
            )
            report_load(label, concurrency, load)
            best = max(best, load.rps)
            if label == "platform":  # the model alone, for scale
                direct = asyncio.run(
                    closed_loop(
                        model_call(self.fast_url),
                        model_answered,
                        concurrency=concurrency,
                        duration=min(self.args.duration, 3.0),
                        warmup=0.5,
                    )
                )
                report_load("fake model alone", concurrency, direct)
        return best

    def throughput(self) -> None:
        print("(a) blocking completion calls (closed loop, async httpx, keep-alive)")
        best = self.rps("platform", completion_call(self.base, self.keys.completion), answered)
        self.verdicts.add(
            "rps", best >= 100, f"best {best:.0f} req/s blocking completion, one process (met at >= 100, 10x)"
        )
        print()

    def workflow_throughput(self) -> None:
        print("(d) small workflow app (Start -> End), blocking runs")
        best = self.rps("workflow", workflow_call(self.base, self.keys.workflow), workflow_succeeded)
        print(f"  best {best:.0f} req/s\n")

    def first_token(self) -> None:
        samples = self.args.ttfb_samples
        print(f"(b) streaming chat, time to first token: {samples} interleaved pairs, one at a time")
        first = asyncio.run(time_to_first_token(self.base, self.keys.chat, self.fast_url, samples))
        med = statistics.median
        print(
            f"  through the platform   median {ms(med(first.stack))}   p95 {ms(pct(first.stack, 0.95))}"
            f"   (response headers: median {ms(med(first.stack_headers))})"
        )
        print(f"  fake model directly    median {ms(med(first.model))}   p95 {ms(pct(first.model, 0.95))}")
        added_median, added_p95 = med(first.added), pct(first.added, 0.95)
        print(f"  added by the platform  median {ms(added_median)}   p95 {ms(added_p95)}   (per pair)")
        print(
            f"  for scale, no model:   GET /v1/ median {ms(med(first.index))}, "
            f"GET /v1/parameters median {ms(med(first.parameters))}\n"
        )
        self.verdicts.add("ttfb", added_median < 0.005, f"median {ms(added_median)}, p95 {ms(added_p95)}")

    def streams(self) -> None:
        args = self.args
        per_stream = args.stream_words * args.chunk_delay
        print(
            f"(c) concurrent streams: slow model, {args.stream_words} chunks {args.chunk_delay:g} s apart"
            f" (~{per_stream:.0f} s each), opened over {args.ramp:g} s; raw asyncio HTTP/1.1 client"
        )
        slow = self.children.procs["slow-model"]
        held, summary = 0, []
        for target in args.streams:
            stats = asyncio.run(
                hold_streams(
                    "127.0.0.1",
                    self.port,
                    self.keys.slow_chat,
                    target,
                    args.ramp,
                    args.stream_words,
                    self.server.pid,
                    slow.pid,
                )
            )
            report_streams(stats)
            errors = sum(stats.errors.values())
            summary.append(
                f"{target} opened: {stats.peak_streaming} received answer chunks at once, "
                f"{stats.completed} completed, {errors} errors"
            )
            if not errors:
                held = max(held, stats.peak_streaming)
        # "thousands": at least 2000 streams receiving chunks at the same time, none failing
        self.verdicts.add("streams", held >= 2000, "; ".join(summary) + " (met at >= 2000 with no error)")
        print()


def report_streams(stats: StreamStats) -> None:
    errors = sum(stats.errors.values())
    print(
        f"  target {stats.target:<5} completed {stats.completed:<5} errors {errors:<5} peak open {stats.peak_open:<5}"
        f" peak receiving answer chunks {stats.peak_streaming:<5}"
    )
    print(f"  {'':12}{stats.peaks.line()}")
    print(
        f"  {'':12}slow model RSS peak {stats.model_rss_peak:.0f} MB,"
        f" open files peak {stats.model_files_peak} (~ connections from the platform)"
    )
    if stats.first_event:
        print(
            f"  {'':12}first event p50 {ms(pct(stats.first_event, 0.5))}, p95 {ms(pct(stats.first_event, 0.95))};"
            f" stream duration p50 {pct(stats.durations, 0.5):.1f} s"
        )
    for label, count in stats.errors.most_common(5):
        print(f"  {'':12}{count} x {label}")


def measure(bench: Bench) -> None:
    only = set(bench.args.only.split(","))
    bench.restart_server(profile=False)
    wait_http(f"{bench.fast_url}/v1/models", bench.children.procs["fake-model"])
    wait_http(f"{bench.slow_url}/v1/models", bench.children.procs["slow-model"])
    print(f"server pid {bench.server.pid}, RSS at start {rss_mb(bench.server.pid):.0f} MB\n")
    phases = {
        "a": bench.throughput,
        "d": bench.workflow_throughput,
        "b": bench.first_token,
        "c": bench.streams,
    }
    for letter, phase in phases.items():
        if letter in only:
            with profiled(bench, letter):
                phase()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("verdicts:")
    print("\n".join(bench.verdicts.lines))


@contextlib.contextmanager
def profiled(bench: Bench, letter: str) -> Iterator[None]:
    """Profile the server during one phase: py-spy attached to it, or a restart under cProfile."""
    if bench.args.profile != letter:
        yield
        return
    binary = py_spy()
    if binary is None:
        bench.restart_server(profile=True)
        yield
        bench.restart_server(profile=False)  # SIGINT first: cProfile writes its file
        print(f"server profile during ({letter}):")
        print_cprofile(bench.profile_to)
        return
    sampler = PySpy(binary, bench.server.pid, bench.profile_to.with_suffix(".txt"))
    try:
        yield
    finally:
        message = sampler.stop()
    print(f"server profile during ({letter}), py-spy {binary}:")
    if not sampler.out.exists():
        print(f"  py-spy wrote nothing: {message}")
        return
    print("\n".join(summarize(sampler.out)))
    print()


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-api-"))
    children = Children(tmp)

    def interrupted(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    # Ctrl-C even when started from a shell that made this process ignore SIGINT (background jobs)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run(args, tmp, children)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
    except Exception:
        for name in ("server", "fake-model", "slow-model"):
            tail = children.log_tail(name)
            if tail:
                print(f"--- {name} log (last lines) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        children.stop_all()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
