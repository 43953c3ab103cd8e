"""Plugin runtime benchmark (prints figures; not a test): a real SDK tool plugin (tests/plugins/builders)
started as a subprocess on the stdio protocol, then called.

    .venv/bin/python bench/plugins.py [--sandbox]

Figures: the environment build (0 when cached: /tmp/dify-plugin-test-envs, shared with the tests), the
cold start until the first heartbeat, and milliseconds per `invoke_tool` round trip, sequential (median
of 200) and 50 concurrent calls on one process (wall time). `--sandbox` runs it under bubblewrap as
PLUGIN_ISOLATION=sandbox does, network unshared and the egress broker bound in (PLUGIN_EGRESS; the
benchmark's tool makes no outbound call, so the broker refuses everything).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.package import extract_package, read_package
from plugins.runtime import sandbox
from plugins.runtime.environment import ensure_environment, environment_python
from plugins.runtime.process import PluginProcess
from tests.plugins.builders import tool_plugin
from workflows.engine.sandbox.egress import EgressBroker


def refuse(host: str, port: int) -> list[str]:
    raise PermissionError(f"{host}:{port}: the benchmark allows no destination")


BOOTSTRAP = Path(__file__).resolve().parents[1] / "plugins" / "runtime" / "bootstrap.py"
ENVS = Path(tempfile.gettempdir()) / "dify-plugin-test-envs"


async def calls(process: PluginProcess) -> tuple[float, float]:
    request = {
        "type": "tool",
        "action": "invoke_tool",
        "user_id": "b",
        "provider": "texttools",
        "tool": "shout",
        "credentials": {},
        "tool_parameters": {"text": "bench"},
    }
    times = []
    for _ in range(200):
        started = time.perf_counter()
        _ = [item async for item in process.request(request, timeout=30)]
        times.append((time.perf_counter() - started) * 1000)

    async def one() -> None:
        _ = [item async for item in process.request(request, timeout=30)]

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(50)))
    return statistics.median(times), (time.perf_counter() - started) * 1000


def main() -> None:
    use_sandbox = "--sandbox" in sys.argv
    content = tool_plugin()
    declaration = read_package(content)
    work = Path(tempfile.mkdtemp(prefix="plugin-bench-"))
    extract_package(content, str(work / "src"))
    started = time.perf_counter()
    env_dir = ensure_environment(root=ENVS, requirements=declaration.requirements)
    built = time.perf_counter() - started
    python = str(environment_python(env_dir))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "INSTALL_METHOD": "local",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    argv = [python, str(BOOTSTRAP), "main"]
    if use_sandbox:
        argv = sandbox.sandboxed_argv(
            bwrap=sandbox.bwrap_path() or "bwrap",
            python=python,
            bootstrap=str(BOOTSTRAP),
            entrypoint="main",
            env_dir=str(env_dir),
            source_dir=str(work / "src"),
            home=str(work),
            env=env,
            egress_socket=EgressBroker(refuse).path,
        )
    started = time.perf_counter()
    process = PluginProcess(name="bench", argv=argv, cwd=str(work / "src"), env=env).start()
    cold = time.perf_counter() - started
    try:
        median, concurrent = asyncio.run(calls(process))
    finally:
        process.kill()
    print(f"command: .venv/bin/python bench/plugins.py{' --sandbox' if use_sandbox else ''}")
    print(f"environment build: {built:.2f} s (0 when cached)")
    print(f"cold start to first heartbeat: {cold:.2f} s")
    print(f"invoke_tool round trip, sequential: {median:.2f} ms median of 200")
    print(f"50 concurrent invoke_tool calls on one process: {concurrent:.0f} ms wall")


if __name__ == "__main__":
    main()
