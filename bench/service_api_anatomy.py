"""What one Service API request costs the server, counted: SQL statements, ``sync_to_async`` thread hops
(with their wall time) and OS threads started, for the request kinds bench/service_api.py measures.

    .venv/bin/python bench/service_api_anatomy.py [--requests 20]

The server runs in this process (uvicorn on a thread, as the tests' ``live_asgi``) so that its database
cursor and asgiref are instrumented; the fake model runs on another thread. Data lives in a temporary
SQLite database (or DATABASE_URL). Wall times include this process's own client, so read them as
relative; the counts are exact.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', re.IGNORECASE)


@dataclass
class Tally:
    statements: Counter[str] = field(default_factory=Counter)
    hops: Counter[str] = field(default_factory=Counter)
    hop_wall: Counter[str] = field(default_factory=Counter)
    threads: int = 0


@contextlib.contextmanager
def instrumented() -> Iterator[Tally]:
    """Count SQL statements, sync_to_async calls and thread starts, in every thread of the process."""
    from asgiref import sync as asgiref_sync
    from django.db.backends import utils as db_utils

    tally = Tally()
    execute, hop, start = (
        db_utils.CursorWrapper._execute,
        asgiref_sync.SyncToAsync.__call__,
        threading.Thread.start,
    )

    def counted_execute(self: Any, sql: str, *args: Any) -> Any:
        verb = sql.split(None, 1)[0].upper()
        table = TABLE.search(sql)
        tally.statements[f"{verb} {table.group(1)}" if table else verb] += 1
        return execute(self, sql, *args)

    async def counted_hop(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self.func, "__qualname__", repr(self.func))
        tally.hops[name] += 1
        started = time.perf_counter()
        try:
            return await hop(self, *args, **kwargs)
        finally:
            tally.hop_wall[name] += time.perf_counter() - started

    def counted_start(self: threading.Thread) -> None:
        tally.threads += 1
        start(self)

    db_utils.CursorWrapper._execute = counted_execute
    asgiref_sync.SyncToAsync.__call__ = counted_hop
    threading.Thread.start = counted_start  # type: ignore[method-assign]
    try:
        yield tally
    finally:
        db_utils.CursorWrapper._execute = execute
        asgiref_sync.SyncToAsync.__call__ = hop
        threading.Thread.start = start  # type: ignore[method-assign]


def report(label: str, tally: Tally, n: int) -> None:
    statements = sum(tally.statements.values()) / n
    hops = sum(tally.hops.values()) / n
    print(
        f"{label}: {statements:.1f} SQL statements, {hops:.1f} thread hops, {tally.threads / n:.1f} threads started"
    )
    for name, count in tally.statements.most_common():
        print(f"    {count / n:5.1f}  {name}")
    print("  hops (per request, with wall time):")
    for name, count in tally.hops.most_common():
        print(f"    {count / n:5.1f}  {name:<58} {tally.hop_wall[name] / n * 1000:7.2f} ms")


def measure(label: str, send: Callable[[], None], n: int) -> None:
    for _ in range(3):  # warm: caches, connections, lazy imports
        send()
    time.sleep(0.3)
    with instrumented() as tally:
        for _ in range(n):
            send()
        time.sleep(0.3)  # records written after the answer
    report(label, tally, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-anatomy-"))
    os.environ.setdefault("VAR_DIR", str(tmp))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "dify_project.settings"
    import django

    django.setup()
    from bench.service_api_harness import describe_mode, drop_data, setup_data
    from tests.conftest import LiveAsgiServer
    from tests.support.fake_llm import FakeLLMServer

    try:
        with FakeLLMServer() as model:
            keys = setup_data(model.url, model.url)
            print(describe_mode())
            with LiveAsgiServer() as server:
                run(server.url, keys, args.requests)
            if os.environ.get("DATABASE_URL"):
                drop_data(keys)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(url: str, keys: Any, n: int) -> None:
    client = httpx.Client(base_url=f"{url}/v1", timeout=30)

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def ok(response: httpx.Response) -> None:
        response.raise_for_status()

    measure("GET /v1/ (no key)", lambda: ok(client.get("/")), n)
    measure("GET /v1/parameters", lambda: ok(client.get("/parameters", headers=auth(keys.completion))), n)
    completion = {"inputs": {"query": "hi"}, "response_mode": "blocking", "user": "anatomy"}
    measure(
        "POST /v1/completion-messages (blocking)",
        lambda: ok(client.post("/completion-messages", json=completion, headers=auth(keys.completion))),
        n,
    )
    chat = {
        "inputs": {},
        "query": "hi",
        "user": "anatomy",
        "response_mode": "streaming",
        "auto_generate_name": False,
    }

    def stream() -> None:
        with client.stream("POST", "/chat-messages", json=chat, headers=auth(keys.chat)) as response:
            response.raise_for_status()
            response.read()

    measure("POST /v1/chat-messages (streaming)", stream, n)
    flow = {"inputs": {"query": "hi"}, "response_mode": "blocking", "user": "anatomy"}
    measure(
        "POST /v1/workflows/run (blocking, Start -> End)",
        lambda: ok(client.post("/workflows/run", json=flow, headers=auth(keys.workflow))),
        n,
    )


if __name__ == "__main__":
    main()
