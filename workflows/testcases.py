"""Workflow test cases (issue 16): what a case says, how it runs on the engine, how it is judged.

A case, as stored, exported in the DSL (``x-test-cases``, a key Dify ignores) and given to the console::

    name: greets by name
    inputs: {name: Ada}              # the Start form's values
    query: hello                     # chatflows: sys.query
    auto_mock: false                 # true: every node Dify auto-mocks (llm, tool, http-request...) is mocked
    mocks:                           # by node id (wins) or by node type
      - {node_id: llm, outputs: {text: "Hi Ada"}}
      - {node_type: http-request, error: "timeout"}
      - {node_id: slow, delay: 0.2, outputs: {...}}
    expect:
      status: succeeded              # default succeeded
      outputs: {greeting: "Hi Ada"}  # each given key must be equal (others are not checked)
      answer: "Hi Ada"               # the streamed answer, exactly
      answer_contains: "Ada"
      error_contains: "timeout"

Running uses the engine's mocking (``workflows.engine.mocks``): a mocked node never calls its port; every
other node runs for real with the ports the caller gives. Nothing here touches the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from workflows import engine as wf

DSL_KEY = "x-test-cases"
STATUSES = ("succeeded", "partial-succeeded", "failed", "stopped", "paused")
_MOCK_KEYS = {"node_id", "node_type", "outputs", "error", "delay", "chunks", "handle"}
_EXPECT_KEYS = {"status", "outputs", "answer", "answer_contains", "error_contains"}


class CaseError(ValueError):
    """A test case that does not make sense; the message names the field."""


@dataclass
class CaseSpec:
    name: str
    inputs: dict[str, Any] = field(default_factory=dict)
    query: str = ""
    mocks: list[dict[str, Any]] = field(default_factory=list)
    auto_mock: bool = False
    expect: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        data["inputs"] = self.inputs
        if self.query:
            data["query"] = self.query
        if self.auto_mock:
            data["auto_mock"] = True
        data["mocks"] = self.mocks
        data["expect"] = self.expect
        return data


def _mock(entry: Any, index: int) -> dict[str, Any]:
    where = f"mocks[{index}]"
    if not isinstance(entry, dict):
        raise CaseError(f"{where} must be an object.")
    unknown = set(entry) - _MOCK_KEYS
    if unknown:
        raise CaseError(f"{where}: unknown keys {sorted(unknown)}.")
    if bool(entry.get("node_id")) == bool(entry.get("node_type")):
        raise CaseError(f"{where} must name exactly one of node_id or node_type.")
    if entry.get("outputs") is not None and not isinstance(entry["outputs"], dict):
        raise CaseError(f"{where}.outputs must be an object.")
    if entry.get("error") is not None and not isinstance(entry["error"], str):
        raise CaseError(f"{where}.error must be a string.")
    delay = entry.get("delay", 0)
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 60:
        raise CaseError(f"{where}.delay must be a number of seconds between 0 and 60.")
    chunks = entry.get("chunks")
    if chunks is not None and not (isinstance(chunks, list) and all(isinstance(c, str) for c in chunks)):
        raise CaseError(f"{where}.chunks must be a list of strings.")
    return {key: value for key, value in entry.items() if value is not None}


def case_from_dict(data: Any) -> CaseSpec:
    """A case from its JSON/YAML form; raises CaseError naming what is wrong."""
    if not isinstance(data, dict):
        raise CaseError("A test case must be an object.")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise CaseError("name is required (at most 255 characters).")
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise CaseError("inputs must be an object.")
    query = data.get("query") or ""
    if not isinstance(query, str):
        raise CaseError("query must be a string.")
    mocks = data.get("mocks") or []
    if not isinstance(mocks, list):
        raise CaseError("mocks must be a list.")
    expect = data.get("expect") or {}
    if not isinstance(expect, dict):
        raise CaseError("expect must be an object.")
    unknown = set(expect) - _EXPECT_KEYS
    if unknown:
        raise CaseError(f"expect: unknown keys {sorted(unknown)}.")
    if "status" in expect and expect["status"] not in STATUSES:
        raise CaseError(f"expect.status must be one of {', '.join(STATUSES)}.")
    if "outputs" in expect and not isinstance(expect["outputs"], dict):
        raise CaseError("expect.outputs must be an object.")
    for key in ("answer", "answer_contains", "error_contains"):
        if key in expect and not isinstance(expect[key], str):
            raise CaseError(f"expect.{key} must be a string.")
    return CaseSpec(
        name=name.strip(),
        inputs=inputs,
        query=query,
        mocks=[_mock(entry, index) for index, entry in enumerate(mocks)],
        auto_mock=bool(data.get("auto_mock", False)),
        expect=expect,
        description=str(data.get("description") or ""),
    )


def mocks_of(spec: CaseSpec) -> wf.Mocks:
    nodes: dict[str, wf.NodeMock] = {}
    types: dict[str, wf.NodeMock] = {}
    for entry in spec.mocks:
        mock = wf.NodeMock(
            outputs=entry.get("outputs"),
            error=entry.get("error"),
            delay=float(entry.get("delay") or 0),
            chunks=entry.get("chunks"),
            handle=entry.get("handle"),
        )
        if entry.get("node_id"):
            nodes[str(entry["node_id"])] = mock
        else:
            types[str(entry["node_type"])] = mock
    return wf.Mocks(nodes=nodes, types=types, auto=spec.auto_mock, level="config")


@dataclass
class CaseOutcome:
    name: str
    passed: bool
    status: str
    outputs: dict[str, Any] | None
    answer: str
    error: str
    failures: list[str]
    elapsed: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "status": self.status,
            "outputs": self.outputs,
            "answer": self.answer,
            "error": self.error,
            "failures": self.failures,
            "elapsed_time": round(self.elapsed, 6),
        }


def judge(
    spec: CaseSpec, *, status: str, outputs: dict[str, Any] | None, answer: str, error: str
) -> list[str]:
    """What the run got wrong against ``spec.expect`` (empty when it passed)."""
    expect, failures = spec.expect, []
    wanted = expect.get("status", "succeeded")
    if status != wanted:
        failures.append(f"status: expected {wanted!r}, got {status!r}" + (f" ({error})" if error else ""))
    got = outputs or {}
    for key, value in (expect.get("outputs") or {}).items():
        if key not in got:
            failures.append(f"outputs.{key}: missing (outputs have {sorted(got)})")
        elif got[key] != value:
            failures.append(f"outputs.{key}: expected {value!r}, got {got[key]!r}")
    if "answer" in expect and answer != expect["answer"]:
        failures.append(f"answer: expected {expect['answer']!r}, got {answer!r}")
    if "answer_contains" in expect and expect["answer_contains"] not in answer:
        failures.append(f"answer: {answer!r} does not contain {expect['answer_contains']!r}")
    if "error_contains" in expect and expect["error_contains"] not in (error or ""):
        failures.append(f"error: {error!r} does not contain {expect['error_contains']!r}")
    return failures


async def run_case(
    spec: CaseSpec,
    *,
    graph: wf.Graph,
    ports: wf.Ports,
    limits: wf.Limits,
    system: dict[str, Any] | None = None,
    environment: Any = None,
    conversation: Any = None,
) -> CaseOutcome:
    """Run one case on the engine with its mocks and judge it. Never raises for a failing run."""
    started = time.perf_counter()
    engine = wf.Engine(ports=ports, limits=limits)
    system = {**(system or {}), "query": spec.query or None}
    try:
        run = engine.run(
            graph,
            inputs=spec.inputs,
            system=system,
            environment=environment,
            conversation=conversation,
            mocks=mocks_of(spec),
        )
        outcome = await run.collect()
        status, outputs, answer, error = outcome.status, outcome.outputs, outcome.answer, outcome.error or ""
    except wf.InputError as exc:
        status, outputs, answer, error = "failed", None, "", f"Invalid input: {exc}"
    failures = judge(spec, status=status, outputs=outputs, answer=answer, error=error)
    return CaseOutcome(
        name=spec.name,
        passed=not failures,
        status=status,
        outputs=outputs,
        answer=answer,
        error=error,
        failures=failures,
        elapsed=time.perf_counter() - started,
    )


def junit_xml(suite: str, outcomes: list[CaseOutcome]) -> str:
    """JUnit XML (the schema CI systems read: one ``testsuite``, a ``testcase`` per case)."""
    failed = sum(1 for o in outcomes if not o.passed)
    root = ElementTree.Element(
        "testsuite",
        name=suite,
        tests=str(len(outcomes)),
        failures=str(failed),
        errors="0",
        time=f"{sum(o.elapsed for o in outcomes):.6f}",
    )
    for outcome in outcomes:
        case = ElementTree.SubElement(
            root, "testcase", classname=suite, name=outcome.name, time=f"{outcome.elapsed:.6f}"
        )
        if not outcome.passed:
            failure = ElementTree.SubElement(case, "failure", message=outcome.failures[0])
            failure.text = "\n".join(outcome.failures)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)
