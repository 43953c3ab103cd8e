"""`CodePort` that runs every snippet in its own bubblewrap sandbox under a seccomp filter.

Isolation, from the outside in: an unprivileged host uid (65534 when the server runs as root), new
user/pid/ipc/uts/cgroup/network namespaces (the network one holds only its own loopback), a root made of
read-only binds of the interpreter, its standard library and the user-code packages and nothing else,
a size-capped tmpfs scratch dir, a seccomp filter (``seccomp_policy``) and rlimits on CPU, address
space, file size and open files. It fails closed: where any of this is missing, `execute` raises
`CodeSandboxUnavailable` (``code_sandbox_unavailable``) and never runs the code some weaker way.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ports import CodeExecutionError
from . import layout, runners, runners_exec
from .seccomp_policy import build_filter_bpf
from .workers import Outcome, Spawner, WarmPool, Worker, popen

UNPRIVILEGED_UID = 65534  # "nobody" on Debian and most distributions


class CodeSandboxUnavailable(CodeExecutionError):
    """The host cannot isolate user code; the message starts with ``code_sandbox_unavailable``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"code_sandbox_unavailable: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    available: bool
    mode: str  # "bwrap+seccomp" or "unavailable"
    detail: str
    uid: int | None = None
    languages: tuple[str, ...] = ()
    egress: bool = False

    def describe(self) -> str:
        if not self.available:
            return f"code sandbox: unavailable ({self.detail})"
        uid = "server uid" if self.uid is None else f"uid {self.uid}"
        egress = "egress via broker" if self.egress else "no network"
        return f"code sandbox: {self.mode} ({uid}, {egress}; {', '.join(self.languages)})"


class SandboxCodePort:
    """Runs `main(**inputs)` (Python) or `main(inputs)` (JavaScript) in a fresh sandbox per call."""

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        memory_mb: int = 512,
        max_output_bytes: int = 10 * 1024 * 1024,
        scratch_mb: int = 64,
        python: str | None = None,
        node: str | None = None,
        packages: str | None = None,
        egress_socket: str | None = None,
        pool_size: int = 2,
        idle_seconds: float = 300.0,
        max_concurrency: int = 16,
        bwrap: str | None = None,
        uid: int | str | None = "auto",
    ) -> None:
        self.timeout = timeout
        self.memory_bytes = memory_mb * 1024 * 1024
        self.max_output_bytes = max_output_bytes
        self.scratch_bytes = scratch_mb * 1024 * 1024
        self.python = python or ("/usr/bin/python3" if Path("/usr/bin/python3").exists() else None)
        self.node = node if node is not None else shutil.which("node")
        self.packages = packages if packages and Path(packages).is_dir() else None
        self.egress_socket = egress_socket
        self.bwrap = bwrap or shutil.which("bwrap")
        self._uid_setting = uid
        self._pool_size = pool_size
        self._idle = idle_seconds
        self._executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="code-sandbox")
        self._lock = threading.Lock()
        self._status: SandboxStatus | None = None
        self._pool: WarmPool | None = None
        self._bpf_path: str | None = None
        self._uid: int | None = None
        self._listing = layout.packages_listing(self.packages)

    # -- set-up ------------------------------------------------------------------------------------

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.status().languages)

    def status(self) -> SandboxStatus:
        """Probe once (start a sandbox and run a trivial job in it); later calls return the result."""
        with self._lock:
            if self._status is None:
                self._status = self._probe()
            return self._status

    def _probe(self) -> SandboxStatus:
        if not self.bwrap:
            return SandboxStatus(False, "unavailable", "bubblewrap (bwrap) is not installed")
        if not self.python:
            return SandboxStatus(False, "unavailable", "no Python interpreter for the sandbox")
        try:
            self._python = layout.python_interpreter(self.python)
        except (OSError, ValueError, RuntimeError) as error:
            return SandboxStatus(False, "unavailable", f"sandbox Python {self.python} does not run: {error}")
        try:
            bpf = build_filter_bpf()
        except (ImportError, OSError, RuntimeError) as error:
            return SandboxStatus(False, "unavailable", f"seccomp filter cannot be built: {error}")
        fd, self._bpf_path = tempfile.mkstemp(prefix="code-sandbox-", suffix=".bpf")
        with os.fdopen(fd, "wb") as out:
            out.write(bpf)
        Path(self._bpf_path).chmod(0o444)
        self._node = layout.node_interpreter(self.node) if self.node else None
        spawner = self._spawner = Spawner()
        candidates: list[int | None] = []
        if self._uid_setting == "auto":
            candidates = [UNPRIVILEGED_UID, None] if os.geteuid() == 0 else [None]
        else:
            candidates = [self._uid_setting]  # type: ignore[list-item]
        failure = ""
        for uid in candidates:
            self._uid = uid
            try:
                worker = spawner.submit(lambda: self._start("python3")).result(timeout=30)
                outcome = worker.run(
                    self._payload("def main():\n    return {'ok': 1}\n", {}), timeout=20, max_output=4096
                )
                if self._parse(outcome) == {"ok": 1}:
                    break
            except (OSError, CodeExecutionError) as error:
                failure = str(error)
        else:
            return SandboxStatus(False, "unavailable", f"a sandbox does not start here: {failure}")
        languages = ["python3"]
        if self._node:
            try:
                worker = spawner.submit(lambda: self._start("javascript")).result(timeout=30)
                outcome = worker.run(
                    self._payload("function main() { return {ok: 1}; }", {}), timeout=20, max_output=4096
                )
                if self._parse(outcome) == {"ok": 1}:
                    languages.append("javascript")
            except (OSError, CodeExecutionError):
                pass
        self._pool = WarmPool(spawner, self._start, self._pool_size, self._idle)
        # Python is warmed now; JavaScript on its first call (a V8 worker waiting costs ~40 MB).
        self._pool.refill("python3")
        return SandboxStatus(True, "bwrap+seccomp", "", self._uid, tuple(languages), bool(self.egress_socket))

    def _start(self, language: str) -> Worker:
        assert self.bwrap and self._bpf_path
        marker = "<<RESULT-" + secrets.token_hex(8) + ">>"
        interpreter = self._python
        config: dict[str, Any] = {
            "idle": self._idle,
            "cpu": int(self.timeout) + 1,
            "memory": self.memory_bytes,
            "fsize": min(self.scratch_bytes, 16 * 1024 * 1024),
        }
        paths = set(interpreter.paths)
        if language == "javascript":
            assert self._node
            paths |= set(self._node.paths)
            config["memory"] = self.memory_bytes + 1024 * 1024 * 1024  # V8 reserves address space up front
            mb = self.memory_bytes // (1024 * 1024)
            program = [
                interpreter.executable,
                "-I",
                "-S",
                "-c",
                runners_exec.NODE_EXEC,
                json.dumps(config),
                self._node.executable,
                f"--max-old-space-size={mb}",
                "-e",
                runners.NODE_RUNNER,
                "--",
                marker,
                json.dumps({"idle": self._idle}),
            ]
        else:
            if self.packages:
                config["packages"] = "/sandbox/packages"
                config["listing"] = self._listing
            if self.egress_socket:
                config["egress"] = "/sandbox/egress.sock"
            program = [
                interpreter.executable,
                "-I",
                "-S",
                "-B",
                "-X",
                "utf8",
                "-c",
                runners.PYTHON_RUNNER,
                marker,
                json.dumps(config),
            ]
        fd = os.open(self._bpf_path, os.O_RDONLY)
        try:
            argv = layout.bwrap_argv(
                self.bwrap,
                layout.Interpreter(interpreter.executable, interpreter.version, tuple(sorted(paths))),
                seccomp_fd=fd,
                scratch_bytes=self.scratch_bytes,
                packages=self.packages if language != "javascript" else None,
                egress_socket=self.egress_socket if language != "javascript" else None,
            )
            process = popen(argv + program, pass_fds=[fd], user=self._uid)
        finally:
            os.close(fd)
        return Worker(process, marker, time.monotonic(), self._spawner.reap)

    # -- running -----------------------------------------------------------------------------------

    async def execute(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if language == "python":
            language = "python3"
        if language not in ("python3", "javascript"):
            raise CodeExecutionError(f"unsupported code language: {language}")
        payload = self._payload(code, inputs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._execute_sync, language, payload)

    def _execute_sync(self, language: str, payload: bytes) -> dict[str, Any]:
        status = self.status()
        if not status.available:
            raise CodeSandboxUnavailable(status.detail)
        if language not in status.languages:
            raise CodeExecutionError("JavaScript code needs Node.js, which is not installed on this server")
        assert self._pool is not None
        try:
            worker = self._pool.take(language).result(timeout=30)
        except OSError as error:
            raise CodeSandboxUnavailable(f"a sandbox did not start: {error}") from error
        try:
            outcome = worker.run(payload, timeout=self.timeout, max_output=self.max_output_bytes)
        finally:
            self._pool.refill(language)
        return self._parse(outcome)

    @staticmethod
    def _payload(code: str, inputs: Mapping[str, Any]) -> bytes:
        try:
            return json.dumps({"code": code, "inputs": dict(inputs)}, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            raise CodeExecutionError(f"inputs are not JSON-serialisable: {error}") from error

    def _parse(self, outcome: Outcome) -> dict[str, Any]:
        if outcome.timed_out:
            raise CodeExecutionError(f"code execution timed out after {self.timeout:g}s")
        if outcome.overflowed:
            raise CodeExecutionError(f"code output is larger than {self.max_output_bytes} bytes")
        if outcome.result is None:
            code = outcome.returncode or 0
            signum = -code if code < 0 else code - 128 if code > 128 else 0
            if signum:
                try:
                    name = signal.Signals(signum).name
                except ValueError:
                    name = f"signal {signum}"
                raise CodeExecutionError(
                    f"code execution was killed ({name}); it may have exceeded a resource limit"
                )
            detail = outcome.stderr.decode("utf-8", errors="replace").strip().splitlines()
            raise CodeExecutionError(detail[-1] if detail else f"code execution failed (exit {code})")
        try:
            result = json.loads(outcome.result)
        except json.JSONDecodeError as error:
            raise CodeExecutionError(f"invalid result from code: {error}") from error
        if "error" in result:
            raise CodeExecutionError(f"error: {result['error']}")
        return result["result"]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
