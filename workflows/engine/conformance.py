"""Conformance runner for `../shared/conformance` (Django-free; the management command wraps it).

Each case in `cases.json` is one run of one Dify fixture. The runner rebuilds the case's setup
(inputs, mocks, graph modifications, the restricted "builder" mode) from its fields, runs the
engine, and judges it by the normative checks of the corpus README: status, outputs, stream chunks,
the final-chunk flag and the explicit orderings stated in `notes`. Full event-type sequences are
compared too, but only reported as reference (they come from older Dify engine generations).

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
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from .dsl import graph_config_of
from .engine import Engine, RunOutcome
from .errors import GraphError, InputError
from .events import (
    Event,
    NodeStarted,
    NodeSucceeded,
    RunStarted,
    RunSucceeded,
    StreamChunk,
)
from .graph import GraphPolicy, canonical_digest, parse_graph
from .limits import Limits
from .mocks import Mocks, NodeMock
from .ports import HttpPortError, HttpRequest, HttpResponse, Ports

DEFAULT_SHARED = Path(__file__).resolve().parents[3] / "shared" / "conformance"
SYSTEM_DEFAULTS = {"user_id": "test_user", "app_id": "test_app", "workflow_id": "test_workflow", "files": []}
STATUS_OF_EVENT = {
    "RunSucceeded": "succeeded",
    "RunPartialSucceeded": "partial-succeeded",
    "RunFailed": "failed",
    "RunStopped": "aborted",
    "RunPaused": "paused",
}
# Restricted "builder" mode: every live capability is refused; HTTP answers come from recordings.
BUILDER_DENIED = frozenset({"code", "jinja", "models", "tools", "agents", "retrieval", "files"})


@dataclass
class CaseResult:
    case_id: str
    fixture: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)
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

    def lines(self, *, reference: bool = True) -> list[str]:
        out = [result.line() for result in self.results if not result.passed]
        if reference:
            out.extend(
                f"reference-only {result.case_id}: {note}"
                for result in self.results
                for note in result.reference
            )
        out.append(self.summary())
        return out


# -- recorded HTTP (builder mode) ------------------------------------------------------------------------


class RecordedHttpPort:
    """Serves one recorded response instead of the network; without one the request is blocked.

    `recorder` is called before a recording is served (it stands for Dify's receipt database);
    if it raises, the recording must not be returned.
    """

    def __init__(
        self, recording: Mapping[str, Any] | None, recorder: Callable[[HttpRequest], None] | None = None
    ):
        self.recording = recording
        self.recorder = recorder
        self.requests: list[HttpRequest] = []

    async def request(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        if self.recording is None:
            raise HttpPortError("execution_policy: http_fixture_missing")
        if self.recorder is not None:
            self.recorder(request)
        body = self.recording.get("body", "sample")
        return HttpResponse(
            status_code=int(self.recording.get("status_code", 201)),
            headers={"content-type": self.recording.get("content_type", "text/plain")},
            content=body.encode("utf-8") if isinstance(body, str) else bytes(body),
        )


# -- case setup ------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """Everything a case needs besides its JSON fields."""

    observers: list[Callable[[Event], Any]] = field(default_factory=list)
    stop_on_node_start: str | None = None
    mutate_after_admission: Callable[[dict[str, Any]], None] | None = None
    recorder: Callable[[HttpRequest], None] | None = None
    checks: list[Callable[[CaseContext], str | None]] = field(default_factory=list)


@dataclass
class CaseContext:
    case: dict[str, Any]
    outcome: RunOutcome | None
    http: RecordedHttpPort | None
    elapsed: float
    raw_graph: dict[str, Any]
    parsed_graph_dict: dict[str, Any] | None
    observer_log: dict[str, Any]

    @property
    def events(self) -> list[Event]:
        return self.outcome.events if self.outcome else []


class _StrategyEnum(StrEnum):
    DEFAULT_VALUE = "default-value"


class _ValueTypeEnum(StrEnum):
    NUMBER = "number"


@dataclass
class _DefaultValueModel:
    """Stands in for Dify's pydantic DefaultValue object: same JSON form, not a plain dict."""

    key: str
    type: str
    value: Any


def _throwing_observer(_event: Event) -> None:
    raise RuntimeError("observer is unavailable")


def _counting_observer(log: dict[str, Any], name: str) -> Callable[[Event], None]:
    def observe(event: Event) -> None:
        entry = log.setdefault(name, {"started": 0, "ended": 0, "nodes": 0, "successes": 0, "events": 0})
        entry["events"] += 1
        if isinstance(event, RunStarted):
            entry["started"] += 1
        elif isinstance(event, NodeStarted):
            entry["nodes"] += 1
        elif isinstance(event, NodeSucceeded):
            entry["successes"] += 1
        elif type(event).__name__ in STATUS_OF_EVENT:
            entry["ended"] += 1

    return observe


def _setup_for(case: dict[str, Any], log: dict[str, Any]) -> Setup:
    setup = Setup()
    factory = CASE_SETUPS.get(case["case_id"])
    if factory is not None:
        factory(setup, log)
    # "[True]" variants of the builder tests attach an observer that raises in every hook.
    if case["fixture"].startswith("builder_restricted/") and case["test"].endswith("[True]"):
        setup.observers.append(_throwing_observer)
    return setup


def _layer_basic(setup: Setup, log: dict[str, Any]) -> None:
    """case-028: a debug-logging layer sees >0 nodes and >0 successes."""
    setup.observers.append(_counting_observer(log, "layer"))
    setup.checks.append(
        lambda ctx: (
            None
            if ctx.observer_log.get("layer", {}).get("nodes", 0) > 0
            and ctx.observer_log["layer"]["successes"] > 0
            else "observer did not see node starts and successes"
        )
    )


def _layer_chaining(setup: Setup, log: dict[str, Any]) -> None:
    """case-029: two chained layers both see the graph start and end and the events."""
    setup.observers.extend([_counting_observer(log, "first"), _counting_observer(log, "second")])
    setup.checks.append(
        lambda ctx: (
            None
            if all(
                ctx.observer_log.get(name, {}).get("started") == 1 and ctx.observer_log[name]["ended"] == 1
                for name in ("first", "second")
            )
            else "an observer missed the run start or end"
        )
    )


def _layer_raising(setup: Setup, _log: dict[str, Any]) -> None:
    """case-030: a layer raising in every hook must not break the run."""
    setup.observers.append(_throwing_observer)


def _lost_lease(setup: Setup, _log: dict[str, Any]) -> None:
    """case-077: the LLM node is delayed until the debug lease is lost and the graph is aborted; the
    Answer successor must never run. Implemented as an external stop while the LLM is in flight."""
    setup.stop_on_node_start = "llm"
    setup.checks.append(
        lambda ctx: (
            "the Answer successor ran after the abort"
            if any(isinstance(e, NodeStarted) and e.node_id == "answer" for e in ctx.events)
            else None
        )
    )


def _changed_after_admission(setup: Setup, _log: dict[str, Any]) -> None:
    """case-095: after admission the raw node data changes (undeclared_metadata added)."""

    def mutate(config: dict[str, Any]) -> None:
        config["nodes"][1]["data"]["undeclared_metadata"] = {"nested": ["changed", 1]}

    setup.mutate_after_admission = mutate


def _replace_with(kind: str) -> Callable[[Setup, dict[str, Any]], None]:
    """cases 096-098: a value in the http node data is replaced by an enum/model object."""

    def factory(setup: Setup, _log: dict[str, Any]) -> None:
        def mutate(config: dict[str, Any]) -> None:
            data = config["nodes"][1]["data"]
            if kind == "strategy_enum":
                data["error_strategy"] = _StrategyEnum.DEFAULT_VALUE
            elif kind == "default_type_enum":
                data["default_value"][0]["type"] = _ValueTypeEnum.NUMBER
            else:
                data["default_value"][0] = _DefaultValueModel(**data["default_value"][0])

        setup.mutate_after_admission = mutate

    return factory


def _failing_recorder(setup: Setup, _log: dict[str, Any]) -> None:
    """case-099: the database write of the receipt fails, so the recording must not be served."""

    def recorder(_request: HttpRequest) -> None:
        raise RuntimeError("execution_recorder_failed: database append unavailable")

    setup.recorder = recorder


def _two_attempts(setup: Setup, _log: dict[str, Any]) -> None:
    """case-102: with one retry, two distinct blocked attempts are made and no call goes out."""
    setup.checks.append(
        lambda ctx: (
            None
            if ctx.http is not None and len(ctx.http.requests) == 2
            else f"expected 2 blocked HTTP attempts, saw {len(ctx.http.requests) if ctx.http else 0}"
        )
    )


def _extras_preserved(setup: Setup, _log: dict[str, Any]) -> None:
    """case-094: undeclared keys added to the graph, a node, its data and an edge are preserved."""

    def check(ctx: CaseContext) -> str | None:
        graph = ctx.parsed_graph_dict
        marker = {"nested": ["preserved", 1]}
        if graph is None:
            return "graph was not parsed"
        places = [graph, graph["nodes"][1], graph["nodes"][1]["data"], graph["edges"][0]]
        if all(place.get("undeclared_metadata") == marker for place in places):
            return None
        return "undeclared keys were not preserved by parse_graph/to_dict"

    setup.checks.append(check)


CASE_SETUPS: dict[str, Callable[[Setup, dict[str, Any]], None]] = {
    "case-028": _layer_basic,
    "case-029": _layer_chaining,
    "case-030": _layer_raising,
    "case-077": _lost_lease,
    "case-094": _extras_preserved,
    "case-095": _changed_after_admission,
    "case-096": _replace_with("strategy_enum"),
    "case-097": _replace_with("default_type_enum"),
    "case-098": _replace_with("default_model"),
    "case-099": _failing_recorder,
    "case-102": _two_attempts,
}


# -- placeholder resolution --------------------------------------------------------------------------------

_ITEM_HANDLER = re.compile(r"<custom handler: \[item, item \* 2\] where item = (\w+)\.(\w+)>")


def _mock_from(spec: Mapping[str, Any]) -> NodeMock:
    outputs = dict(spec)
    chunks = outputs.pop("chunks", None)
    for key, value in list(outputs.items()):
        match = _ITEM_HANDLER.fullmatch(value) if isinstance(value, str) else None
        if match:
            node_id, name = match.groups()

            def handler(ctx: Any, _key: str = key, _sel: tuple[str, str] = (node_id, name)) -> dict[str, Any]:
                item = ctx.pool.get(_sel)
                return {_key: [item, item * 2]}

            return NodeMock(handler=handler)
    return NodeMock(outputs=outputs or None, chunks=list(chunks) if chunks else None)


def _mocks_for(case: dict[str, Any], builder: bool) -> Mocks | None:
    nodes: dict[str, NodeMock] = {}
    types: dict[str, NodeMock] = {}
    for key, spec in (case.get("mock_node_outputs") or {}).items():
        if builder and key == "http":
            continue  # a recorded HTTP response, served through the HTTP port, not a mock
        if key == "<every llm node>":
            types["llm"] = _mock_from(spec)
        else:
            nodes[key] = _mock_from(spec)
    for node_id, message in (case.get("mock_node_errors") or {}).items():
        nodes.setdefault(node_id, NodeMock()).error = message
    for node_id, delay in (case.get("mock_delays") or {}).items():
        nodes.setdefault(node_id, NodeMock()).delay = float(delay)
    if not (case.get("use_auto_mock") or nodes or types):
        return None
    level = "config" if "MockConfig()" in case.get("notes", "") else "none"
    return Mocks(
        nodes=nodes,
        types=types,
        auto=bool(case.get("use_auto_mock")),
        level=level,
        llm_text=case.get("default_llm_text"),
    )


def _resolve_expected(expected: Any, query: Any) -> Any:
    if isinstance(expected, str) and expected in ("<same as input>", "<input>"):
        return query
    if isinstance(expected, dict):
        resolved = {}
        for key, value in expected.items():
            if key == "<'true' if 'hello' in input else 'false'>":
                key = "true" if "hello" in query else "false"
            resolved[key] = _resolve_expected(value, query)
        return resolved
    return expected


# -- property-based inputs -------------------------------------------------------------------------------

_ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    " \t\n\r!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "中文测试한국어日本語العربية",
    "🎉🌟💫⭐🔥💯🚀🎯",
    "\x00\x01\x07\x1b\x7f\u200b\u00a0\ufeff",
    "àéîõüçñß",
    "hello",
    "{{#}}[]",
]
_SPECIAL = [
    "",
    " " * 100,
    "\n\t\r\f\v",
    '{"json": "like", "data": [1, 2, 3]}',
    "SELECT * FROM users; DROP TABLE users;--",
    "<script>alert('xss')</script>",
    "../../etc/passwd",
    "🎉🌟💫⭐🔥💯🚀🎯",
    "中文测试한국어日本語العربية",
    "hello world",
    "goodbye world",
    "Hello",
    "HELLO",
    "hello" * 10,
    "say hello to everyone",
    "{{#1754154032319.query#}}",
]


def generate_texts(description: str, seed: str) -> list[str]:
    """Deterministic stand-in for the Hypothesis strategies named in `case_description`."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    count_match = re.search(r"max_examples=(\d+)", description)
    count = int(count_match.group(1)) if count_match else 20
    low, high = 0, 40
    bounds = re.search(r"(\d+)\s*(?:\.\.|-)\s*(\d+)", description)
    if bounds:
        low, high = int(bounds.group(1)), int(bounds.group(2))
    one_of = description.startswith("one_of")
    texts: list[str] = list(_SPECIAL) if one_of else []
    target = len(texts) + count
    while len(texts) < target:
        size = rng.randint(low, high)
        alphabet = "".join(rng.sample(_ALPHABETS, k=rng.randint(1, 3)))
        texts.append("".join(rng.choice(alphabet) for _ in range(size)))
    if not one_of and low == 0:
        texts[0] = ""  # the empty string is the classic edge case; always include it
    return texts


# -- judging ---------------------------------------------------------------------------------------------


def _outputs_exact(notes: str) -> bool:
    return any(
        "outputs" in sentence and ("exactly" in sentence or "whole-dict" in sentence)
        for sentence in re.split(r"[.;]\s", notes)
    )


def _first_index(events: list[Event], predicate: Callable[[Event], bool]) -> int | None:
    return next((index for index, event in enumerate(events) if predicate(event)), None)


def _chunk_checks(ctx: CaseContext) -> list[str]:
    """Normative chunk assertions: expected chunks and the orderings spelled out in notes."""
    case = ctx.case
    notes = case.get("notes", "")
    events = ctx.events
    chunks = [e for e in events if isinstance(e, StreamChunk)]
    texts = [c.chunk for c in chunks]
    failures: list[str] = []
    started = {e.node_id: e for e in events if isinstance(e, NodeStarted)}
    succeeded = {e.node_id: e for e in events if isinstance(e, NodeSucceeded)}
    expected = case.get("expected_stream_chunks")
    if expected is not None:
        literal_prefix = [item for item in expected if not (item.startswith("<") and item.endswith(">"))]
        placeholders = [item for item in expected if item.startswith("<") and item.endswith(">")]
        zip_compare = "compared with zip" in notes
        if not placeholders and not zip_compare and texts != expected:
            failures.append(f"stream chunks {texts!r} != {expected!r}")
        for index, item in enumerate(expected):
            if index >= len(texts):
                failures.append(f"missing chunk {index}: expected {item!r}")
                break
            if item.startswith("<template output"):
                templates = [n for n, e in succeeded.items() if e.node_type == "template-transform"]
                value = succeeded[templates[0]].outputs.get("output") if templates else None
                if texts[index] != value or chunks[index].node_type != "template-transform":
                    failures.append(f"chunk {index} should be the template output {value!r} as one chunk")
                elif chunks[index].id != started[chunks[index].node_id].id:
                    failures.append("template chunk is not attributed to the template's execution")
            elif item.startswith("<LLM"):
                rest = chunks[index:]
                if not rest or any(c.node_type != "llm" for c in rest):
                    failures.append("chunks after the separator must be LLM chunks")
                break
            elif texts[index] != item:
                failures.append(f"chunk {index}: {texts[index]!r} != {item!r}")
        if zip_compare:
            for index, (actual, wanted) in enumerate(zip(texts, expected, strict=False)):
                if actual != wanted:
                    failures.append(f"chunk {index}: {actual!r} != {wanted!r}")
        del literal_prefix
    count = re.search(r"[Ee]xactly (\d+|ONE|one) (?:NodeRunStreamChunkEvent|chunk)", notes)
    if count:
        wanted = 1 if count.group(1).lower() == "one" else int(count.group(1))
        if len(chunks) != wanted:
            failures.append(f"expected exactly {wanted} chunks, got {len(chunks)}: {texts!r}")
    counted = re.search(r"= (\d+) NodeRunStreamChunkEvents", notes)
    if counted and len(chunks) != int(counted.group(1)):
        failures.append(f"expected {counted.group(1)} chunks, got {len(chunks)}")
    at_least = re.search(r">= (\d+) chunk", notes)
    if at_least and len(chunks) < int(at_least.group(1)):
        failures.append(f"expected at least {at_least.group(1)} chunks, got {len(chunks)}")
    if "exactly one '\\n' chunk" in notes and texts.count("\n") != 1:
        failures.append(f"expected exactly one newline chunk, got {texts.count(chr(10))}")
    if chunks and ("Start node's execution" in notes or "Start node's NodeRunStartedEvent" in notes):
        starts = [e for e in events if isinstance(e, NodeStarted) and e.node_type == "start"]
        if not starts or chunks[0].id != starts[0].id:
            failures.append("first chunk is not attributed to the Start node's execution")
    end_named = "node_id of the End node" in notes or "from the End node" in notes
    if len(chunks) > 1 and end_named and chunks[1].node_type != "end":
        failures.append(f"second chunk should come from the End node, came from {chunks[1].node_id}")
    if re.search(r"first chunk (?:precedes|comes before) the LLM", notes):
        llm_done = _first_index(events, lambda e: isinstance(e, NodeSucceeded) and e.node_type == "llm")
        first = _first_index(events, lambda e: isinstance(e, StreamChunk))
        if first is None or (llm_done is not None and first > llm_done):
            failures.append("the first chunk does not precede the LLM's success event")
    if "between its Started and Succeeded" in notes and "Variable Assigner" in notes:
        begin = _first_index(events, lambda e: isinstance(e, NodeStarted) and e.node_type == "assigner")
        end = _first_index(events, lambda e: isinstance(e, NodeSucceeded) and e.node_type == "assigner")
        inside = [i for i, e in enumerate(events) if isinstance(e, StreamChunk)]
        if begin is None or end is None or not inside or not all(begin < i < end for i in inside):
            failures.append("the chunk is not emitted while the assigner runs")
    if "all between the LLM node's Started and Succeeded" in notes:
        begin = _first_index(events, lambda e: isinstance(e, NodeStarted) and e.node_type == "llm")
        end = _first_index(events, lambda e: isinstance(e, NodeSucceeded) and e.node_type == "llm")
        inside = [i for i, e in enumerate(events) if isinstance(e, StreamChunk)]
        if begin is None or end is None or not all(begin < i < end for i in inside):
            failures.append("stream chunks are not all inside the LLM's execution")
    if "Start node emits no stream chunk" in notes and any(c.node_type == "start" for c in chunks):
        failures.append("the Start node emitted a chunk")
    if re.search(r"last chunk has is_final", notes) and (not chunks or not chunks[-1].is_final):
        failures.append("the last chunk is not final")
    if case.get("expected_stream_text") is not None and "".join(texts) != case["expected_stream_text"]:
        failures.append(f"stream text {''.join(texts)!r} != {case['expected_stream_text']!r}")
    for container, text in (case.get("expected_stream_text_in_container") or {}).items():
        inside = "".join(c.chunk for c in chunks if container in (c.in_iteration_id, c.in_loop_id))
        if inside != text:
            failures.append(f"stream text inside {container} {inside!r} != {text!r}")
    return failures


def _judge(ctx: CaseContext, expected_outputs: Any, status: str | None, error: str | None) -> list[str]:
    case = ctx.case
    notes = case.get("notes", "")
    failures: list[str] = []
    wanted = case["expected_status"]
    if status != wanted:
        failures.append(f"status {status!r} != {wanted!r}" + (f" ({error})" if error else ""))
        return failures
    if wanted == "rejected-before-run":
        return failures
    events = ctx.events
    if not events or not isinstance(events[0], RunStarted):
        failures.append("first event is not RunStarted")
    if wanted == "succeeded" and not isinstance(events[-1], RunSucceeded):
        failures.append("last event is not RunSucceeded")
    if expected_outputs is not None:
        actual = ctx.outcome.outputs if ctx.outcome else {}
        if _outputs_exact(notes):
            if actual != expected_outputs:
                failures.append(f"outputs {actual!r} != {expected_outputs!r}")
        else:
            for key, value in expected_outputs.items():
                if key not in actual or actual[key] != value:
                    failures.append(f"outputs[{key!r}] = {actual.get(key, '<missing>')!r} != {value!r}")
    exceptions = re.search(r"exceptions_count(?: ==| is)? (\d+)", notes)
    if exceptions and ctx.outcome and ctx.outcome.exceptions_count != int(exceptions.group(1)):
        failures.append(f"exceptions_count {ctx.outcome.exceptions_count} != {exceptions.group(1)}")
    if wanted == "failed" and any(isinstance(e, RunSucceeded) for e in events):
        failures.append("a failed run emitted RunSucceeded")
    failures.extend(_chunk_checks(ctx))
    succeeded_ids = re.search(r"Succeeded node ids == \{([^}]*)\}", notes)
    if succeeded_ids:
        wanted_ids = {part.strip() for part in succeeded_ids.group(1).split(",")}
        seen = {e.node_id for e in events if isinstance(e, NodeSucceeded)}
        if seen != wanted_ids:
            failures.append(f"succeeded nodes {sorted(seen)} != {sorted(wanted_ids)}")
    if "execution_time >= 0.1" in notes and ctx.elapsed < 0.1:
        failures.append(f"run took {ctx.elapsed:.3f}s, expected >= 0.1s")
    if ("< 30 s" in notes or "< 30s" in notes) and ctx.elapsed >= 30:
        failures.append(f"run took {ctx.elapsed:.1f}s, expected < 30s")
    if "execution_time > 0" in notes and ctx.elapsed <= 0:
        failures.append("execution time is not positive")
    return failures


def _reference(ctx: CaseContext) -> list[str]:
    expected = ctx.case.get("expected_event_sequence")
    if not expected or ctx.outcome is None:
        return []
    actual = [type(e).dify_name for e in ctx.events]
    if actual == expected:
        return []
    return [f"event sequence differs: expected {expected}, got {actual}"]


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
    mocks = _mocks_for(case, builder)
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
        setup = _setup_for(case, log)
        query_input = inputs.get("query")
        ctx, status, error = await _run_once(case, document, query_input, inputs, setup, log)
        expected_outputs = _resolve_expected(case.get("expected_outputs"), query_input)
        failures = _judge(ctx, expected_outputs, status, error)
        failures.extend(message for check in setup.checks if (message := check(ctx)))
        result.runs += 1
        for note in _reference(ctx):
            if note not in result.reference:
                result.reference.append(note)
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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
