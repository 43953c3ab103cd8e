"""Sandboxed worker processes: started by one long-lived thread, kept warm in a small pool, used once.

Why one spawner thread: ``bwrap --die-with-parent`` ties the sandbox to the *thread* that forked it
(PR_SET_PDEATHSIG), so workers forked from short-lived threads would die with them. Why used once:
a worker that ran one workspace's code must never run another's. Why threads at all: the port is
called from any event loop (web process, Celery task, benchmark) and a blocking read of a worker's
pipes must not hold any of them.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class Outcome:
    stdout: bytes
    stderr: bytes
    returncode: int | None
    timed_out: bool = False
    overflowed: bool = False
    result: bytes | None = None  # the framed result, when the worker wrote one


def framed_result(buffer: bytes | bytearray, marker: bytes) -> bytes | None:
    """The result frame's JSON once it is complete in ``buffer`` (marker, 12-digit length, bytes)."""
    start = buffer.rfind(marker)
    if start == -1:
        return None
    head = start + len(marker)
    digits = bytes(buffer[head : head + 12])
    if len(digits) < 12 or not digits.isdigit():
        return None
    size = int(digits)
    body = bytes(buffer[head + 12 : head + 12 + size])
    return body if len(body) == size else None


class Worker:
    """One started sandbox waiting for its job on stdin."""

    def __init__(
        self, process: subprocess.Popen[bytes], marker: str, started: float, reap: Callable[[Worker], None]
    ) -> None:
        self.process = process
        self.marker = marker
        self.started = started
        self._reap = reap

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, payload: bytes, *, timeout: float, max_output: int) -> Outcome:
        """Send the job, collect at most ``max_output`` bytes, kill at the deadline. Returns as soon as
        the result frame is complete; tearing the sandbox down happens on the reaper thread."""
        process = self.process
        assert process.stdin and process.stdout and process.stderr
        deadline = time.monotonic() + timeout
        try:
            process.stdin.write(payload)
            process.stdin.close()
        except BrokenPipeError:
            pass
        out, err = bytearray(), bytearray()
        marker = self.marker.encode()
        timed_out = overflowed = False
        result = None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ, out)
            selector.register(process.stderr, selectors.EVENT_READ, err)
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(remaining):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    key.data.extend(chunk)
                    if len(out) + len(err) > max_output:
                        overflowed = True
                        break
                    if key.data is out and (result := framed_result(out, marker)) is not None:
                        break
                if overflowed or result is not None:
                    break
        if result is not None:
            self._reap(self)
            return Outcome(bytes(out), bytes(err), None, result=result)
        if timed_out or overflowed:
            self.kill()
        try:
            returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            returncode = process.wait()
        for stream in (process.stdout, process.stderr):
            stream.close()
        return Outcome(bytes(out), bytes(err), returncode, timed_out, overflowed, framed_result(out, marker))

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def discard(self) -> None:
        """Kill and reap a worker that is done or will not run (expired, left over at shutdown)."""
        self.kill()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


class Spawner:
    """The one thread that forks sandboxes (see the module docstring), and the one that reaps them."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Worker], concurrent.futures.Future[Worker]]] = (
            queue.SimpleQueue()
        )
        self._dead: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="code-sandbox-spawner", daemon=True)
        self._thread.start()
        threading.Thread(target=self._reaper, name="code-sandbox-reaper", daemon=True).start()

    def reap(self, worker: Worker) -> None:
        self._dead.put(worker)

    def _reaper(self) -> None:
        while True:
            self._dead.get().discard()

    def _loop(self) -> None:
        while True:
            start, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(start())
                except BaseException as error:  # handed to the caller, which reports it
                    future.set_exception(error)

    def submit(self, start: Callable[[], Worker]) -> concurrent.futures.Future[Worker]:
        future: concurrent.futures.Future[Worker] = concurrent.futures.Future()
        self._jobs.put((start, future))
        return future


def popen(argv: Sequence[str], *, pass_fds: Sequence[int], user: int | None) -> subprocess.Popen[bytes]:
    """Start one sandbox: empty environment (bwrap's own /proc entry must hold no secret), own session,
    and the unprivileged uid when the server runs as root. The uid is dropped by ``setpriv`` rather
    than by Popen(user=...): with a uid change CPython must fork instead of vfork, and copying the
    server's page tables while holding the GIL stalls every running call for milliseconds."""
    command = list(argv)
    extra: dict[str, object] = {}
    if user is not None:
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, f"--reuid={user}", f"--regid={user}", "--clear-groups", "--", *command]
        else:
            extra = {"user": user, "group": user, "extra_groups": []}
    # argv is built by `layout.bwrap_argv` from the configuration; user code only ever arrives on stdin.
    return subprocess.Popen(  # noqa: S603
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
        pass_fds=tuple(pass_fds),
        start_new_session=True,
        close_fds=True,
        **extra,  # type: ignore[arg-type]
    )


class WarmPool:
    """Up to ``size`` started workers per language; taking one asks the spawner for a replacement."""

    def __init__(self, spawner: Spawner, start: Callable[[str], Worker], size: int, idle: float) -> None:
        self._spawner = spawner
        self._start = start
        self._size = size
        self._idle = idle
        self._ready: dict[str, list[concurrent.futures.Future[Worker]]] = {}
        self._lock = threading.Lock()

    def take(self, language: str) -> concurrent.futures.Future[Worker]:
        """A warm worker if one is ready (else the oldest pending one, else a fresh start). The caller
        calls `refill` once its job is done, so starting the replacement never competes with the job."""
        with self._lock:
            ready = self._ready.setdefault(language, [])
            chosen = None
            while ready:
                candidate = ready.pop(0)
                if candidate.done():
                    if candidate.exception() is None and self._fresh(candidate.result()):
                        chosen = candidate
                        break
                    continue
                chosen = candidate
                break
            if chosen is None:
                chosen = self._spawner.submit(lambda: self._start(language))
        return chosen

    def refill(self, language: str) -> None:
        with self._lock:
            ready = self._ready.setdefault(language, [])
            while len(ready) < self._size:
                ready.append(self._spawner.submit(lambda: self._start(language)))

    def _fresh(self, worker: Worker) -> bool:
        # A worker waiting past its idle limit has exited on its own (or is about to).
        if not worker.alive() or time.monotonic() - worker.started > self._idle * 0.8:
            worker.discard()
            return False
        return True

    def close(self) -> None:
        with self._lock:
            for futures in self._ready.values():
                for future in futures:
                    if future.done() and future.exception() is None:
                        future.result().discard()
            self._ready.clear()
