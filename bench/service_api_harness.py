"""The harness of bench/service_api.py: child processes that die with the bench, sampling of a server's
RSS / threads / open files / database connections, the benchmark's data (workspaces, apps, keys) and
small statistics. The scenarios and the report are in service_api.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

MODEL = {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {"max_tokens": 64}}
FORM = [{"text-input": {"label": "Query", "variable": "query", "required": True, "max_length": 200}}]
COMPLETION_CONFIG = {
    "model": MODEL,
    "prompt_type": "simple",
    "pre_prompt": "Answer briefly: {{query}}",
    "user_input_form": FORM,
}
CHAT_CONFIG = {
    "model": MODEL,
    "prompt_type": "simple",
    "pre_prompt": "You are helpful.",
    "user_input_form": [],
}


# --- child processes ------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if this script dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Children:
    """The processes this script started; all are stopped on exit, Ctrl-C included."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the child)
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our Ctrl-C is handled here, children are stopped in order
            preexec_fn=_die_with_parent,
        )
        self.procs[name] = proc
        return proc

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, name: str, sig: int = signal.SIGINT) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# --- process facts (no psutil: /proc) --------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def threads_of(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


def open_file_kinds(pid: int) -> Counter[str]:
    """Open descriptors by kind: sockets, the SQLite files, anything else."""
    kinds: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = str(fd.readlink())
                if target.startswith("socket:"):
                    kinds["sockets"] += 1
                elif ".sqlite3" in target:
                    kinds["sqlite files"] += 1
                else:
                    kinds["other"] += 1
    return kinds


def open_files(pid: int) -> int:
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return -1


class DbConnections:
    """Connections the server holds to PostgreSQL (None for SQLite), counted from pg_stat_activity."""

    def __init__(self) -> None:
        self.conn: Any = None
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://")):
            import psycopg

            self.conn = psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)

    def count(self) -> tuple[int, int, int] | None:
        """(the bench database's connections, all connections, max_connections)."""
        if self.conn is None:
            return None
        sql = (
            "SELECT count(*) FILTER (WHERE datname = current_database() AND pid <> pg_backend_pid()),"
            " count(*), current_setting('max_connections')::int FROM pg_stat_activity"
        )
        return self.conn.execute(sql).fetchone()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@dataclass
class Peaks:
    """The server's peaks while a measurement runs, sampled twice a second."""

    rss: float = 0.0
    threads: int = 0
    files: int = 0
    files_kinds: Counter[str] = field(default_factory=Counter)
    db_connections: int | None = None
    # Set when PostgreSQL nears max_connections: the load stops before the shared server runs out.
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: str = ""

    def line(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in self.files_kinds.items())
        db = f", PostgreSQL connections peak {self.db_connections}" if self.db_connections is not None else ""
        stopped = f"\n  STOPPED EARLY: {self.stopped}" if self.stopped else ""
        return (
            f"server RSS peak {self.rss:.0f} MB, threads peak {self.threads}, open files peak {self.files}"
            f" ({kinds}){db}{stopped}"
        )


PG_GUARD = 0.6  # share of max_connections at which the load stops


@contextlib.asynccontextmanager
async def sampling(pid: int, *, database: bool = True) -> AsyncIterator[Peaks]:
    peaks = Peaks()
    done = asyncio.Event()
    db = await asyncio.to_thread(DbConnections) if database else DbConnections.__new__(DbConnections)
    db.conn = db.conn if database else None

    async def sample() -> None:
        while not done.is_set():
            peaks.rss = max(peaks.rss, rss_mb(pid))
            peaks.threads = max(peaks.threads, threads_of(pid))
            files = open_files(pid)
            if files > peaks.files:
                peaks.files, peaks.files_kinds = files, open_file_kinds(pid)
            counts = await asyncio.to_thread(db.count)
            if counts is not None:
                ours, everyone, limit = counts
                peaks.db_connections = max(peaks.db_connections or 0, ours)
                if everyone >= PG_GUARD * limit and not peaks.stop.is_set():
                    peaks.stopped = f"PostgreSQL connections at {everyone} of max_connections {limit}"
                    peaks.stop.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), 0.2 if counts else 0.5)

    task = asyncio.create_task(sample())
    try:
        yield peaks
    finally:
        done.set()
        await task
        await asyncio.to_thread(db.close)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return float("nan")


def raise_open_files_limit(wanted: int) -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# --- the platform's data ---------------------------------------------------------------------------------


@dataclass
class Keys:
    completion: str
    chat: str
    slow_chat: str
    workflow: str
    tenants: list[str]
    accounts: list[str]


def environment(var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("VAR_DIR", str(var_dir))
    env.setdefault("LOG_LEVEL", "WARNING")
    env["DJANGO_SETTINGS_MODULE"] = "dify_project.settings"
    env["PYTHONPATH"] = str(ROOT)
    return env


def describe_mode() -> str:
    from django.conf import settings

    from dify_project.management.commands.run_platform import describe_mode as platform_mode

    return f"{platform_mode()} | run executor: {settings.APP_RUN_EXECUTOR}"


def setup_data(fast_model: str, slow_model: str) -> Keys:
    """Migrate, then a workspace per model server with its OpenAI credential, the apps and their keys."""
    from django.core.management import call_command
    from django.db import connections

    from tests import factories
    from tests.providers_django.given import provider_credential

    call_command("migrate", interactive=False, verbosity=0)
    factories.setup_done()

    accounts: list[str] = []

    def workspace(name: str, base_url: str) -> Any:
        tenant = factories.tenant_factory(name=name)
        # unique: a DATABASE_URL database outlives the run
        owner = factories.member_factory(
            tenant=tenant, role="owner", email=f"{uuid.uuid4().hex}@bench.invalid"
        )
        accounts.append(str(owner.id))
        values = {"openai_api_key": "sk-bench", "openai_api_base": base_url}
        provider_credential(tenant=tenant, provider="openai", values=values)
        return tenant

    fast = workspace("bench-fast", fast_model)
    slow = workspace("bench-slow", slow_model)

    def key(tenant: Any, mode: str, config: dict[str, Any] | None = None) -> str:
        app = factories.app_factory(tenant=tenant, mode=mode, config=config)
        return factories.api_key_factory(app=app)

    keys = Keys(
        completion=key(fast, "completion", COMPLETION_CONFIG),
        chat=key(fast, "chat", CHAT_CONFIG),
        slow_chat=key(slow, "chat", CHAT_CONFIG),
        workflow=key(fast, "workflow"),  # Start(query) -> End(query)
        tenants=[str(fast.id), str(slow.id)],
        accounts=accounts,
    )
    connections.close_all()
    return keys


def drop_data(keys: Keys) -> None:
    """Remove the bench's workspaces and accounts from a database that outlives the run (DATABASE_URL)."""
    from django.db import connections

    from accounts.models import Account, Tenant

    with contextlib.suppress(Exception):
        Tenant.objects.filter(id__in=keys.tenants).delete()
    with contextlib.suppress(Exception):
        Account.objects.filter(id__in=keys.accounts).delete()
    connections.close_all()


# --- statistics ------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"
