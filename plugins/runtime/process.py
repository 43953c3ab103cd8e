"""One running plugin: a subprocess speaking the `dify_plugin` SDK's local stdio protocol.

The protocol (the SDK's `core/server/stdio`, the daemon's local runtime): we write one JSON object per
line on the plugin's stdin, `{"session_id", "event": "request", "data": {type, action, ...}}`; the
plugin writes JSON frames separated by blank lines: `{"event": "heartbeat"}`, `{"event": "log"}`,
`{"event": "error"}`, and `{"event": "session", "session_id", "data": {"type": "stream"|"end"|"error"|
"invoke", "data": ...}}`. An `invoke` is a reverse call (the plugin asks us for a model, a tool, ...);
we answer with `{"event": "backwards_response", "session_id", "data": {"backwards_request_id", "event":
"response"|"error"|"end", "message", "data"}}` lines.

Threads read stdout (the protocol, see `bootstrap`) and stderr (the plugin's own output, kept as a
bounded tail for error messages); sessions are awaited from any event loop. A line on the protocol pipe
that is not a frame is logged and dropped, never fatal. No Django in here.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

logger = logging.getLogger("plugins.runtime")

_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b(: .*)?$")

# A reverse call's handler: the plugin's request -> the response chunks to send back.
Backwards = Callable[[Mapping[str, Any]], AsyncIterator[Mapping[str, Any]]]


class PluginRuntimeError(Exception):
    """A call to a plugin failed; `error_type` is the plugin's exception class name when it raised."""

    def __init__(self, message: str, *, error_type: str = "PluginInvokeError", args: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.details = args or {}


class PluginStartError(PluginRuntimeError):
    pass


class PluginCrashedError(PluginRuntimeError):
    pass


class PluginTimeoutError(PluginRuntimeError):
    pass


class PluginProcess:
    """Start with `start()`, call with `request()`; `alive` tells whether it can still serve."""

    def __init__(
        self,
        *,
        name: str,
        argv: Sequence[str],
        cwd: str,
        env: Mapping[str, str],
        start_timeout: float = 30.0,
        stderr_lines: int = 200,
    ) -> None:
        self.name = name
        self._argv = list(argv)
        self._cwd = cwd
        self._env = dict(env)
        self._start_timeout = start_timeout
        self._stderr: collections.deque[str] = collections.deque(maxlen=stderr_lines)
        self._sessions: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue[tuple[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._ready = threading.Event()
        self._exited = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self.last_seen = 0.0
        self.stray_lines = 0  # protocol-pipe lines that were not frames

    # --- life cycle --------------------------------------------------------------------------------------

    def start(self) -> PluginProcess:
        """Start the plugin and wait (blocking) for its first heartbeat; PluginStartError if it exits or
        stays silent (the message carries the end of its stderr: an import error, a bad manifest)."""
        # argv comes from the installed plugin's own environment and the runtime's fixed bootstrap.
        self._process = subprocess.Popen(  # noqa: S603
            self._argv,
            cwd=self._cwd,
            env=self._env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a kill takes its children too
        )
        threading.Thread(target=self._read_protocol, name=f"plugin-out-{self.name}", daemon=True).start()
        threading.Thread(target=self._read_stderr, name=f"plugin-err-{self.name}", daemon=True).start()
        deadline = time.monotonic() + self._start_timeout
        while not self._ready.wait(0.05):
            if self._exited.is_set() or self._process.poll() is not None:
                self._exited.wait(1)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(5)
                raise PluginStartError(
                    f"plugin {self.name} exited while starting (code {self._process.returncode}): {self.failure_reason()}",
                    error_type="PluginStartError",
                )
            if time.monotonic() > deadline:
                self.kill()
                raise PluginStartError(
                    f"plugin {self.name} did not start within {self._start_timeout:.0f}s: {self.stderr_tail()}",
                    error_type="PluginStartError",
                )
        return self

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None and not self._exited.is_set()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def kill(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(5)

    def failure_reason(self) -> str:
        """The exception a dying plugin printed (the traceback's last line), before interpreter-shutdown
        noise ("Exception ignored in ..."); else the end of its stderr."""
        found = None
        for line in self._stderr:
            if line.startswith("Exception ignored"):
                break
            if _EXCEPTION_LINE.match(line):
                found = line
        return found or self.stderr_tail()

    def stderr_tail(self, lines: int = 8) -> str:
        tail = list(self._stderr)[-lines:]
        return " | ".join(tail) if tail else "(no output)"

    # --- reading -----------------------------------------------------------------------------------------

    def _deliver(self, session_id: str | None, item: tuple[str, Any]) -> None:
        with self._lock:
            target = self._sessions.get(session_id or "")
        if target is None:
            return
        loop, queue = target
        with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody is waiting
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def _frame(self, frame: Mapping[str, Any]) -> None:
        event = frame.get("event")
        self.last_seen = time.monotonic()
        if event == "heartbeat":
            self._ready.set()
        elif event == "log":
            logger.info("plugin %s: %s", self.name, (frame.get("data") or {}).get("message"))
        elif event == "error":
            # A request the SDK could not even parse; it names no session we can fail, so log it.
            logger.warning("plugin %s reported: %s", self.name, frame.get("data"))
            if frame.get("session_id"):
                self._deliver(frame["session_id"], ("error", frame.get("data") or {}))
        elif event == "session":
            message = frame.get("data") or {}
            self._deliver(frame.get("session_id"), (str(message.get("type")), message.get("data")))

    def _read_protocol(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        try:
            for raw in self._process.stdout:
                line = raw.strip()
                if not line:
                    continue
                try:
                    frame = json.loads(line)
                except ValueError:
                    frame = None
                if not isinstance(frame, dict) or "event" not in frame:
                    # The SDK's first line is its manifest; anything else here is not ours to trust.
                    if not (isinstance(frame, dict) and "meta" in frame):
                        self.stray_lines += 1
                        logger.warning("plugin %s wrote a line that is not a frame: %.200r", self.name, line)
                    continue
                self._frame(frame)
        finally:
            self._exited.set()
            code = self._process.wait()
            reason = f"plugin {self.name} exited (code {code}): {self.failure_reason()}"
            with self._lock:
                sessions = list(self._sessions)
            for session_id in sessions:
                self._deliver(session_id, ("dead", reason))

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for raw in self._process.stderr:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                self._stderr.append(text[:500])
                logger.debug("plugin %s stderr: %s", self.name, text[:500])

    # --- writing -----------------------------------------------------------------------------------------

    def _write(self, message: Mapping[str, Any]) -> None:
        if not self.alive or self._process is None or self._process.stdin is None:
            raise PluginCrashedError(
                f"plugin {self.name} is not running: {self.stderr_tail()}", error_type="PluginCrashedError"
            )
        data = (json.dumps(message, ensure_ascii=False, default=str) + "\n").encode()
        try:
            with self._write_lock:
                self._process.stdin.write(data)
                self._process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise PluginCrashedError(
                f"plugin {self.name} stopped reading: {self.stderr_tail()}", error_type="PluginCrashedError"
            ) from exc

    async def _answer_backwards(
        self, session_id: str, invoke: Mapping[str, Any], handler: Backwards | None
    ) -> None:
        request_id = invoke.get("backwards_request_id")

        def reply(event: str, data: Any = None, message: str = "") -> None:
            self._write(
                {
                    "session_id": session_id,
                    "event": "backwards_response",
                    "data": {
                        "backwards_request_id": request_id,
                        "event": event,
                        "message": message,
                        "data": data,
                    },
                }
            )

        try:
            if handler is None:
                raise PluginRuntimeError("reverse calls are not available for this call")
            async for chunk in handler(invoke):
                reply("response", dict(chunk))
            reply("end")
        except PluginCrashedError:
            return
        except Exception as exc:
            logger.info("reverse call of plugin %s failed: %s", self.name, exc)
            with contextlib.suppress(PluginCrashedError):
                reply("error", None, str(exc) or type(exc).__name__)

    async def request(
        self,
        data: Mapping[str, Any],
        *,
        timeout: float,  # noqa: ASYNC109 - the whole call's budget, reported as PluginTimeoutError
        backwards: Backwards | None = None,
        context: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        app_id: str | None = None,
    ) -> AsyncIterator[Any]:
        """Send one request; yield each `stream` payload until `end`. Raises PluginRuntimeError (the
        plugin's own error, with its class name), PluginCrashedError, PluginTimeoutError (`timeout`
        seconds for the whole call)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        session_id = uuid.uuid4().hex
        with self._lock:
            self._sessions[session_id] = (loop, queue)
        tasks: set[asyncio.Task[None]] = set()
        deadline = loop.time() + timeout
        try:
            self._write(
                {
                    "session_id": session_id,
                    "event": "request",
                    "data": dict(data),
                    "conversation_id": conversation_id,
                    "message_id": None,
                    "app_id": app_id,
                    "endpoint_id": None,
                    "context": dict(context or {}),
                }
            )
            while True:
                remaining = deadline - loop.time()
                try:
                    if remaining <= 0:
                        raise TimeoutError
                    kind, payload = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    raise PluginTimeoutError(
                        f"plugin {self.name} did not answer within {timeout:g}s",
                        error_type="PluginTimeoutError",
                    ) from None
                if kind == "stream":
                    yield payload
                elif kind == "end":
                    return
                elif kind == "error":
                    payload = payload or {}
                    raise PluginRuntimeError(
                        str(payload.get("message") or payload.get("error") or "the plugin failed"),
                        error_type=str(payload.get("error_type") or "PluginInvokeError"),
                        args=payload.get("args"),
                    )
                elif kind == "invoke":
                    task = loop.create_task(self._answer_backwards(session_id, payload or {}, backwards))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif kind == "dead":
                    raise PluginCrashedError(str(payload), error_type="PluginCrashedError")
        finally:
            with self._lock:
                self._sessions.pop(session_id, None)
            for task in tasks:
                task.cancel()
