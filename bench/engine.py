"""Workflow engine benchmark (prints figures; not a test). No database needed.

    .venv/bin/python bench/engine.py [--quick] [--graphon]

Scenarios (issue 3):
  A  a chain of 100 template-transform nodes
  B  a fan-out of 50 parallel template branches into a variable aggregator
  C  an iteration over 1,000 items with a template inside, sequential and parallel
  D  the conformance fixture simple_passthrough_workflow.yml, run 500 times

For each: median wall time per run, microseconds per node executed, runs per second and peak memory
(tracemalloc, one run). With --graphon, the same graphs also run on Dify's engine (graphon 0.8.0)
in a separate Python 3.12 virtualenv under var/bench-graphon, when it exists, and the ratio is shown.
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

from workflows.engine import Engine, Limits, NodeStarted, parse_graph  # noqa: E402
from workflows.engine.dsl import load_app  # noqa: E402

FIXTURE = ROOT.parent / "shared" / "conformance" / "dsl" / "simple_passthrough_workflow.yml"
GRAPHON_PYTHON = ROOT / "var" / "bench-graphon" / "bin" / "python"
GRAPHON_SCRIPT = Path(__file__).resolve().parent / "graphon_side.py"


def node(node_id: str, data: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    wrapper: dict[str, Any] = {"id": node_id, "type": "custom", "data": data}
    if parent:
        wrapper["parentId"] = parent
    return wrapper


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {"id": f"{source}-{target}", "source": source, "target": target, "sourceHandle": handle}


def template(
    node_id: str, source: list[str], text: str = "{{ x }}", parent: str | None = None
) -> dict[str, Any]:
    data = {
        "type": "template-transform",
        "title": node_id,
        "template": text,
        "variables": [{"variable": "x", "value_selector": source}],
    }
    return node(node_id, data, parent)


def start(variables: list[str]) -> dict[str, Any]:
    return node(
        "start",
        {
            "type": "start",
            "title": "Start",
            "variables": [{"variable": v, "label": v, "type": "text-input"} for v in variables],
        },
    )


def end(selector: list[str]) -> dict[str, Any]:
    return node(
        "end", {"type": "end", "title": "End", "outputs": [{"variable": "out", "value_selector": selector}]}
    )


def chain_graph(length: int = 100) -> dict[str, Any]:
    nodes = [start(["query"])]
    edges = []
    previous = ["start", "query"]
    for index in range(length):
        node_id = f"t{index}"
        nodes.append(template(node_id, previous, "{{ x }}"))
        edges.append(edge(previous[0], node_id))
        previous = [node_id, "output"]
    nodes.append(end(previous))
    edges.append(edge(previous[0], "end"))
    return {"nodes": nodes, "edges": edges}


def fanout_graph(width: int = 50) -> dict[str, Any]:
    nodes = [start(["query"])]
    edges = []
    selectors = []
    for index in range(width):
        node_id = f"b{index}"
        nodes.append(template(node_id, ["start", "query"], f"branch {index}: {{{{ x }}}}"))
        edges.append(edge("start", node_id))
        edges.append(edge(node_id, "agg"))
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


def iteration_graph(parallel: bool) -> dict[str, Any]:
    iteration = node(
        "iter",
        {
            "type": "iteration",
            "title": "Iteration",
            "iterator_selector": ["start", "items"],
            "output_selector": ["inner", "output"],
            "start_node_id": "iterstart",
            "is_parallel": parallel,
            "parallel_nums": 10,
            "error_handle_mode": "terminated",
            "flatten_output": True,
        },
    )
    nodes = [
        start([]),
        iteration,
        node("iterstart", {"type": "iteration-start", "title": ""}, parent="iter"),
        template("inner", ["iter", "item"], "item {{ x }}", parent="iter"),
        end(["iter", "output"]),
    ]
    edges = [edge("start", "iter"), edge("iterstart", "inner"), edge("iter", "end")]
    return {"nodes": nodes, "edges": edges}


async def one_run(engine: Engine, graph: Any, inputs: dict[str, Any]) -> tuple[float, int]:
    began = time.perf_counter()
    nodes = 0
    async for event in engine.run(graph, inputs=inputs, validate_inputs=False):
        if isinstance(event, NodeStarted):
            nodes += 1
    return time.perf_counter() - began, nodes


async def measure(engine: Engine, graph: Any, inputs: dict[str, Any], runs: int) -> dict[str, float]:
    await one_run(engine, graph, inputs)  # warm-up: imports, caches
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
    return [
        ("A chain of 100 templates", chain_graph(), {"query": "hello"}, 20 if quick else 100, "<= 5 ms"),
        (
            "B fan-out of 50 into an aggregator",
            fanout_graph(),
            {"query": "hello"},
            20 if quick else 200,
            "<= 3 ms",
        ),
        (
            "C iteration 1,000 items, sequential",
            iteration_graph(False),
            {"items": items},
            3 if quick else 15,
            "<= 100 ms",
        ),
        (
            "C iteration 1,000 items, parallel",
            iteration_graph(True),
            {"items": items},
            3 if quick else 15,
            "<= 100 ms",
        ),
    ]


def graphon_figures(graphs: dict[str, Any], runs: dict[str, int]) -> dict[str, dict[str, float]] | None:
    if not GRAPHON_PYTHON.exists() or not GRAPHON_SCRIPT.exists():
        return None
    payload = json.dumps({"graphs": graphs, "runs": runs})
    try:
        completed = subprocess.run(
            [str(GRAPHON_PYTHON), str(GRAPHON_SCRIPT)],
            input=payload,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"graphon side-by-side skipped: {error}")
        return None
    if completed.returncode != 0:
        print(
            "graphon side-by-side failed:", completed.stderr.strip().splitlines()[-1:] or completed.returncode
        )
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


async def main_async(quick: bool, with_graphon: bool) -> None:
    engine = Engine(limits=Limits(max_steps=1_000_000))
    print(
        "command: .venv/bin/python bench/engine.py"
        + (" --quick" if quick else "")
        + (" --graphon" if with_graphon else "")
    )
    print(f"python {sys.version.split()[0]}; figures are per run, median of N runs after one warm-up\n")
    header = (
        f"{'scenario':40} {'median':>10} {'us/node':>9} {'runs/s':>9} {'peak mem':>10} {'nodes':>6}  goal"
    )
    print(header)
    print("-" * len(header))
    results: dict[str, dict[str, float]] = {}
    raw_graphs: dict[str, Any] = {}
    run_counts: dict[str, int] = {}
    for name, config, inputs, runs, goal in scenarios(quick):
        graph = parse_graph(config)
        figures = await measure(engine, graph, inputs, runs)
        results[name] = figures
        raw_graphs[name] = {"graph": config, "inputs": inputs}
        run_counts[name] = runs
        print(
            f"{name:40} {figures['median_ms']:8.2f}ms {figures['us_per_node']:9.1f} {figures['runs_per_s']:9.0f} "
            f"{figures['peak_kib']:8.0f}KiB {figures['nodes']:6d}  {goal}"
        )
    app = load_app(FIXTURE.read_text(encoding="utf-8"))
    runs = 100 if quick else 500
    figures = await measure(engine, app.graph, {"query": "hello passthrough"}, runs)
    name = "D simple_passthrough x500"
    results[name] = figures
    print(
        f"{name:40} {figures['median_ms']:8.3f}ms {figures['us_per_node']:9.1f} {figures['runs_per_s']:9.0f} "
        f"{figures['peak_kib']:8.0f}KiB {figures['nodes']:6d}  >= 2,000 runs/s"
    )
    if with_graphon:
        raw_graphs[name] = {"graph": app.graph.to_dict(), "inputs": {"query": "hello passthrough"}}
        run_counts[name] = runs
        theirs = graphon_figures(raw_graphs, {key: max(3, value // 5) for key, value in run_counts.items()})
        if theirs is None:
            print(
                "\ngraphon side-by-side: unavailable (create var/bench-graphon with Python 3.12 and "
                "`pip install graphon==0.8.0`)"
            )
        else:
            print("\nside by side with graphon 0.8.0 (Dify's engine), same graphs:")
            for key, ours in results.items():
                other = theirs.get(key)
                if other:
                    print(
                        f"{key:40} graphon {other['median_ms']:9.2f}ms  ours {ours['median_ms']:8.2f}ms  "
                        f"x{other['median_ms'] / ours['median_ms']:.0f} faster"
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
