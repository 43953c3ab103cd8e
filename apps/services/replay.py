"""Deterministic replay of workflow runs (issue 16, part 3).

A run records its outside calls when its app has ``replay_log_enabled`` or the request asked for it
(``replay_log: true``): the runner wraps the run's ports with `workflows.engine.replay.RecordingPorts`
and `replay_log_save` stores the redacted log beside the run. `replay_run` re-runs the same workflow
version (the row the run recorded; published versions never change) with the recorded answers and
compares every node's outputs with the recorded node executions; `node_overrides` replaces nodes' data
first, and those nodes call the live ports (a changed node must really run). Nothing is written by a
replay. `replay_to_test_case` turns a run into a workflow test case in one call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apps.models import App, RunReplayLog
from apps.runners.files import resolve_file_inputs
from apps.runners.ports import ports_for_run
from apps.runners.replay_recording import json_safe as _json
from apps.runners.workflow_app import engine_limits, environment_of
from apps.services import workflow_tests
from dify_project.api.errors import ApiError, InvalidParam, NotFound
from workflows import engine as wf
from workflows.engine.replay import ReplayLog, replaying_ports
from workflows.models import WorkflowNodeExecution, WorkflowRun

if TYPE_CHECKING:
    pass


# -- recording -------------------------------------------------------------------------------------------


def replay_requested(body: Any) -> bool:
    """A request's ``replay_log`` flag (true, "true", 1)."""
    value = body.get("replay_log") if hasattr(body, "get") else None
    return value is True or str(value).lower() in ("true", "1")


# -- replaying ---------------------------------------------------------------------------------------------


@dataclass
class PreparedReplay:
    app: App
    run: WorkflowRun
    record: RunReplayLog
    graph: wf.Graph
    overrides: dict[str, dict[str, Any]]
    recorded_nodes: dict[str, dict[str, Any]]
    inputs: dict[str, Any]
    environment: list[dict[str, Any]]


def replay_prepare(*, app: App, run_id: Any, node_overrides: dict[str, Any] | None = None) -> PreparedReplay:
    """Every read a replay needs; 404 for a run of another app or workspace, 400 for a run without a log
    (the run is there, so a 404 would tell its owner it is not)."""
    try:
        run = WorkflowRun.objects.select_related("workflow").get(
            id=run_id, app_id=app.id, tenant_id=app.tenant_id
        )
    except (WorkflowRun.DoesNotExist, ValueError, TypeError):
        raise NotFound("Workflow run not found.") from None
    record = RunReplayLog.objects.filter(workflow_run_id=run.id, tenant_id=app.tenant_id).first()
    if record is None:
        raise ApiError(
            "This run has no replay log: enable replay_log_enabled on the app or pass replay_log.",
            code="replay_log_not_found",
        )
    overrides = dict(node_overrides or {})
    graph_dict = json.loads(json.dumps(run.workflow.graph))
    nodes = {n.get("id"): n for n in graph_dict.get("nodes") or []}
    for node_id, data in overrides.items():
        if node_id not in nodes:
            raise InvalidParam(
                f"node_overrides: no node '{node_id}' in the run's workflow.", params="node_overrides"
            )
        if not isinstance(data, dict):
            raise InvalidParam(f"node_overrides.{node_id} must be an object.", params="node_overrides")
        nodes[node_id]["data"] = {**(nodes[node_id].get("data") or {}), **data}
    try:
        graph = wf.parse_graph(graph_dict)
    except wf.GraphError as exc:
        raise InvalidParam(f"node_overrides do not validate: {exc}", params="node_overrides") from exc
    recorded_nodes: dict[str, dict[str, Any]] = {}
    for execution in WorkflowNodeExecution.objects.filter(workflow_run_id=run.id).order_by("index"):
        recorded_nodes[execution.node_id] = {"status": execution.status, "outputs": execution.outputs}
    return PreparedReplay(
        app=app,
        run=run,
        record=record,
        graph=graph,
        overrides=overrides,
        recorded_nodes=recorded_nodes,
        inputs=resolve_file_inputs(dict(record.inputs or {}), tenant_id=str(app.tenant_id)),
        environment=environment_of(run.workflow),
    )


_NODE_STATUS = {wf.NodeSucceeded: "succeeded", wf.NodeFailed: "failed", wf.NodeException: "exception"}


def _same(a: Any, b: Any) -> bool:
    return _json(a) == _json(b)


async def replay_run(prepared: PreparedReplay) -> dict[str, Any]:
    """Re-run with the recorded answers; per-node diff against the recorded run. Writes nothing."""
    app, run, record = prepared.app, prepared.run, prepared.record
    live = ports_for_run(
        tenant_id=str(app.tenant_id),
        user_id=str(run.created_by),
        user=str(record.system.get("user_id") or run.created_by),
        conversation_id=record.system.get("conversation_id"),
        source={"app_id": str(app.id), "workflow_run_id": str(run.id), "replay": True},
        history=None,
    )
    log = ReplayLog.from_dict(record.log)
    ports = replaying_ports(log, live=live, live_nodes=list(prepared.overrides), base=live)
    engine = wf.Engine(ports=ports, limits=engine_limits())
    outcome = await engine.run(
        prepared.graph,
        inputs=prepared.inputs,
        # the recorded sys.* (the run id included: a replay writes no rows, and the start node must match)
        system={**record.system, "files": []},
        environment=prepared.environment,
        conversation=list(record.conversation or []),
    ).collect()
    replayed: dict[str, dict[str, Any]] = {}
    for event in outcome.events:
        if isinstance(event, wf.NodeSucceeded | wf.NodeFailed | wf.NodeException):
            replayed[event.node_id] = {
                "status": _NODE_STATUS[type(event)],
                "outputs": event.outputs,
                "error": getattr(event, "error", None) or None,
            }
    nodes = []
    for node_id in dict.fromkeys([*prepared.recorded_nodes, *replayed]):
        before, after = prepared.recorded_nodes.get(node_id), replayed.get(node_id)
        matched = (
            before is not None
            and after is not None
            and _same(before["outputs"] or {}, after["outputs"] or {})
            and before["status"] == after["status"]
        )
        nodes.append(
            {
                "node_id": node_id,
                "matched": matched,
                "overridden": node_id in prepared.overrides,
                "recorded": before,
                "replayed": _json(after),
            }
        )
    status = _status_of(outcome)
    outputs_match = _same(run.outputs or {}, outcome.outputs or {}) and status == run.status
    return {
        "workflow_run_id": str(run.id),
        "workflow_id": str(run.workflow_id),
        "matched": outputs_match and all(n["matched"] for n in nodes),
        "outputs_match": outputs_match,
        "status": status,
        "recorded_status": run.status,
        "outputs": _json(outcome.outputs),
        "recorded_outputs": run.outputs,
        "nodes": nodes,
        "request_drift": log.drift,
        "node_overrides": list(prepared.overrides),
    }


def _status_of(outcome: Any) -> str:
    final = outcome.events[-1] if outcome.events else None
    return {
        wf.RunSucceeded: "succeeded",
        wf.RunPartialSucceeded: "partial-succeeded",
        wf.RunStopped: "stopped",
        wf.RunPaused: "paused",
    }.get(type(final), "failed")


def replay_to_test_case(*, app: App, run_id: Any, account_id: Any, name: str = "") -> Any:
    """A test case from a run: its inputs (and query), the recorded outputs of every node that reached
    the outside world as mocks, and the run's status and outputs as the assertions."""
    prepared = replay_prepare(app=app, run_id=run_id)
    run, record = prepared.run, prepared.record
    outside = dict.fromkeys(e["node_id"] for e in (record.log or {}).get("entries") or [] if e.get("node_id"))
    mocks = [
        {"node_id": node_id, "outputs": _json(prepared.recorded_nodes[node_id]["outputs"] or {})}
        for node_id in outside
        if node_id in prepared.recorded_nodes and prepared.recorded_nodes[node_id]["status"] == "succeeded"
    ]
    expect: dict[str, Any] = {"status": run.status}
    if run.outputs:
        expect["outputs"] = _json(run.outputs)
    if run.status == "failed" and run.error:
        expect["error_contains"] = run.error[:200]
    data = {
        "name": name or f"replay of run {str(run.id)[:8]}",
        "description": f"Made from workflow run {run.id}.",
        "inputs": dict(record.inputs or {}),
        "query": str(record.system.get("query") or ""),
        "mocks": mocks,
        "auto_mock": False,
        "expect": expect,
    }
    return workflow_tests.test_case_create(app=app, account_id=account_id, data=data)
