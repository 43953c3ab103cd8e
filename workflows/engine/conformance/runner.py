"""Conformance runner for `../shared/conformance` (Django-free; the management command wraps it).

Each case in `cases.json` is one run of one Dify fixture. The runner rebuilds the case's setup
(inputs, mocks, graph modifications, the restricted "builder" mode) from its fields, runs the
engine, and judges it by the normative checks of the corpus README: status, outputs, stream chunks,
the final-chunk flag, the explicit orderings stated in `notes`, and the full event-type sequence where
a case records one (compared in the vocabulary of the older Dify engine that asserted it, see
`judge.event_sequence_failures`).

Some cases describe harness mechanics only in prose (an observer that raises, a lost debug lease,
a recorder whose database write fails, node data replaced by enum objects after admission). Those
setups are spelled out in `CASE_SETUPS`, keyed by case id, each with the sentence it implements;
expected results are never hard-coded: every verdict comes from running the engine.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..dsl import graph_config_of
from ..engine import Engine
from ..errors import GraphError, InputError
from ..events import Event, NodeStarted
from ..graph import GraphPolicy, canonical_digest, parse_graph
from ..limits import Limits
from ..mocks import Mocks, NodeMock
from ..ports import Ports
from .cases import generate_texts, mocks_for, resolve_expected
from .judge import judge_run
from .setups import STATUS_OF_EVENT, CaseContext, RecordedHttpPort, Setup, setup_for


def locate_shared() -> Path:
    """The shared conformance folder: ``CONFORMANCE_DIR`` if set, else ``../shared/conformance`` beside the
    repository, else ``/work/shared/conformance`` (a clone may live anywhere on the machine). When none
    holds a ``cases.json`` the first candidate is returned, so callers report a clear "not found"."""
    beside_repo = Path(__file__).resolve().parents[4] / "shared" / "conformance"
    candidates = [os.environ.get("CONFORMANCE_DIR"), beside_repo, "/work/shared/conformance"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "cases.json").is_file():
            return Path(candidate)
    return Path(os.environ.get("CONFORMANCE_DIR") or beside_repo)


DEFAULT_SHARED = locate_shared()
SYSTEM_DEFAULTS = {"user_id": "test_user", "app_id": "test_app", "workflow_id": "test_workflow", "files": []}
# Restricted "builder" mode: every live capability is refused; HTTP answers come from recordings.
BUILDER_DENIED = frozenset({"code", "jinja", "models", "tools", "agents", "retrieval", "files"})


@dataclass
class CaseResult:
    case_id: str
    fixture: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    runs: int = 0

    def line(self) -> str:
        return f"FAIL {self.case_id} ({self.fixture}): " + "; ".join(self.failures)


@dataclass
class Report:
    results: list[CaseResult]

    @property
    def passed(self) -> int:
        return sum(1 for result in self.results if result.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"

    def lines(self) -> list[str]:
        out = [result.line() for result in self.results if not result.passed]
        out.append(self.summary())
        return out


# -- running ---------------------------------------------------------------------------------------------


async def _run_once(
    case: dict[str, Any],
    document: dict[str, Any],
    query_input: Any,
    inputs: dict[str, Any],
    setup: Setup,
    log: dict[str, Any],
) -> tuple[CaseContext, str | None, str | None]:
    builder = case["fixture"].startswith("builder_restricted/")
    config = copy.deepcopy(graph_config_of(document))
    _apply_modifications(config, case.get("graph_modifications") or {})
    policy = None
    http: RecordedHttpPort | None = None
    if builder:
        digest = canonical_digest(config)  # admission: the reviewed graph's digest is recorded
        if setup.mutate_after_admission is not None:
            setup.mutate_after_admission(config)
        policy = GraphPolicy(
            denied_capabilities=BUILDER_DENIED, require_plain_json=True, expected_digest=digest
        )
        recording = (case.get("mock_node_outputs") or {}).get("http")
        http = RecordedHttpPort(recording, setup.recorder)
    ctx = CaseContext(case, None, http, 0.0, config, None, log)
    try:
        graph = parse_graph(config, policy=policy)
    except GraphError as error:
        return ctx, "rejected-before-run", str(error)
    ctx.parsed_graph_dict = graph.to_dict()
    workflow = document.get("workflow") or {}
    conversation = _conversation(
        workflow.get("conversation_variables") or [], case.get("conversation_variables")
    )
    system = dict(SYSTEM_DEFAULTS, query=case["query"] if case.get("query") is not None else "")
    engine = Engine(ports=Ports(http=http), limits=Limits())
    mocks = mocks_for(case, builder)
    observers = list(setup.observers)
    handle: dict[str, Any] = {}
    if setup.stop_on_node_start is not None:
        target = setup.stop_on_node_start
        # The node is kept in flight (a long mock delay) so the stop lands while it runs.
        mocks = mocks or Mocks()
        mocks.nodes = {**mocks.nodes, target: NodeMock(delay=5.0)}

        def stop_when_started(event: Event) -> None:
            if isinstance(event, NodeStarted) and event.node_id == target:
                handle["run"].stop("debug lease lost")

        observers.append(stop_when_started)
    started = time.perf_counter()
    try:
        run = engine.run(
            graph,
            inputs=inputs,
            system=system,
            environment=workflow.get("environment_variables") or [],
            conversation=conversation,
            mocks=mocks,
            observers=observers,
            validate_inputs=False,  # Dify's harness puts inputs straight into the pool
        )
    except InputError as error:
        return ctx, "rejected-before-run", str(error)
    handle["run"] = run
    outcome = await run.collect()
    ctx.outcome = outcome
    ctx.elapsed = time.perf_counter() - started
    final = type(outcome.events[-1]).__name__ if outcome.events else ""
    return ctx, STATUS_OF_EVENT.get(final), outcome.error


def _apply_modifications(config: dict[str, Any], modifications: Mapping[str, Any]) -> None:
    for key, changes in modifications.items():
        if key.startswith("<") and key.endswith(">"):
            for place in (part.strip() for part in key[1:-1].split(",")):
                target = _place(config, place)
                target.update(copy.deepcopy(changes))
            continue
        for node in config.get("nodes", []):
            if node.get("id") == key:
                node["data"].update(copy.deepcopy(changes))


def _place(config: dict[str, Any], place: str) -> dict[str, Any]:
    if place == "graph":
        return config
    match = re.fullmatch(r"(node|edge)\[(\d+)\](\.data)?", place)
    if not match:
        raise ValueError(f"unknown graph place {place!r}")
    collection = config["nodes" if match.group(1) == "node" else "edges"]
    target = collection[int(match.group(2))]
    return target["data"] if match.group(3) else target


def _conversation(
    declared: list[dict[str, Any]], overrides: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    variables = [dict(item) for item in declared]
    for item in variables:
        if overrides and item.get("name") in overrides:
            item["value"] = overrides[item["name"]]
    return variables


async def run_case(case: dict[str, Any], dsl_dir: Path) -> CaseResult:
    result = CaseResult(case["case_id"], case["fixture"], passed=True)
    document = yaml.safe_load((dsl_dir / case["fixture"]).read_text(encoding="utf-8"))
    inputs_spec = dict(case.get("inputs") or {})
    if case.get("property_based"):
        description = case.get("case_description") or ""
        samples = generate_texts(description, case["case_id"])
        input_sets = [{**inputs_spec, "query": text} for text in samples]
    else:
        input_sets = [inputs_spec]
    for inputs in input_sets:
        log: dict[str, Any] = {}
        setup = setup_for(case, log)
        query_input = inputs.get("query")
        ctx, status, error = await _run_once(case, document, query_input, inputs, setup, log)
        expected_outputs = resolve_expected(case.get("expected_outputs"), query_input)
        failures = judge_run(ctx, expected_outputs, status, error)
        failures.extend(message for check in setup.checks if (message := check(ctx)))
        result.runs += 1
        if failures:
            result.passed = False
            prefix = (
                f"input {json.dumps(query_input, ensure_ascii=False)[:60]}: "
                if case.get("property_based")
                else ""
            )
            result.failures.extend(prefix + failure for failure in failures)
            break
    return result


async def run_all(cases: list[dict[str, Any]], dsl_dir: Path) -> Report:
    return Report([await run_case(case, dsl_dir) for case in cases])


def run_conformance(
    cases_path: str | Path | None = None,
    dsl_dir: str | Path | None = None,
    *,
    only: set[str] | None = None,
) -> Report:
    cases_path = Path(cases_path) if cases_path else DEFAULT_SHARED / "cases.json"
    dsl_dir = Path(dsl_dir) if dsl_dir else DEFAULT_SHARED / "dsl"
    cases = json.loads(cases_path.read_text(encoding="utf-8"))
    if only:
        cases = [case for case in cases if case["case_id"] in only]
    # Some cases attach observers that raise on purpose; their warnings are expected noise here.
    executor_logger = logging.getLogger("workflows.engine.executor")
    previous = executor_logger.level
    executor_logger.setLevel(logging.ERROR)
    try:
        return asyncio.run(run_all(cases, dsl_dir))
    finally:
        executor_logger.setLevel(previous)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Run the Dify workflow conformance cases.")
    parser.add_argument("--cases", default=None)
    parser.add_argument("--dsl", default=None)
    parser.add_argument("--case", action="append", default=None, help="run only this case id (repeatable)")
    args = parser.parse_args(argv)
    report = run_conformance(args.cases, args.dsl, only=set(args.case) if args.case else None)
    for line in report.lines():
        print(line)  # noqa: T201 - command-line output
    return 0 if report.failed == 0 else 1
