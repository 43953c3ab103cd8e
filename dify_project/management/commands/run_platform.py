"""Start the platform: migrations, a Celery worker (with beat) when asked, and the ASGI server.

This is what ``make run`` calls. In the embedded mode the worker runs on a filesystem broker under
``var/``, so background tasks really run in the background with no Redis; in the scaled mode workers
are usually separate processes (``celery -A dify_project worker``), so the local one is opt-in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from dify_project import code_execution


def describe_mode() -> str:
    db = settings.DATABASES["default"]
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    where = (
        db["NAME"]
        if engine == "sqlite3"
        else f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or ''}/{db['NAME']}"
    )
    cache = "redis" if settings.REDIS_URL else "local memory"
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split("://")[0]
    return (
        f"runtime mode: {settings.RUNTIME_MODE} | database: {engine} ({where}) | cache: {cache} | "
        f"channel layer: {layer} | task broker: {broker}"
    )


def raise_open_files_limit(wanted: int = 65536) -> tuple[int, int]:
    """Lift the soft limit on open files towards the hard one: each open stream holds two sockets (client
    and model), and the usual soft default of 1024 would cap the process at ~500 streams."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return (-1, -1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _prepare_multiprocess_metrics() -> Path:
    """Several ASGI workers: prometheus-client's multiprocess mode, in a folder emptied at start (files of
    processes from an earlier start would be counted again). The variable is prometheus-client's own
    switch, read when each worker first imports it, so it goes into the environment the workers inherit."""
    folder = Path(settings.PROMETHEUS_MULTIPROC_DIR or Path(settings.VAR_DIR) / "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def _die_with_parent() -> None:
    """Linux: the worker gets SIGTERM when this process dies, even by a signal that skips ``finally``
    (uvicorn re-raises SIGTERM after its graceful shutdown)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Command(BaseCommand):
    help = (
        "Run migrations and serve the platform (HTTP + WebSocket) with uvicorn; optionally a Celery worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=5001)
        parser.add_argument("--workers", type=int, default=1, help="ASGI worker processes")
        parser.add_argument(
            "--celery",
            choices=["auto", "on", "off"],
            default="auto",
            help="start a local Celery worker with beat (auto: on in the embedded mode, off in the scaled mode)",
        )
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(describe_mode())
        # Probing also warms the sandbox pool this process serves code nodes from.
        self.stdout.write(code_execution.describe())
        soft, _ = raise_open_files_limit()
        if soft != -1:
            self.stdout.write(f"open files limit: {soft}")
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
            self.stdout.write("database migrated")
        # The maintenance schedule beat runs (README: Operations); rows an operator edited stay as they are.
        call_command("setup_periodic_tasks", summary=True, stdout=self.stdout)
        start_celery = options["celery"] == "on" or (
            options["celery"] == "auto" and settings.RUNTIME_MODE == "embedded"
        )
        worker = self._start_worker() if start_celery else None
        if worker is None:
            self.stdout.write(
                "background tasks: no local worker (run `celery -A dify_project worker -B` separately)"
            )
        self.stdout.write(
            f"serving on http://{options['host']}:{options['port']}  "
            f"(first run: POST /console/api/setup; admin /admin/; API docs /docs/)"
        )
        if options["workers"] > 1:
            self.stdout.write(f"metrics: multiprocess mode in {_prepare_multiprocess_metrics()}")
        try:
            import uvicorn

            uvicorn.run(
                "dify_project.asgi:application",
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                lifespan="off",
                log_level=settings.LOG_LEVEL.lower(),
                timeout_graceful_shutdown=10,
            )
        finally:
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()

    def _start_worker(self) -> subprocess.Popen:
        if settings.CELERY_BROKER_URL.startswith("filesystem"):
            for folder in settings.CELERY_BROKER_TRANSPORT_OPTIONS.values():
                if isinstance(folder, str):
                    Path(folder).mkdir(parents=True, exist_ok=True)
        schedule = Path(settings.VAR_DIR) / "celerybeat"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dify_project",
            "worker",
            "--beat",
            "--queues",
            "default,workflow,indexing",
            "--concurrency",
            "2",
            "--loglevel",
            settings.LOG_LEVEL,
            "--schedule",
            str(schedule),
        ]
        self.stdout.write(
            "background tasks: local Celery worker with beat (queues default, workflow, indexing)"
        )
        # The command is built from constants and sys.executable, not from input.
        return subprocess.Popen(command, env=os.environ.copy(), preexec_fn=_die_with_parent)  # noqa: S603
