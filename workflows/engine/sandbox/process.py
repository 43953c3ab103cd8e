"""`CodePort` with *process isolation only*: for a trusted single-user set-up that asks for it with
``CODE_EXECUTION_ISOLATION=process``, never a fallback.

The child runs as the same OS user, in a fresh temporary directory, with an empty environment, Python in
isolated mode (`-I -S`: no user site, no site-packages), and resource limits (CPU seconds, address
space, file size, open files, no core dumps), and is killed with its process group on timeout. It cannot
stop code from reading files the server user can read or opening network connections: `SandboxCodePort`
is what runs untrusted users' code.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

from ..ports import CodeExecutionError

_PYTHON_RUNNER = r"""
import json, sys
marker = sys.argv[1]
def _run():
    payload = json.loads(sys.stdin.read())
    namespace = {"__name__": "__main__"}
    exec(compile(payload["code"], "<code>", "exec"), namespace)
    main = namespace.get("main")
    if not callable(main):
        raise NameError("main function is not defined")
    return main(**payload["inputs"])
try:
    result = _run()
    if not isinstance(result, dict):
        raise TypeError("main must return a dict, got " + type(result).__name__)
    text = json.dumps({"result": result}, ensure_ascii=False)
except BaseException as error:
    text = json.dumps({"error": type(error).__name__ + ": " + str(error)})
sys.stdout.write(marker + text)
sys.stdout.flush()
"""

_NODE_RUNNER = r"""
const marker = process.argv[process.argv.length - 1];
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', async () => {
  let text;
  try {
    const payload = JSON.parse(input);
    const main = new Function(payload.code + '\n;return typeof main === "function" ? main : undefined;')();
    if (typeof main !== 'function') throw new Error('main function is not defined');
    const result = await main(payload.inputs);
    if (result === null || typeof result !== 'object' || Array.isArray(result)) {
      throw new Error('main must return an object');
    }
    text = JSON.stringify({ result });
  } catch (e) {
    text = JSON.stringify({ error: (e && e.name ? e.name + ': ' : '') + (e && e.message ? e.message : String(e)) });
  }
  process.stdout.write(marker + text);
});
"""


class SubprocessCodePort:
    """Runs `main(**inputs)` (Python) or `main(inputs)` (JavaScript) and returns the dict it returns."""

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        memory_mb: int = 512,
        max_output_bytes: int = 10 * 1024 * 1024,
        python: str | None = None,
        node: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.max_output_bytes = max_output_bytes
        self.python = python or sys.executable
        self.node = node if node is not None else shutil.which("node")

    @property
    def languages(self) -> frozenset[str]:
        return frozenset({"python3", "javascript"} if self.node else {"python3"})

    def _limits(self, limit_memory: bool) -> Any:
        cpu = int(self.timeout) + 1
        memory = self.memory_mb * 1024 * 1024

        def apply() -> None:  # runs in the child between fork and exec
            import resource

            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
            if limit_memory:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

        return apply

    async def execute(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        marker = "<<RESULT-" + secrets.token_hex(8) + ">>"
        if language in ("python3", "python"):
            # V8 reserves large virtual memory, so only Python gets an address-space limit.
            argv = [self.python, "-I", "-S", "-c", _PYTHON_RUNNER, marker]
            limit_memory = True
        elif language == "javascript":
            if not self.node:
                raise CodeExecutionError(
                    "JavaScript code needs Node.js, which is not installed on this server"
                )
            argv = [self.node, f"--max-old-space-size={self.memory_mb}", "-e", _NODE_RUNNER, "--", marker]
            limit_memory = False
        else:
            raise CodeExecutionError(f"unsupported code language: {language}")
        try:
            payload = json.dumps({"code": code, "inputs": dict(inputs)}, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            raise CodeExecutionError(f"inputs are not JSON-serialisable: {error}") from error
        with tempfile.TemporaryDirectory(prefix="wf-code-") as workdir:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=workdir,
                env={
                    "PATH": "/usr/bin:/bin",
                    "HOME": workdir,
                    "LANG": "C.UTF-8",
                    "PYTHONIOENCODING": "utf-8",
                },
                start_new_session=True,
                preexec_fn=self._limits(limit_memory),
            )
            try:
                stdout, stderr = await asyncio.wait_for(self._communicate(process, payload), self.timeout)
            except TimeoutError as error:
                self._kill(process)
                await process.wait()
                raise CodeExecutionError(f"code execution timed out after {self.timeout:g}s") from error
            except CodeExecutionError:
                self._kill(process)
                await process.wait()
                raise
        text = stdout.decode("utf-8", errors="replace")
        position = text.rfind(marker)
        if position == -1:
            detail = stderr.decode("utf-8", errors="replace").strip().splitlines()
            if process.returncode and process.returncode < 0:
                name = signal.Signals(-process.returncode).name
                raise CodeExecutionError(
                    f"code execution was killed ({name}); it may have exceeded a resource limit"
                )
            raise CodeExecutionError(
                detail[-1] if detail else f"code execution failed (exit {process.returncode})"
            )
        try:
            outcome = json.loads(text[position + len(marker) :])
        except json.JSONDecodeError as error:
            raise CodeExecutionError(f"invalid result from code: {error}") from error
        if "error" in outcome:
            raise CodeExecutionError(f"error: {outcome['error']}")
        return outcome["result"]

    async def _communicate(self, process: asyncio.subprocess.Process, payload: bytes) -> tuple[bytes, bytes]:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        process.stdin.write(payload)
        await process.stdin.drain()
        process.stdin.close()

        async def read(stream: asyncio.StreamReader) -> bytes:
            data = bytearray()
            while chunk := await stream.read(65536):
                data.extend(chunk)
                if len(data) > self.max_output_bytes:
                    raise CodeExecutionError(f"code output is larger than {self.max_output_bytes} bytes")
            return bytes(data)

        stdout, stderr = await asyncio.gather(read(process.stdout), read(process.stderr))
        await process.wait()
        return stdout, stderr

    @staticmethod
    def _kill(process: asyncio.subprocess.Process) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
