"""Soak: a mixed Service API load on loopback for a bounded time, watching errors, latency and memory.

Processes: this script (the clients), the platform (`uvicorn dify_project.asgi:application`, one worker)
and the fake model (`python -m tests.support.fake_llm`: chat, completion and embeddings). Data is set up
with bench/service_api_harness.py (a temporary SQLite database under a temporary VAR_DIR, or
DATABASE_URL / REDIS_URL when set) plus a knowledge base of a few indexed documents.

Each kind of request has its own closed-loop workers, all running at once:
  chat        streaming chat messages (SSE read to `message_end`)
  completion  blocking completion messages
  workflow    blocking workflow runs (Start -> End)
  upload      file uploads (a small text file, multipart)
  retrieval   knowledge retrieval (`/v1/datasets/<id>/retrieve`, semantic search with embeddings)

    .venv/bin/python bench/soak.py                       # ~60 s of load after a 10 s warm-up
    .venv/bin/python bench/soak.py --duration 300 --workers chat=8,completion=4

A finished run's events stay in the server's memory for RUN_EVENTS_TTL (600 s by default, for replay);
the soak gives the server a short one (``--events-ttl``, 5 s) so that the warm-up reaches the steady state.

Printed: requests, errors and p50/p95/p99 latency per kind (warm-up excluded), and each process's RSS at
the start, after the warm-up and at the end. Goal (issue 12): 0 errors, memory flat within 10% after
the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.service_api_harness import (  # noqa: E402
    Children,
    Keys,
    describe_mode,
    drop_data,
    environment,
    free_port,
    pct,
    rss_mb,
    setup_data,
    wait_http,
)

KINDS = ("chat", "completion", "workflow", "upload", "retrieval")
DEFAULT_WORKERS = "chat=4,completion=4,workflow=4,upload=2,retrieval=2"
DOCUMENTS = [
    "Tea is brewed from the leaves of Camellia sinensis. Green tea is steamed or pan-fired; black tea is "
    "fully oxidised before drying.",
    "Coffee beans are the roasted seeds of the Coffea plant. Espresso forces hot water through finely "
    "ground coffee under pressure.",
    "Bread rises because yeast ferments sugars and releases carbon dioxide, which gluten traps in the dough.",
    "A sourdough starter is a culture of wild yeast and lactic acid bacteria kept alive with flour and water.",
]
# The fake model keeps every request it saw, for tests to inspect; a soak keeps the last few only, or its
# memory would measure the bench instead of the platform.
MODEL_SERVER = """
import collections, sys
from tests.support.fake_llm import FakeLLMServer
server = FakeLLMServer(port=int(sys.argv[1]))
server.requests = collections.deque(maxlen=100)
server.serve_forever()
"""
QUERIES = ["how is green tea made", "what is espresso", "why does bread rise", "what is a sourdough starter"]


@dataclass
class Tally:
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


@dataclass
class Memory:
    """RSS (MB) of each process: at start, after the warm-up, at the end, and the peak in between."""

    pids: dict[str, int]
    start: dict[str, float] = field(default_factory=dict)
    warm: dict[str, float] = field(default_factory=dict)
    end: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)

    def sample(self) -> dict[str, float]:
        now = {name: rss_mb(pid) for name, pid in self.pids.items()}
        for name, value in now.items():
            self.peak[name] = max(self.peak.get(name, 0.0), value)
        return now


# --- the calls -------------------------------------------------------------------------------------------


class Calls:
    def __init__(self, base: str, keys: Keys, dataset_id: str, dataset_key: str) -> None:
        self.base = base
        self.keys = keys
        self.dataset_id = dataset_id
        self.dataset_key = dataset_key

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    async def chat(self, client: httpx.AsyncClient, n: int) -> str | None:
        body = {
            "inputs": {},
            "query": f"hello {n}",
            "response_mode": "streaming",
            "user": f"soak-{n % 16}",
            "auto_generate_name": False,
        }
        async with client.stream(
            "POST", f"{self.base}/v1/chat-messages", json=body, headers=self.auth(self.keys.chat)
        ) as response:
            if response.status_code != 200:
                await response.aread()
                return f"HTTP {response.status_code}"
            ended = answered = False
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if event.get("event") == "error":
                    return f"error event: {event.get('code')}"
                answered = answered or (event.get("event") == "message" and bool(event.get("answer")))
                ended = ended or event.get("event") == "message_end"
            return None if ended and answered else "stream ended without message_end"

    async def completion(self, client: httpx.AsyncClient, n: int) -> str | None:
        body = {"inputs": {"query": f"hello {n}"}, "response_mode": "blocking", "user": f"soak-{n % 16}"}
        response = await client.post(
            f"{self.base}/v1/completion-messages", json=body, headers=self.auth(self.keys.completion)
        )
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return None if response.json().get("answer") else "empty answer"

    async def workflow(self, client: httpx.AsyncClient, n: int) -> str | None:
        body = {"inputs": {"query": f"hello {n}"}, "response_mode": "blocking", "user": f"soak-{n % 16}"}
        response = await client.post(
            f"{self.base}/v1/workflows/run", json=body, headers=self.auth(self.keys.workflow)
        )
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        status = response.json()["data"]["status"]
        return None if status == "succeeded" else f"run {status}"

    async def upload(self, client: httpx.AsyncClient, n: int) -> str | None:
        content = f"soak upload {n}\n".encode() * 64
        response = await client.post(
            f"{self.base}/v1/files/upload",
            files={"file": (f"soak-{n}.txt", content, "text/plain")},
            data={"user": f"soak-{n % 16}"},
            headers=self.auth(self.keys.chat),
        )
        if response.status_code not in (200, 201):
            return f"HTTP {response.status_code}"
        return None if response.json().get("id") else "no file id"

    async def retrieval(self, client: httpx.AsyncClient, n: int) -> str | None:
        body = {"query": QUERIES[n % len(QUERIES)]}
        response = await client.post(
            f"{self.base}/v1/datasets/{self.dataset_id}/retrieve",
            json=body,
            headers=self.auth(self.dataset_key),
        )
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return None if response.json().get("records") else "no records"


async def soak(
    calls: Calls, workers: dict[str, int], *, duration: float, warmup: float, memory: Memory
) -> dict[str, Tally]:
    tallies = {kind: Tally() for kind in workers}
    total = sum(workers.values())
    limits = httpx.Limits(max_connections=total, max_keepalive_connections=total)
    started = time.perf_counter()
    measure_from, stop_at = started + warmup, started + warmup + duration
    counter = iter(range(10**9))

    async def worker(kind: str) -> None:
        call: Callable[[httpx.AsyncClient, int], Awaitable[str | None]] = getattr(calls, kind)
        tally = tallies[kind]
        while (now := time.perf_counter()) < stop_at:
            try:
                problem = await call(client, next(counter))
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"[:80]
            if now < measure_from:
                continue
            if problem is None:
                tally.ok += 1
                tally.latencies.append(time.perf_counter() - now)
            else:
                tally.errors[problem] += 1

    async def sampler() -> None:
        warm_taken = False
        while time.perf_counter() < stop_at:
            values = await asyncio.to_thread(memory.sample)
            if not warm_taken and time.perf_counter() >= measure_from:
                memory.warm, warm_taken = values, True
            await asyncio.sleep(1.0)

    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        memory.start = memory.sample()
        await asyncio.gather(
            sampler(), *(worker(kind) for kind, count in workers.items() for _ in range(count))
        )
    memory.end = memory.sample()
    return tallies


# --- set-up ----------------------------------------------------------------------------------------------


def setup_knowledge(keys: Keys) -> tuple[str, str]:
    """A high-quality knowledge base of a few documents in the fast workspace, and a dataset API key."""
    from django.db import connections

    import knowledge.tasks
    from accounts.models import Tenant
    from apps.services.api_keys import api_key_create
    from knowledge.services.datasets import dataset_create
    from knowledge.services.documents import document_create
    from knowledge.services.indexing import document_index
    from tests.providers_django.given import set_default

    tenant = Tenant.objects.get(id=keys.tenants[0])
    set_default(tenant=tenant, model_type="text-embedding", provider="openai", model="text-embedding-3-small")
    knowledge.tasks.index_document.delay = lambda *a, **k: None  # indexed below, in this process
    dataset = dataset_create(
        tenant=tenant, account_id=None, name=f"soak {uuid.uuid4().hex[:6]}", indexing_technique="high_quality"
    )
    for index, text in enumerate(DOCUMENTS):
        document, _ = document_create(dataset=dataset, account_id=None, name=f"doc{index}.txt", text=text)
        document_index(document_id=str(document.id))
    _, plain = api_key_create(tenant=tenant, type="dataset")
    connections.close_all()
    return str(dataset.id), plain


def start_server(children: Children, env: dict[str, str], port: int, events_ttl: int) -> Any:
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
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
    ]
    proc = children.start("server", argv, {**env, "RUN_EVENTS_TTL": str(events_ttl)})
    wait_http(f"http://127.0.0.1:{port}/v1/", proc)
    return proc


def parse_workers(text: str) -> dict[str, int]:
    workers = dict.fromkeys(KINDS, 0) | {k: int(v) for k, v in parse_pairs(DEFAULT_WORKERS).items()}
    workers.update({k: int(v) for k, v in parse_pairs(text).items()})
    unknown = set(workers) - set(KINDS)
    if unknown:
        raise SystemExit(f"--workers: unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    return {k: v for k, v in workers.items() if v > 0}


def parse_pairs(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split(",") if pair.strip())


def report(tallies: dict[str, Tally], memory: Memory, duration: float) -> bool:
    print(
        f"{'kind':<11} {'requests':>9} {'req/s':>7} {'errors':>7} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
    )
    total_errors = 0
    for kind, tally in tallies.items():
        errors = sum(tally.errors.values())
        total_errors += errors
        lat = tally.latencies
        print(
            f"{kind:<11} {tally.ok + errors:>9} {tally.ok / duration:>7.1f} {errors:>7}"
            f" {pct(lat, 0.5) * 1000:>9.1f} {pct(lat, 0.95) * 1000:>9.1f} {pct(lat, 0.99) * 1000:>9.1f}"
        )
        for problem, count in tally.errors.most_common(5):
            print(f"{'':11}   {count} x {problem}")
    print()
    print(f"{'process':<11} {'RSS start':>10} {'warm':>8} {'end':>8} {'peak':>8} {'end vs warm':>12}")
    flat = True
    for name in memory.pids:
        warm, end = memory.warm.get(name, float("nan")), memory.end.get(name, float("nan"))
        growth = (end - warm) / warm * 100 if warm else float("nan")
        flat = flat and growth <= 10
        print(
            f"{name:<11} {memory.start.get(name, 0):>8.1f}MB {warm:>6.1f}MB {end:>6.1f}MB"
            f" {memory.peak.get(name, 0):>6.1f}MB {growth:>+11.1f}%"
        )
    met = total_errors == 0 and flat
    print(
        f"\ngoal (0 errors, memory flat within 10% after warm-up): {'MET' if met else 'NOT MET'}"
        f" ({total_errors} errors)"
    )
    return met


def run(args: argparse.Namespace, tmp: Path, children: Children) -> None:
    os.environ.setdefault("SSRF_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")  # the loopback model
    env = environment(tmp / "var")
    os.environ.update({k: env[k] for k in ("VAR_DIR", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE")})
    import django

    django.setup()
    model_port, server_port = free_port(), free_port()
    model_url = f"http://127.0.0.1:{model_port}"
    model = children.start("fake-model", [sys.executable, "-c", MODEL_SERVER, str(model_port)], env)
    wait_http(f"{model_url}/v1/models", model)
    workers = parse_workers(args.workers)
    print(f"$ .venv/bin/python bench/soak.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"mode: {describe_mode()}")
    print(
        f"load: {args.duration:g} s after {args.warmup:g} s of warm-up; closed-loop workers "
        + ", ".join(f"{k} {v}" for k, v in workers.items())
    )
    print(
        f"server: uvicorn dify_project.asgi:application, 1 worker, RUN_EVENTS_TTL={args.events_ttl};"
        " model: tests.support.fake_llm on loopback (keeping its last 100 requests)"
    )
    keys = setup_data(model_url, model_url)
    dataset_id, dataset_key = setup_knowledge(keys)
    try:
        server = start_server(children, env, server_port, args.events_ttl)
        memory = Memory(pids={"server": server.pid, "fake-model": model.pid, "clients": os.getpid()})
        calls = Calls(f"http://127.0.0.1:{server_port}", keys, dataset_id, dataset_key)
        tallies = asyncio.run(soak(calls, workers, duration=args.duration, warmup=args.warmup, memory=memory))
        print()
        report(tallies, memory, args.duration)
    finally:
        if os.environ.get("DATABASE_URL"):
            drop_data(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of load before measuring")
    parser.add_argument("--workers", default="", help=f"workers per kind (default {DEFAULT_WORKERS})")
    parser.add_argument(
        "--events-ttl",
        type=int,
        default=5,
        help="the server's RUN_EVENTS_TTL (default 600 s keeps each finished run's events in memory for"
        " 10 minutes, so memory only levels off after that; shorter than the warm-up measures the steady state)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    children = Children(tmp)

    def interrupted(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run(args, tmp, children)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
    except Exception:
        for name in ("server", "fake-model"):
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
