"""Workflow engine benchmark (prints figures; not a test). No database needed.

    .venv/bin/python bench/engine.py [--quick] [--graphon]

Scenarios (issue 3):
  A   a chain of 100 template-transform nodes
  B   a fan-out of 50 parallel template branches into a variable aggregator
  C   an iteration over 1,000 items with a template inside, sequential and parallel
  C'  (information) the same iteration whose body awaits a port, to time the asyncio-task path
  D   the conformance fixture simple_passthrough_workflow.yml, run 500 times

For each: median wall time per run (events consumed by an `async for` reader), microseconds per node
executed, runs per second and peak memory (tracemalloc, one run). Graphs are parsed once, as a
service caches a published version's parsed graph.

With --graphon, the template scenarios and D also run on Dify's engine (graphon 0.8.0) in a separate
Python 3.12 virtualenv under var/bench-graphon (git-ignored), when it exists:
    /root/.pyenv/versions/3.12.1/bin/python3.12 -m venv var/bench-graphon
    var/bench-graphon/bin/pip install graphon==0.8.0
graphon builds the graph for every run (as Dify does), so its figure includes that cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workflows.engine import Engine, Limits, NodeStarted, Ports, ToolMessage, parse_graph  # noqa: E402
from workflows.engine.conformance import DEFAULT_SHARED  # noqa: E402
from workflows.engine.dsl import load_app  # noqa: E402

FIXTURE = DEFAULT_SHARED / "dsl" / "simple_passthrough_workflow.yml"
GRAPHON_PYTHON = ROOT / "var" / "bench-graphon" / "bin" / "python"
# Runs inside the graphon virtualenv: graphon's own DSL loader builds and runs each graph per run.
GRAPHON_SCRIPT = """
import json, statistics, sys, time
import yaml
from graphon.dsl import loads

payload = json.loads(sys.stdin.read())
out = {}
for name, spec in payload["graphs"].items():
    doc = yaml.safe_dump({"app": {"mode": "workflow", "name": "bench"}, "kind": "app", "version": "0.3.1",
                          "workflow": {"graph": spec["graph"], "environment_variables": [],
                                       "conversation_variables": []}})
    times = []
    for i in range(payload["runs"][name] + 1):
        began = time.perf_counter()
        events = list(loads(doc, start_inputs=spec["inputs"], workers=3).run())
        if type(events[-1]).__name__ != "GraphRunSucceededEvent":
            raise SystemExit(name + " did not succeed on graphon: " + type(events[-1]).__name__)
        if i:
            times.append(time.perf_counter() - began)
    out[name] = {"median_ms": statistics.median(times) * 1000, "runs": len(times)}
print(json.dumps(out))
"""


# -- graphs ------------------------------------------------------------------------------------------


def node(node_id: str, data: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    wrapper: dict[str, Any] = {"id": node_id, "type": "custom", "data": data}
    if parent:
        wrapper["parentId"] = parent
    return wrapper


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {"id": f"{source}-{target}", "source": source, "target": target, "sourceHandle": handle}


def template(node_id: str, source: list[str], text: str, parent: str | None = None) -> dict[str, Any]:
    data = {
        "type": "template-transform",
        "title": node_id,
        "template": text,
        "variables": [{"variable": "x", "value_selector": source}],
    }
    return node(node_id, data, parent)


def start(variables: list[str]) -> dict[str, Any]:
    entries = [{"variable": v, "label": v, "type": "text-input"} for v in variables]
    return node("start", {"type": "start", "title": "Start", "variables": entries})


def end(selector: list[str]) -> dict[str, Any]:
    return node(
        "end", {"type": "end", "title": "End", "outputs": [{"variable": "out", "value_selector": selector}]}
    )


def chain_graph(length: int = 100) -> dict[str, Any]:
    nodes, edges, previous = [start(["query"])], [], ["start", "query"]
    for index in range(length):
        node_id = f"t{index}"
        nodes.append(template(node_id, previous, "{{ x }}"))
        edges.append(edge(previous[0], node_id))
        previous = [node_id, "output"]
    nodes.append(end(previous))
    edges.append(edge(previous[0], "end"))
    return {"nodes": nodes, "edges": edges}


def fanout_graph(width: int = 50) -> dict[str, Any]:
    nodes, edges, selectors = [start(["query"])], [], []
    for index in range(width):
        node_id = f"b{index}"
        nodes.append(template(node_id, ["start", "query"], f"branch {index}: {{{{ x }}}}"))
        edges += [edge("start", node_id), edge(node_id, "agg")]
        selectors.append([node_id, "output"])
    nodes.append(
        node(
            "agg",
            {
                "type": "variable-aggregator",
                "title": "Aggregate",
                "output_type": "string",
                "variables": selectors,
            },
        )
    )
    nodes.append(end(["agg", "output"]))
    edges.append(edge("agg", "end"))
    return {"nodes": nodes, "edges": edges}


def iteration_graph(parallel: bool, async_body: bool = False) -> dict[str, Any]:
    output = ["inner", "text"] if async_body else ["inner", "output"]
    iteration = node(
        "iter",
        {
            "type": "iteration",
            "title": "Iteration",
            "iterator_selector": ["start", "items"],
            "output_selector": output,
            "start_node_id": "iterstart",
            "is_parallel": parallel,
            "parallel_nums": 10,
            "error_handle_mode": "terminated",
            "flatten_output": True,
        },
    )
    if async_body:
        inner = node(
            "inner",
            {
                "type": "tool",
                "title": "inner",
                "provider_id": "p",
                "tool_name": "echo",
                "tool_parameters": {"v": {"type": "variable", "value": ["iter", "item"]}},
            },
            parent="iter",
        )
    else:
        inner = template("inner", ["iter", "item"], "item {{ x }}", parent="iter")
    nodes = [
        start([]),
        iteration,
        node("iterstart", {"type": "iteration-start", "title": ""}, parent="iter"),
        inner,
        end(["iter", "output"]),
    ]
    edges = [edge("start", "iter"), edge("iterstart", "inner"), edge("iter", "end")]
    return {"nodes": nodes, "edges": edges}


class InstantTools:
    """An in-process tool port that answers at once but does await, so nodes take the task path."""

    async def invoke(self, request: Any) -> Any:
        await asyncio.sleep(0)
        yield ToolMessage(type="text", text=str(request.parameters.get("v")))


# -- measuring ------------------------------------------------------------------------------------------


async def one_run(engine: Engine, graph: Any, inputs: dict[str, Any]) -> tuple[float, int]:
    began = time.perf_counter()
    nodes = 0
    async for event in engine.run(graph, inputs=inputs, validate_inputs=False):
        if isinstance(event, NodeStarted):
            nodes += 1
    return time.perf_counter() - began, nodes


async def measure(engine: Engine, graph: Any, inputs: dict[str, Any], runs: int) -> dict[str, float]:
    await one_run(engine, graph, inputs)  # warm-up: imports, template caches
    times = []
    nodes = 0
    began = time.perf_counter()
    for _ in range(runs):
        elapsed, nodes = await one_run(engine, graph, inputs)
        times.append(elapsed)
    total = time.perf_counter() - began
    tracemalloc.start()
    await one_run(engine, graph, inputs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median = statistics.median(times)
    return {
        "median_ms": median * 1000,
        "us_per_node": median * 1e6 / max(nodes, 1),
        "runs_per_s": runs / total,
        "peak_kib": peak / 1024,
        "nodes": nodes,
        "runs": runs,
    }


def scenarios(quick: bool) -> list[tuple[str, dict[str, Any], dict[str, Any], int, str]]:
    items = [f"item-{i}" for i in range(1000)]
    few, many = (3, 20) if quick else (15, 200)
    return [
        ("A chain of 100 templates", chain_graph(), {"query": "hello"}, many, "<= 5 ms"),
        ("B fan-out of 50 into an aggregator", fanout_graph(), {"query": "hello"}, many, "<= 3 ms"),
        ("C iteration 1,000 items, sequential", iteration_graph(False), {"items": items}, few, "<= 100 ms"),
        ("C iteration 1,000 items, parallel", iteration_graph(True), {"items": items}, few, "<= 100 ms"),
        ("C' body awaits a port, sequential", iteration_graph(False, True), {"items": items}, few, "(info)"),
        ("C' body awaits a port, parallel", iteration_graph(True, True), {"items": items}, few, "(info)"),
    ]


def row(name: str, figures: dict[str, float], goal: str) -> str:
    return (
        f"{name:38} {figures['median_ms']:9.3f}ms {figures['us_per_node']:8.1f} {figures['runs_per_s']:9.0f} "
        f"{figures['peak_kib']:8.0f}KiB {figures['nodes']:6d}  {goal}"
    )


def graphon_figures(graphs: dict[str, Any], runs: dict[str, int]) -> dict[str, dict[str, float]] | None:
    if not GRAPHON_PYTHON.exists():
        return None
    try:
        completed = subprocess.run(  # a fixed interpreter inside this repository
            [str(GRAPHON_PYTHON), "-c", GRAPHON_SCRIPT],
            input=json.dumps({"graphs": graphs, "runs": runs}),
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"graphon side by side skipped: {error}")
        return None
    if completed.returncode != 0:
        print("graphon side by side failed:", (completed.stderr.strip().splitlines() or ["?"])[-1])
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


async def main_async(quick: bool, with_graphon: bool) -> None:
    engine = Engine(ports=Ports(tools=InstantTools()), limits=Limits(max_steps=1_000_000))
    flags = (" --quick" if quick else "") + (" --graphon" if with_graphon else "")
    print(f"command: .venv/bin/python bench/engine.py{flags}")
    print(f"python {sys.version.split()[0]}; per run: median of N runs after one warm-up\n")
    header = (
        f"{'scenario':38} {'median':>11} {'us/node':>8} {'runs/s':>9} {'peak mem':>11} {'nodes':>6}  goal"
    )
    print(header)
    print("-" * len(header))
    ours: dict[str, dict[str, float]] = {}
    comparable: dict[str, Any] = {}
    for name, config, inputs, runs, goal in scenarios(quick):
        figures = await measure(engine, parse_graph(config), inputs, runs)
        ours[name] = figures
        print(row(name, figures, goal))
        if "port" not in name:  # graphon's DSL loader has no tool runtime: compare template graphs only
            comparable[name] = {"graph": config, "inputs": inputs}
    app = load_app(FIXTURE.read_text(encoding="utf-8"))
    name = "D simple_passthrough, 500 runs"
    ours[name] = await measure(engine, app.graph, {"query": "hello passthrough"}, 100 if quick else 500)
    print(row(name, ours[name], ">= 2,000 runs/s"))
    comparable[name] = {"graph": app.graph.to_dict(), "inputs": {"query": "hello passthrough"}}
    if not with_graphon:
        return
    runs = {
        key: (2 if key.startswith("C") else 5) if quick else (3 if key.startswith("C") else 20)
        for key in comparable
    }
    theirs = graphon_figures(comparable, runs)
    if theirs is None:
        print("\ngraphon side by side: unavailable (see the module docstring to create var/bench-graphon)")
        return
    print("\nside by side with graphon 0.8.0 (Dify's engine), same graphs, median per run:")
    for key, figures in theirs.items():
        mine = ours[key]["median_ms"]
        print(
            f"{key:38} graphon {figures['median_ms']:10.2f}ms   ours {mine:8.3f}ms   {figures['median_ms'] / mine:6.0f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument(
        "--graphon", action="store_true", help="also run graphon 0.8.0 when var/bench-graphon exists"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.quick, args.graphon))


if __name__ == "__main__":
    main()
