"""Plugin processes pooled per plugin version: one long-lived process serves every call to that version
(the SDK runs requests concurrently in its own greenlets). A process that died (a crash, a kill after a
hang) is replaced on the next call; starting is blocking, so async callers use `aprocess`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from plugins.runtime.process import PluginProcess


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """How to start one plugin version: the argv (the venv's python and the bootstrap, or the sandbox's
    wrapper around them), its directory and its whole environment (nothing of ours leaks in)."""

    key: str  # the plugin's unique identifier
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    start_timeout: float = 30.0


class PluginPool:
    def __init__(self) -> None:
        self._processes: dict[str, PluginProcess] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.starts: dict[str, int] = {}

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def process(self, spec: LaunchSpec) -> PluginProcess:
        """The running process for `spec.key`, started (or restarted) if needed. PluginStartError."""
        current = self._processes.get(spec.key)
        if current is not None and current.alive:
            return current
        with self._lock_for(spec.key):
            current = self._processes.get(spec.key)
            if current is not None and current.alive:
                return current
            if current is not None:
                current.kill()
            process = PluginProcess(
                name=spec.key.split("@", 1)[0],
                argv=spec.argv,
                cwd=spec.cwd,
                env=spec.env,
                start_timeout=spec.start_timeout,
            ).start()
            self._processes[spec.key] = process
            self.starts[spec.key] = self.starts.get(spec.key, 0) + 1
            return process

    async def aprocess(self, spec: LaunchSpec) -> PluginProcess:
        current = self._processes.get(spec.key)
        if current is not None and current.alive:
            return current
        return await asyncio.to_thread(self.process, spec)

    def running(self, key: str) -> PluginProcess | None:
        current = self._processes.get(key)
        return current if current is not None and current.alive else None

    def stop(self, key: str) -> None:
        with self._lock_for(key):
            process = self._processes.pop(key, None)
        if process is not None:
            process.kill()

    def stop_all(self, keys: Sequence[str] | None = None) -> None:
        for key in list(keys if keys is not None else self._processes):
            self.stop(key)
