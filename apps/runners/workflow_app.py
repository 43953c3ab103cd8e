"""Running workflow and chatflow (advanced-chat) apps through the engine.

``prepare_workflow_run`` does every database read a run needs (synchronous, short) and raises Dify's
4xx errors for bad input before anything is written. ``execute_workflow_run`` runs the engine on the
event loop, publishes Dify's SSE payloads to the run's event stream and has the recorder write the rows.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q

from apps import exceptions as errors
from apps.models import AppMode, Conversation, Message
from apps.runners.files import build_files, resolve_file_inputs
from apps.runners.pauses import record_pause
from apps.runners.ports import ports_for_run
from apps.runs import control
from apps.runs.bus import RunWriter
from apps.runs.errors import error_event, stream_error_body
from apps.runs.ids import RunIds
from apps.runs.payloads import RunResult, WorkflowRunRequest
from apps.runs.recorder import RunEnd, RunRecorder, RunRows, usage_dict
from apps.runs.wire import RunIdentity, WorkflowWire
from dify_project import crypto
from dify_project.api.errors import InvalidParam, NotFound
from workflows import engine as wf
from workflows.engine.events import RUN_END_EVENTS, NodeResultEvent
from workflows.engine.nodes.flow import StartNode
from workflows.models import ConversationVariable, Workflow, WorkflowPause

logger = logging.getLogger(__name__)

_GRAPH_CACHE_SIZE = 256
_graphs: OrderedDict[tuple[str, str, str], wf.Graph] = OrderedDict()


def graph_for(workflow: Workflow, root_id: str | None = None) -> wf.Graph:
    """The parsed graph of a workflow row, parsed once per version (published versions never change);
    ``root_id``: started from that root (a trigger) instead of the first one."""
    key = (
        str(workflow.id),
        workflow.updated_at.isoformat() if workflow.is_draft else workflow.version,
        root_id or "",
    )
    graph = _graphs.get(key)
    if graph is None:
        try:
            graph = wf.parse_graph(workflow.graph, root_id=root_id)
        except wf.GraphError as exc:
            raise errors.AppUnavailable(f"The workflow does not validate: {exc}") from exc
        _graphs[key] = graph
        if len(_graphs) > _GRAPH_CACHE_SIZE:
            _graphs.popitem(last=False)
    else:
        _graphs.move_to_end(key)
    return graph


def engine_limits() -> wf.Limits:
    return wf.Limits(
        max_steps=settings.WORKFLOW_MAX_EXECUTION_STEPS,
        max_time=float(settings.WORKFLOW_MAX_EXECUTION_TIME),
        max_depth=settings.WORKFLOW_CALL_MAX_DEPTH,
    )


def environment_of(workflow: Workflow) -> list[dict[str, Any]]:
    """Environment declarations with secret values decrypted for the run."""
    variables = []
    for item in workflow.environment_variables or []:
        value = item.get("value")
        if item.get("value_type") == "secret" and isinstance(value, str) and value.startswith(crypto.PREFIX):
            value = crypto.decrypt(value)
        variables.append({**item, "value": value})
    return variables


@dataclass
class PreparedRun:
    request: WorkflowRunRequest
    workflow: Workflow
    graph: wf.Graph
    identity: RunIdentity
    rows: RunRows
    system: dict[str, Any]
    inputs: dict[str, Any]
    environment: list[dict[str, Any]]
    conversation_vars: list[dict[str, Any]]
    user_key: str
    new_conversation: bool = False
    # A resumed run: the engine state saved at the pause, the human submissions, events to send first.
    resume_state: dict[str, Any] | None = None
    human_input: dict[str, dict[str, Any]] = field(default_factory=dict)
    opening_events: list[dict[str, Any]] = field(default_factory=list)
    # Insert the run's rows as it starts (streaming: the client hears of the run at once) or with its end.
    open_early: bool = True


def _workflow_for(request: WorkflowRunRequest) -> Workflow:
    if request.workflow is not None:
        return request.workflow
    app = request.app
    if request.workflow_id:
        workflow = Workflow.objects.filter(
            app_id=app.id, tenant_id=app.tenant_id, id=request.workflow_id
        ).first()
        if workflow is None:
            raise NotFound("Workflow not found.")
        if workflow.is_draft:
            raise InvalidParam("Cannot run a draft workflow version.", params="workflow_id")
        return workflow
    if app.workflow is None:
        raise errors.AppUnavailable()
    return app.workflow


def _conversation_for(request: WorkflowRunRequest) -> Conversation | None:
    if not request.conversation_id:
        return None
    filters = Q(id=request.conversation_id, app=request.app, is_deleted=False)
    if request.end_user is not None:
        filters &= Q(from_end_user=request.end_user)
    else:
        filters &= Q(from_account_id=request.account_id)
    conversation = Conversation.objects.filter(filters).first()
    if conversation is None:
        raise errors.ConversationNotFound()
    if conversation.status != "normal":
        raise errors.ConversationCompleted()
    return conversation


def prepare_workflow_run(request: WorkflowRunRequest, ids: RunIds | None = None) -> PreparedRun:
    """Load and check everything; raise 4xx before any row is written."""
    ids = ids or RunIds()
    app = request.app
    chat = app.mode == AppMode.ADVANCED_CHAT
    workflow = _workflow_for(request)
    graph = graph_for(workflow, request.root_node_id)
    tenant_id = str(app.tenant_id)
    run_id = ids.run_id
    task_id = ids.task_id
    creator_role = "end_user" if request.end_user is not None else "account"
    creator_id = str(request.end_user.id if request.end_user is not None else request.account_id)
    user_key = request.end_user.session_id if request.end_user is not None else str(request.account_id)
    files = build_files(request.files, tenant_id=tenant_id)
    inputs = resolve_file_inputs(request.inputs or {}, tenant_id=tenant_id)
    created_at = int(time.time())
    system: dict[str, Any] = {
        "user_id": user_key,
        "app_id": str(app.id),
        "workflow_id": str(workflow.id),
        "workflow_run_id": run_id,
        "workflow_execution_id": run_id,
        "files": files,
        "timestamp": created_at,
    }
    conversation = None
    new_conversation = None
    message = None
    conversation_vars: list[dict[str, Any]] = []
    new_variables: list[ConversationVariable] = []
    message_id = None
    conversation_id = None
    if chat:
        if not request.query or not str(request.query).strip():
            raise InvalidParam("query is required", params="query")
        conversation = _conversation_for(request)
        conversation_id = str(conversation.id) if conversation else ids.conversation_id
        if conversation is not None:
            # Later turns run with the inputs the conversation started with (Dify ignores new ones).
            inputs = resolve_file_inputs(conversation.inputs or {}, tenant_id=tenant_id)
        if conversation is None:
            new_conversation = Conversation(
                id=conversation_id,
                tenant_id=app.tenant_id,
                app=app,
                workflow_id=workflow.id,
                mode=app.mode,
                name="New conversation",
                inputs=_plain_inputs(request.inputs),
                invoke_from=request.invoke_from,
                from_source="api" if request.end_user is not None else "console",
                from_end_user=request.end_user,
                from_account_id=request.account_id,
            )
            declarations = workflow.conversation_variables or []
            conversation_vars = [dict(d) for d in declarations]
            new_variables = [
                ConversationVariable(
                    tenant_id=app.tenant_id,
                    app_id=app.id,
                    conversation_id=conversation_id,
                    variable_id=str(d.get("id") or d.get("name")),
                    name=d.get("name", ""),
                    value_type=d.get("value_type") or "string",
                    value=d.get("value"),
                    description=d.get("description") or "",
                )
                for d in declarations
            ]
        else:
            conversation_vars = _conversation_variables(conversation, workflow)
        message_id = ids.message_id
        message = Message(
            id=message_id,
            tenant_id=app.tenant_id,
            app=app,
            conversation_id=conversation_id,
            inputs=conversation.inputs if conversation else _plain_inputs(request.inputs),
            query=request.query,
            invoke_from=request.invoke_from,
            from_source="api" if request.end_user is not None else "console",
            from_end_user=request.end_user,
            from_account_id=request.account_id,
            workflow_run_id=run_id,
            app_mode=app.mode,
        )
        system.update(
            query=request.query,
            conversation_id=conversation_id,
            dialogue_count=(conversation.dialogue_count if conversation else 0) + 1,
        )
    identity = RunIdentity(
        task_id=task_id,
        app_mode=app.mode,
        workflow_id=str(workflow.id),
        workflow_run_id=run_id,
        created_at=created_at,
        created_by={"id": creator_id, "user": user_key}
        if request.end_user is not None
        else {"id": creator_id},
        inputs=_plain_inputs(request.inputs),
        conversation_id=conversation_id,
        message_id=message_id,
    )
    if conversation is None:
        check_start_inputs(graph, inputs)
    debugging = request.invoke_from == "debugger"
    rows = RunRows(
        tenant_id=tenant_id,
        app_id=str(app.id),
        workflow_id=str(workflow.id),
        workflow_type=workflow.type,
        workflow_version=workflow.version,
        triggered_from=request.triggered_from or ("debugging" if debugging else "app-run"),
        run_id=run_id,
        inputs=_plain_inputs(request.inputs),
        created_by_role=creator_role,
        created_by=creator_id,
        graph=workflow.graph if debugging else None,
        log_created_from=None if debugging or chat else request.invoke_from,
        conversation=new_conversation,
        conversation_id=conversation_id,
        message=message,
        new_conversation_variables=new_variables,
        message_files=files if message is not None else [],
    )
    return PreparedRun(
        request=request,
        workflow=workflow,
        graph=graph,
        identity=identity,
        rows=rows,
        system=system,
        inputs=inputs,
        environment=environment_of(workflow),
        conversation_vars=conversation_vars,
        user_key=user_key,
        new_conversation=new_conversation is not None,
    )


def check_start_inputs(graph: wf.Graph, inputs: dict[str, Any]) -> None:
    """The Start form's checks (required, type, length, options), before anything is written."""
    start = graph.nodes.get(graph.root_id)
    if isinstance(start, StartNode):
        try:
            start.prepare_inputs(inputs)
        except wf.InputError as exc:
            raise InvalidParam(str(exc)) from exc


def _plain_inputs(inputs: dict[str, Any] | None) -> dict[str, Any]:
    return dict(inputs or {})


def _conversation_variables(conversation: Conversation, workflow: Workflow) -> list[dict[str, Any]]:
    """Current values, typed by the workflow's declarations (a variable added since keeps its default)."""
    stored = {row.name: row for row in ConversationVariable.objects.filter(conversation_id=conversation.id)}
    result = []
    for declaration in workflow.conversation_variables or []:
        row = stored.get(declaration.get("name"))
        result.append({**declaration, "value": row.value if row is not None else declaration.get("value")})
    return result


async def execute_workflow_run(prepared: PreparedRun, writer: RunWriter) -> RunResult:
    """Run the engine, stream Dify's events into ``writer`` and record the run. Never raises."""
    identity = prepared.identity
    wire = WorkflowWire(identity)
    recorder = RunRecorder(prepared.rows)
    recorder.start(eager=prepared.open_early)
    app = prepared.request.app
    ports = ports_for_run(
        tenant_id=str(app.tenant_id),
        user_id=prepared.rows.created_by,
        user=prepared.user_key,
        conversation_id=identity.conversation_id,
        source={"app_id": str(app.id), "workflow_run_id": identity.workflow_run_id},
        history=None if prepared.request.conversation_id else prepared.request.history,
    )
    from apps.runners.replay_recording import replay_log_save, replay_recording_for

    recording = replay_recording_for(prepared, ports)  # None unless the app or request asked for it
    if recording is not None:
        ports = recording.ports
    engine = wf.Engine(ports=ports, limits=engine_limits())
    result: RunResult
    try:
        if prepared.resume_state is not None:
            run = engine.resume(prepared.graph, prepared.resume_state, human_input=prepared.human_input)
            wire.tally.steps = int(prepared.resume_state.get("steps", 0))
        else:
            run = engine.run(
                prepared.graph,
                inputs=prepared.inputs,
                system=prepared.system,
                environment=prepared.environment,
                conversation=prepared.conversation_vars,
                run_id=identity.workflow_run_id,
            )
    except wf.InputError as exc:
        # Inputs are checked by the engine before any event; surface it as Dify's invalid_param.
        return await _fail_before_start(prepared, writer, recorder, wire, str(exc))
    control.register_task(
        identity.task_id, run.stop, app_id=str(prepared.workflow.app_id), user_key=prepared.user_key
    )
    for payload in prepared.opening_events:
        writer.publish(payload)
    try:
        final: wf.Event | None = None
        async for event in run:
            for payload in wire.convert(event):
                writer.publish(payload)
            if isinstance(event, NodeResultEvent):
                record = wire.tally.nodes.get(event.id)
                if record is not None:
                    recorder.node_finished(record)
            if isinstance(event, RUN_END_EVENTS):
                final = event
        result = await _finish(prepared, writer, recorder, wire, final)
    except Exception as exc:
        logger.exception("run %s failed in the runner", identity.workflow_run_id)
        run.stop("internal error")
        result = await _crash(prepared, writer, recorder, wire, exc)
    finally:
        control.unregister_task(identity.task_id, app_id=str(prepared.workflow.app_id))
    if recording is not None:
        try:
            await replay_log_save(prepared, recording)
        except Exception:  # a lost replay log must not fail the run it describes
            logger.exception("could not store the replay log of run %s", identity.workflow_run_id)
    return result


async def _finish(
    prepared: PreparedRun,
    writer: RunWriter,
    recorder: RunRecorder,
    wire: WorkflowWire,
    final: wf.Event | None,
) -> RunResult:
    identity = prepared.identity
    exceptions_count = getattr(final, "exceptions_count", 0) or 0
    paused = None
    if isinstance(final, wf.RunSucceeded):
        status, outputs, error = "succeeded", final.outputs, None
    elif isinstance(final, wf.RunPartialSucceeded):
        status, outputs, error = "partial-succeeded", final.outputs, None
    elif isinstance(final, wf.RunStopped):
        status, outputs, error = "stopped", final.outputs, final.reason
    elif isinstance(final, wf.RunPaused):
        status, outputs, error = "paused", final.outputs, None
    else:
        status, outputs, error = (
            "failed",
            None,
            getattr(final, "error", None) or "The run ended unexpectedly.",
        )
    answer = "".join(wire.tally.answer)
    if identity.chat and outputs and isinstance(outputs.get("answer"), str):
        answer = outputs["answer"]
    end = RunEnd(
        status=status, outputs=outputs, error=error, exceptions_count=exceptions_count, answer=answer
    )
    await recorder.finish(end, wire.tally)
    if isinstance(final, wf.RunPaused):
        paused = await record_pause(prepared=prepared, final=final)
        for payload in paused["events"]:
            writer.publish(payload)
    finished = wire.workflow_finished(status, outputs, error, exceptions_count)
    usage = usage_dict(wire.tally, latency=time.time() - wire.tally.started_at)
    metadata = {"usage": usage}
    if wire.tally.retriever_resources:
        metadata["retriever_resources"] = wire.tally.retriever_resources
    if status == "paused":
        writer.publish({**identity.envelope("workflow_paused"), "data": paused["data"]})
    elif identity.chat:
        if status in ("succeeded", "partial-succeeded", "stopped"):
            writer.publish(
                {
                    **identity.envelope("message_end"),
                    "id": identity.message_id,
                    "metadata": {**metadata, "retriever_resources": wire.tally.retriever_resources},
                    "files": [],
                }
            )
            writer.publish(finished)
        else:
            writer.publish(finished)
            writer.publish(
                error_event(identity, code="internal_server_error", status=500, message=error or "")
            )
    else:
        writer.publish(finished)
    await writer.close()
    return RunResult(
        status=status,
        outputs=outputs,
        error=error,
        answer=answer,
        finished=finished["data"],
        usage=usage,
        metadata=metadata,
        paused=paused["data"] if paused else None,
    )


async def _fail_before_start(
    prepared: PreparedRun, writer: RunWriter, recorder: RunRecorder, wire: WorkflowWire, message: str
) -> RunResult:
    end = RunEnd(status="failed", outputs=None, error=message, exceptions_count=0)
    await recorder.finish(end, wire.tally)
    writer.publish(error_event(prepared.identity, code="invalid_param", status=400, message=message))
    await writer.close()
    finished = wire.finished_data("failed", None, message)
    return RunResult(
        status="failed",
        outputs=None,
        error=message,
        answer="",
        finished=finished,
        usage=usage_dict(wire.tally, latency=0),
        paused=None,
        metadata={"invalid_input": True},
    )


async def _crash(
    prepared: PreparedRun, writer: RunWriter, recorder: RunRecorder, wire: WorkflowWire, exc: Exception
) -> RunResult:
    code, status, message = stream_error_body(exc)
    end = RunEnd(status="failed", outputs=None, error=message, exceptions_count=0)
    try:
        await recorder.finish(end, wire.tally)
    except Exception:
        logger.exception("could not record the failed run %s", prepared.identity.workflow_run_id)
    writer.publish(wire.workflow_finished("failed", None, message))
    writer.publish(error_event(prepared.identity, code=code, status=status, message=message))
    await writer.close()
    return RunResult(
        status="failed",
        outputs=None,
        error=message,
        answer="",
        finished=wire.finished_data("failed", None, message),
        usage={},
        paused=None,
    )


def pause_for(run_id: str) -> WorkflowPause | None:
    return WorkflowPause.objects.filter(workflow_run_id=run_id).first()
