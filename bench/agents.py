"""Agent helpers benchmark (prints figures; not a test): ReAct parsing and tool-file URL signing.

    .venv/bin/python bench/agents.py

ReAct answers are parsed once per round, on the event loop, so a slow parse would delay every agent
round; a signed URL is made per tool file and checked per download. Figures: microseconds per call
(median of 5 batches), for a well-formed fenced action, LangChain's line format, a malformed blob (the
slowest path: every candidate tried and repaired) and a long final answer (20 KB of prose).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dify_project.settings")

import django

django.setup()

from apps.runners.react import parse  # noqa: E402
from files.signing import sign_tool_file, verify_tool_file  # noqa: E402

CASES = {
    "fenced action": 'Thought: compute\nAction:\n```json\n{"action": "eval_expression", "action_input": {"expression": "6*7"}}\n```',
    "line format": 'Thought: again\nAction: eval_expression\nAction Input: "2+3"',
    "malformed blob": "Thought: hmm {a {b} c} {'x': 1,} " * 20
    + 'Action: {"action": "eval", "action_input": {"ex',
    "long final answer": "Thought: done\nFinal Answer: " + ("The tide rises twice a day. " * 700),
}


def per_call(fn: Callable[[], object], n: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    print("command: .venv/bin/python bench/agents.py")
    for name, text in CASES.items():
        print(
            f"react parse, {name:<18} {per_call(lambda t=text: parse(t), 2000):9.1f} us/call ({len(text)} chars)"
        )
    url = sign_tool_file(tool_file_id="0b7a3c1e-9f2d-4c59-8f51-2f6d8b1a9e01", extension=".png")
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    print(
        f"sign a tool-file URL           {per_call(lambda: sign_tool_file(tool_file_id='x', extension='.png'), 20000):9.1f} us/call"
    )
    check = lambda: verify_tool_file(file_id="0b7a3c1e-9f2d-4c59-8f51-2f6d8b1a9e01", **query)  # noqa: E731
    assert check()
    print(f"verify a tool-file URL         {per_call(check, 20000):9.1f} us/call")


if __name__ == "__main__":
    main()
