"""Code sandbox benchmark (prints figures; not a test). No database needed.

    .venv/bin/python bench/sandbox.py [--quick]

Per-call overhead of the code port, as the code node pays it, next to calling the same function
in-process:
  in-process       compile + call `main` in this interpreter (what no isolation would cost)
  process          `SubprocessCodePort` (CODE_EXECUTION_ISOLATION=process: a fresh interpreter per call)
  sandbox cold     `SandboxCodePort` with no warm pool: bwrap + seccomp + a fresh interpreter per call
  sandbox warm     `SandboxCodePort` as configured by default: a started worker waits for each call
                   (calls spaced so the pool refills, as in interactive use)
Then code-node runs per second through the engine (start -> code -> end), 8 runs in flight.
Figures are medians (and p95) in milliseconds over the calls made.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workflows.engine import Engine, Ports, SandboxCodePort, SubprocessCodePort, parse_graph  # noqa: E402

CODE = "def main(x: int) -> dict:\n    return {'result': x * 2}\n"
PACKAGES = ROOT / ".sandbox" / "python"


def python_for_sandbox() -> str | None:
    marker = PACKAGES / ".interpreter"
    return marker.read_text().strip() if marker.is_file() else None


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   ({len(ms)} calls)"


def in_process(n: int) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        namespace: dict = {}
        exec(compile(CODE, "<code>", "exec"), namespace)
        namespace["main"](x=i)
        samples.append(time.perf_counter() - started)
    return samples


async def through_port(port, n: int, pause: float) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        result = await port.execute(language="python3", code=CODE, inputs={"x": i})
        samples.append(time.perf_counter() - started)
        assert result == {"result": i * 2}, result
        if pause:
            await asyncio.sleep(pause)
    return samples


def graph() -> dict:
    return {
        "nodes": [
            {
                "id": "start",
                "data": {"type": "start", "title": "S", "variables": [{"variable": "x", "type": "number"}]},
            },
            {
                "id": "c",
                "data": {
                    "type": "code",
                    "title": "C",
                    "code_language": "python3",
                    "code": CODE,
                    "variables": [{"variable": "x", "value_selector": ["start", "x"]}],
                    "outputs": {"result": {"type": "number"}},
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "E",
                    "outputs": [{"variable": "r", "value_selector": ["c", "result"]}],
                },
            },
        ],
        "edges": [
            {"id": "a", "source": "start", "target": "c", "sourceHandle": "source"},
            {"id": "b", "source": "c", "target": "end", "sourceHandle": "source"},
        ],
    }


async def engine_throughput(port, seconds: float, in_flight: int = 8) -> tuple[int, float]:
    engine = Engine(ports=Ports(code=port))
    parsed = parse_graph(graph())
    done = 0
    deadline = time.perf_counter() + seconds

    async def lane(k: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            outcome = await engine.run(parsed, inputs={"x": k}, validate_inputs=False).collect()
            assert outcome.status == "succeeded", outcome.error
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(lane(k) for k in range(in_flight)))
    return done, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 20 if args.quick else 100
    packages = str(PACKAGES) if PACKAGES.is_dir() else None
    python = python_for_sandbox()

    warm = SandboxCodePort(packages=packages, python=python)
    status = warm.status()
    print(status.describe())
    if not status.available:
        raise SystemExit("the sandbox is unavailable here; install bubblewrap (see README)")
    cold = SandboxCodePort(packages=packages, python=python, pool_size=0)
    cold.status()
    process = SubprocessCodePort()
    await asyncio.sleep(1.0)  # let the warm pool finish starting

    print(f"in-process     {summary(in_process(n * 10))}")
    print(f"process        {summary(await through_port(process, n, 0))}")
    print(f"sandbox cold   {summary(await through_port(cold, n, 0))}")
    print(f"sandbox warm   {summary(await through_port(warm, n, 0.05))}")

    seconds = 3.0 if args.quick else 10.0
    for label, port in (("sandbox", warm), ("process", process)):
        done, elapsed = await engine_throughput(port, seconds)
        print(
            f"engine, {label:8s} {done / elapsed:7.1f} code-node runs/s ({done} runs in {elapsed:.1f} s, 8 in flight)"
        )
    warm.close()
    cold.close()


if __name__ == "__main__":
    asyncio.run(main())
