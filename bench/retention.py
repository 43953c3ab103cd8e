"""Retention at scale: delete a million rows of run history in batches while the Service API keeps answering.

Processes: this script (data set-up, the retention pass, the clients) and the platform
(`uvicorn dify_project.asgi:application`, one worker). Data: one workspace with a workflow app; ``--rows``
rows of history older than the retention cut-off, as workflow runs with nine node executions each (the
tables Dify's users see grow to tens of GB), written with ``bulk_create``. Then closed-loop clients call
the API for a baseline phase and go on while ``operations.services.history_retention_apply`` (what the
beat task runs) deletes the old history:

  parameters  GET  /v1/parameters (authentication, the app cache)
  run         POST /v1/workflows/run, blocking (writes a run and its node executions into the tables
              being purged)
  logs        GET  /v1/workflows/logs (reads the workflow tables)

    .venv/bin/python bench/retention.py                       # 1,000,000 rows on a temporary SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_retention .venv/bin/python bench/retention.py

Printed: set-up time, the pass's time and rows per second, each DELETE statement's p50/p99/max time (how
long a batch holds its locks), and per kind the requests, errors and p50/p99/max latency in the baseline
and during the pass. Goal (issue 12): no errors, no request waiting on a whole pass (max latency in the
order of one batch, not of the pass), and the recent runs the clients made kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.service_api_harness import (  # noqa: E402
    Children,
    describe_mode,
    drop_data,
    environment,
    free_port,
    pct,
    setup_data,
    wait_http,
)

NODES_PER_RUN = 9
INSERT_CHUNK = 5000


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def old_history(tenant_id: str, rows: int, days_old: int) -> tuple[int, int, float]:
    """Insert ``rows`` rows of finished history created ``days_old`` days ago into the workspace's
    workflow app; (runs, node executions, seconds)."""
    from django.utils import timezone

    from apps.models import App
    from workflows.models import WorkflowNodeExecution, WorkflowRun

    app = App.objects.select_related("workflow").get(tenant_id=tenant_id, mode="workflow")
    workflow = app.workflow
    when = timezone.now() - timedelta(days=days_old)
    runs_total = rows // (NODES_PER_RUN + 1)
    started = time.perf_counter()
    # created_at is auto_now_add: switched off while the bench backdates its rows.
    fields = [model._meta.get_field("created_at") for model in (WorkflowRun, WorkflowNodeExecution)]
    for field in fields:
        field.auto_now_add = False
    try:
        done = 0
        while done < runs_total:
            count = min(INSERT_CHUNK // (NODES_PER_RUN + 1), runs_total - done)
            runs = [
                WorkflowRun(
                    tenant_id=app.tenant_id,
                    app_id=app.id,
                    workflow=workflow,
                    type="workflow",
                    triggered_from="app-run",
                    version=str(workflow.version),
                    inputs={"query": "old"},
                    status="succeeded",
                    outputs={"query": "old"},
                    elapsed_time=0.01,
                    total_steps=NODES_PER_RUN,
                    created_by_role="end_user",
                    created_by=uuid.uuid4(),
                    created_at=when,
                    finished_at=when,
                )
                for _ in range(count)
            ]
            WorkflowRun.objects.bulk_create(runs)
            steps = [
                WorkflowNodeExecution(
                    tenant_id=app.tenant_id,
                    app_id=app.id,
                    workflow_id=workflow.id,
                    triggered_from="workflow-run",
                    workflow_run=run,
                    index=i + 1,
                    node_id=f"node-{i}",
                    node_type="code",
                    title=f"Node {i}",
                    inputs={"x": i},
                    outputs={"y": i},
                    status="succeeded",
                    created_by_role="end_user",
                    created_by=run.created_by,
                    created_at=when,
                    finished_at=when,
                )
                for run in runs
                for i in range(NODES_PER_RUN)
            ]
            WorkflowNodeExecution.objects.bulk_create(steps)
            done += count
    finally:
        for field in fields:
            field.auto_now_add = True
    return runs_total, runs_total * NODES_PER_RUN, time.perf_counter() - started


class DeleteTimes:
    """Times every DELETE statement of this process: each is one batch's hold on its rows."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not sql.lstrip().upper().startswith("DELETE"):
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds.append(time.perf_counter() - started)


class Load:
    """Closed-loop clients in a thread of their own; latencies per (phase, kind)."""

    def __init__(self, base: str, key: str, clients: int) -> None:
        self.base = base
        self.key = key
        self.clients = clients
        self.phase = "baseline"
        self.latency: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.errors: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _call(self, client: httpx.AsyncClient, kind: str) -> None:
        started = time.perf_counter()
        phase = self.phase
        try:
            if kind == "parameters":
                response = await client.get("/v1/parameters")
            elif kind == "run":
                response = await client.post(
                    "/v1/workflows/run", json={"inputs": {"query": "new"}, "user": "bench"}
                )
            else:
                response = await client.get("/v1/workflows/logs", params={"page": 1, "limit": 20})
            if response.status_code != 200:
                self.errors[(phase, kind)].append(f"{response.status_code} {response.text[:120]}")
                return
        except httpx.HTTPError as exc:
            self.errors[(phase, kind)].append(repr(exc))
            return
        self.latency[(phase, kind)].append(time.perf_counter() - started)

    async def _worker(self, kind: str) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=60) as client:
            while not self.stopping.is_set():
                await self._call(client, kind)

    async def _main(self) -> None:
        kinds = ["parameters", "run", "logs"]
        await asyncio.gather(*(self._worker(kinds[i % len(kinds)]) for i in range(self.clients)))


def report(load: Load) -> None:
    print(
        f"\n{'phase':<9} {'kind':<11} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for phase in ("baseline", "purge"):
        for kind in ("parameters", "run", "logs"):
            values = load.latency[(phase, kind)]
            errors = load.errors[(phase, kind)]
            top = max(values) if values else float("nan")
            print(
                f"{phase:<9} {kind:<11} {len(values):>8} {len(errors):>6} {ms(pct(values, 0.5)):>8}"
                f" {ms(pct(values, 0.99)):>8} {ms(top):>8}"
            )
    for (phase, kind), errors in load.errors.items():
        for error in errors[:3]:
            print(f"  error ({phase} {kind}): {error}")


def run(args: argparse.Namespace, tmp: Path, children: Children) -> None:
    env = environment(tmp / "var")
    os.environ.update({k: env[k] for k in ("VAR_DIR", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE")})
    os.environ["RETENTION_BATCH_SIZE"] = str(args.batch_size)
    import django

    django.setup()
    from django.db import connection

    from operations.services import history_retention_apply
    from workflows.models import WorkflowNodeExecution, WorkflowRun

    print(f"$ .venv/bin/python bench/retention.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"mode: {describe_mode()}")
    keys = setup_data("http://127.0.0.1:9", "http://127.0.0.1:9")  # no model is called
    try:
        runs, steps, insert_s = old_history(keys.tenants[0], args.rows, days_old=args.days + 5)
        print(
            f"history: {runs:,} runs + {steps:,} node executions = {runs + steps:,} rows, {args.days + 5} days old,"
            f" written in {insert_s:.1f} s; retention {args.days} days, batches of {args.batch_size}"
        )
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "dify_project.asgi:application", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"]
        server = children.start("server", argv, env)
        wait_http(f"http://127.0.0.1:{port}/v1/", server)
        load = Load(f"http://127.0.0.1:{port}", keys.workflow, args.clients)
        load.thread.start()
        time.sleep(args.baseline)
        load.phase = "purge"
        deletes = DeleteTimes()
        started = time.perf_counter()
        with connection.execute_wrapper(deletes):
            reports = history_retention_apply(days=args.days)
        purge_s = time.perf_counter() - started
        time.sleep(1.0)
        load.stopping.set()
        load.thread.join(timeout=120)
        deleted = sum(sum(r["counts"].values()) for r in reports)
        left_old = WorkflowRun.objects.filter(inputs__query="old").count()
        kept_new = WorkflowRun.objects.filter(inputs__query="new").count()
        print(
            f"pass: {deleted:,} rows deleted in {purge_s:.1f} s ({deleted / purge_s:,.0f} rows/s),"
            f" {len(deletes.seconds)} DELETE statements: p50 {ms(pct(deletes.seconds, 0.5))} ms,"
            f" p99 {ms(pct(deletes.seconds, 0.99))} ms, max {ms(max(deletes.seconds, default=0))} ms"
        )
        print(f"  per table: {reports[0]['counts'] if reports else {}}")
        print(
            f"after: {left_old} old runs left, {kept_new} runs made by the clients kept,"
            f" {WorkflowNodeExecution.objects.count():,} node executions in all"
        )
        report(load)
    finally:
        if os.environ.get("DATABASE_URL"):
            from workflows.models import WorkflowRun

            with contextlib.suppress(Exception):
                WorkflowRun.objects.filter(tenant_id__in=keys.tenants).delete()
            drop_data(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of old history to write and delete")
    parser.add_argument("--days", type=int, default=30, help="retention in days")
    parser.add_argument("--batch-size", type=int, default=1000, help="RETENTION_BATCH_SIZE")
    parser.add_argument("--clients", type=int, default=6, help="closed-loop API clients (kinds in turn)")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of load before the pass")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    children = Children(tmp)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        run(args, tmp, children)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
    except Exception:
        tail = children.log_tail("server")
        if tail:
            print(f"--- server log (last lines) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        children.stop_all()


if __name__ == "__main__":
    main()
