"""Harness mechanics described only in case notes, spelled out per case id (setup, never results)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..engine import RunOutcome
from ..events import Event, NodeStarted, NodeSucceeded, RunStarted
from ..ports import HttpPortError, HttpRequest, HttpResponse

STATUS_OF_EVENT = {
    "RunSucceeded": "succeeded",
    "RunPartialSucceeded": "partial-succeeded",
    "RunFailed": "failed",
    "RunStopped": "aborted",
    "RunPaused": "paused",
}

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


def setup_for(case: dict[str, Any], log: dict[str, Any]) -> Setup:
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
