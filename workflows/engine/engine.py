"""Public entry points: `Engine.run`, `Engine.resume`, `Engine.run_node`, and the `Run` handle."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError, GraphIssue, InputError
from .events import (
    Event,
    NodeFailed,
    NodeSucceeded,
    RunFailed,
    RunPartialSucceeded,
    RunPaused,
    RunStarted,
    RunStopped,
    RunSucceeded,
    StreamChunk,
)
from .executor import Frame, RunState
from .graph import Graph, Scope
from .limits import Limits
from .mocks import Mocks
from .nodes.base import NodeResult
from .nodes.flow import StartNode, TriggerNode
from .pool import CONVERSATION, ENVIRONMENT, SYSTEM, VariablePool
from .ports import Ports
from .values import coerce_declared, from_plain, normalize, to_plain

logger = logging.getLogger(__name__)

STATE_VERSION = 1

Variables = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """Summary of a finished run (see `Run.collect`)."""

    status: str  # succeeded | partial-succeeded | failed | stopped | paused
    outputs: dict[str, Any]
    events: list[Event]
    error: str | None = None
    exceptions_count: int = 0
    state: dict[str, Any] | None = None  # set when paused

    @property
    def answer(self) -> str:
        return "".join(e.chunk for e in self.events if isinstance(e, StreamChunk))


class Run:
    """An async iterator of events for one run; also the handle to stop it.

    Iterating starts the run (on the running event loop). Events are buffered, so a slow reader
    never slows the engine. `stop()` may be called from any coroutine on the same loop.
    """

    def __init__(self, state: RunState, root: Frame, start: Sequence[str] | None, reason: str) -> None:
        self._state = state
        self._root = root
        self._start_nodes = start
        self._reason = reason
        self._task: asyncio.Task[None] | None = None
        self._finished = False
        self.final_event: Event | None = None

    @property
    def run_id(self) -> str:
        return self._state.run_id

    @property
    def finished(self) -> bool:
        return self._finished

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._main())

    def stop(self, reason: str = "stopped by user") -> None:
        """Stop the run: in-flight nodes are cancelled, nothing new starts, RunStopped is emitted."""
        self._state.request_stop(reason)

    def pause(self, reason: str = "paused by user") -> None:
        """Pause between nodes (Dify's `pause` command): running nodes finish, nothing new starts, and the
        run ends with `RunPaused`, whose state `Engine.resume` continues from."""
        state = self._state
        if not state.pause_requested:
            state.pause_requested = True
            state.pause_reasons.append({"type": "requested", "reason": reason})
            self._root.wake()

    def update_variable(self, selector: Sequence[str], value: Any) -> None:
        """Set a variable while the run goes on (Dify's `update_variables` command), e.g. a conversation
        variable edited in the console. Nodes that start afterwards see the new value."""
        if len(selector) != 2:
            raise ValueError(f"a variable is addressed by [node_id, name], got {list(selector)}")
        self._root.pool.set(selector[0], selector[1], normalize(value))

    def __aiter__(self) -> Run:
        return self

    async def __anext__(self) -> Event:
        state = self._state
        while True:
            if state.sink:
                return state.sink.popleft()
            if self._finished:
                raise StopAsyncIteration
            self.start()
            state.reader_wakeup.clear()
            state.reader_waiting = True
            await state.reader_wakeup.wait()

    async def collect(self) -> RunOutcome:
        """Consume every event and summarise the run."""
        events = [event async for event in self]
        final = events[-1] if events else None
        status, outputs, error, paused_state = "failed", {}, None, None
        if isinstance(final, RunSucceeded):
            status, outputs = "succeeded", final.outputs
        elif isinstance(final, RunPartialSucceeded):
            status, outputs = "partial-succeeded", final.outputs
        elif isinstance(final, RunFailed):
            error = final.error
        elif isinstance(final, RunStopped):
            status, outputs, error = "stopped", final.outputs, final.reason
        elif isinstance(final, RunPaused):
            status, outputs, paused_state = "paused", final.outputs, final.state
        return RunOutcome(status, outputs, events, error, self._state.exceptions_count, paused_state)

    async def _main(self) -> None:
        state = self._state
        root = self._root
        limits = state.limits
        timer: asyncio.TimerHandle | None = None
        try:
            state.emit(RunStarted(run_id=state.run_id, reason=self._reason))
            if state.call_depth > limits.max_depth:
                self._end(
                    RunFailed(
                        error=f"Max workflow call depth {limits.max_depth} reached.", exceptions_count=0
                    )
                )
                return
            loop = asyncio.get_running_loop()
            timer = loop.call_later(
                max(0.0, limits.max_time - (time.perf_counter() - state.started)),
                lambda: state.request_stop(
                    f"Maximum execution time exceeded: {time.perf_counter() - state.started:.2f}s > {limits.max_time}s"
                ),
            )
            await root.execute(self._start_nodes)
        except asyncio.CancelledError:
            state.stop_reason = state.stop_reason or "cancelled"
        except Exception as error:  # an engine bug must end the run cleanly, never hang the reader
            logger.exception("workflow run %s crashed", state.run_id)
            self._end(RunFailed(error=f"internal error: {error}", exceptions_count=state.exceptions_count))
            return
        finally:
            if timer is not None:
                timer.cancel()
        outputs = dict(root.response_outputs)
        if state.stop_reason is not None:
            self._end(RunStopped(reason=state.stop_reason, outputs=outputs))
        elif root.failure is not None:
            node_id, error, _ = root.failure
            self._end(
                RunFailed(error=error, exceptions_count=state.exceptions_count, node_id=node_id or None)
            )
        elif state.pause_requested:
            self._end(
                RunPaused(reasons=list(state.pause_reasons), outputs=outputs, state=dump_state(state, root))
            )
        elif state.exceptions_count:
            self._end(RunPartialSucceeded(outputs=outputs, exceptions_count=state.exceptions_count))
        else:
            self._end(RunSucceeded(outputs=outputs))

    def _end(self, event: Event) -> None:
        self.final_event = event
        self._state.emit(event)
        self._finished = True
        self._state.reader_wakeup.set()


def dump_state(state: RunState, root: Frame) -> dict[str, Any]:
    """Everything needed to resume a paused run, as plain JSON."""
    return {
        "version": STATE_VERSION,
        "run_id": state.run_id,
        "graph_digest": state.graph.digest,
        "pool": root.pool.to_dict(),
        "exceptions_count": state.exceptions_count,
        "steps": state.steps,
        "call_depth": state.call_depth,
        "reasons": to_plain(state.pause_reasons),
        "frame": {
            "node_states": dict(root.node_states),
            "edge_states": dict(root.edge_states),
            "remaining": dict(root.remaining),
            "has_taken": sorted(root.has_taken),
            "skipped": sorted(root.skipped),
            "ready": list(root.ready),
            "paused": list(root.paused_nodes),
            "exec_ids": dict(root.exec_ids),
            "response_outputs": to_plain(root.response_outputs),
        },
        "coordinator": root.coordinator.dump() if root.coordinator is not None else None,
    }


def _variables(values: Variables) -> tuple[dict[str, Any], dict[str, str]]:
    """Accept `{name: value}` or DSL declarations `[{name, value, value_type}]`."""
    if values is None:
        return {}, {}
    if isinstance(values, Mapping):
        return {name: normalize(value) for name, value in values.items()}, {}
    resolved: dict[str, Any] = {}
    types: dict[str, str] = {}
    for item in values:
        name = item.get("name") or item.get("variable")
        if not isinstance(name, str):
            raise InputError(f"variable declaration without a name: {item!r}")
        kind = item.get("value_type") or "string"
        types[name] = kind
        resolved[name] = coerce_declared(kind, item.get("value"))
    return resolved, types


def build_pool(
    graph: Graph,
    *,
    inputs: Mapping[str, Any] | None,
    system: Mapping[str, Any] | None,
    environment: Variables,
    conversation: Variables,
    validate_inputs: bool = True,
) -> VariablePool:
    pool = VariablePool()
    system_values = {"files": []}
    system_values.update({key: value for key, value in (system or {}).items() if value is not None})
    for name, value in system_values.items():
        pool.set(SYSTEM, name, normalize(value))
    env_values, env_types = _variables(environment)
    for name, value in env_values.items():
        pool.set(ENVIRONMENT, name, value, env_types.get(name))
    conv_values, conv_types = _variables(conversation)
    for name, value in conv_values.items():
        pool.set(CONVERSATION, name, value, conv_types.get(name))
    start = graph.nodes.get(graph.root_id)
    user_inputs = dict(inputs or {})
    if isinstance(start, StartNode):
        prepared = (
            start.prepare_inputs(user_inputs)
            if validate_inputs
            else {name: normalize(value) for name, value in user_inputs.items()}
        )
        for name, value in prepared.items():
            pool.set(graph.root_id, name, value)
    elif isinstance(start, TriggerNode):
        for name, value in user_inputs.items():
            pool.set(graph.root_id, name, normalize(value))
    return pool


@dataclass
class Engine:
    """Runs graphs. Holds the defaults (ports, limits) a Django service configures once."""

    ports: Ports = field(default_factory=Ports)
    limits: Limits = field(default_factory=Limits)

    def run(
        self,
        graph: Graph,
        *,
        inputs: Mapping[str, Any] | None = None,
        system: Mapping[str, Any] | None = None,
        environment: Variables = None,
        conversation: Variables = None,
        ports: Ports | None = None,
        mocks: Mocks | None = None,
        limits: Limits | None = None,
        observers: Sequence[Callable[[Event], Any]] = (),
        call_depth: int = 0,
        run_id: str | None = None,
        validate_inputs: bool = True,
    ) -> Run:
        """Start a run. Raises InputError (before any event) when `inputs` do not fit the Start form.

        `system` holds `sys.*` values (query, files, conversation_id, user_id, app_id, workflow_id,
        workflow_run_id, dialogue_count, ...); None values are omitted. `environment` and
        `conversation` take `{name: value}` or the DSL's declaration lists (which carry types).
        """
        pool = build_pool(
            graph,
            inputs=inputs,
            system=system,
            environment=environment,
            conversation=conversation,
            validate_inputs=validate_inputs,
        )
        state = RunState(
            run_id=run_id or str(uuid.uuid4()),
            graph=graph,
            ports=ports or self.ports,
            limits=limits or self.limits,
            mocks=mocks,
            observers=observers,
            call_depth=call_depth,
        )
        root = Frame(state, graph.root_scope, pool)
        return Run(state, root, None, "initial")

    def resume(
        self,
        graph: Graph,
        saved: Mapping[str, Any],
        *,
        human_input: Mapping[str, Mapping[str, Any]] | None = None,
        ports: Ports | None = None,
        mocks: Mocks | None = None,
        limits: Limits | None = None,
        observers: Sequence[Callable[[Event], Any]] = (),
    ) -> Run:
        """Continue a paused run from `RunPaused.state`.

        `human_input` maps a paused human-input node id to its submission:
        `{"action": "<action id>", "inputs": {...}}` or `{"expired": True}`.
        """
        if saved.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported paused-state version {saved.get('version')!r}")
        if saved.get("graph_digest") != graph.digest:
            raise GraphError(GraphIssue("BINDING_MISMATCH", "the graph changed since the run was paused"))
        state = RunState(
            run_id=saved["run_id"],
            graph=graph,
            ports=ports or self.ports,
            limits=limits or self.limits,
            mocks=mocks,
            observers=observers,
            call_depth=int(saved.get("call_depth", 0)),
            human_submissions={key: dict(value) for key, value in (human_input or {}).items()},
        )
        state.exceptions_count = int(saved.get("exceptions_count", 0))
        state.steps = int(saved.get("steps", 0))
        pool = VariablePool.from_dict(saved["pool"])
        root = Frame(state, graph.root_scope, pool)
        frame_state = saved["frame"]
        root.node_states = dict(frame_state["node_states"])
        root.edge_states = dict(frame_state["edge_states"])
        root.remaining = {key: int(value) for key, value in frame_state["remaining"].items()}
        root.has_taken = set(frame_state["has_taken"])
        root.skipped = set(frame_state["skipped"])
        root.exec_ids = dict(frame_state["exec_ids"])
        root.response_outputs = from_plain(frame_state["response_outputs"])
        if root.coordinator is not None and saved.get("coordinator"):
            root.coordinator.load(saved["coordinator"])
        start = [*frame_state["paused"], *frame_state["ready"]]
        for node_id in frame_state["paused"]:
            root.exec_ids.pop(node_id, None)  # the re-run is a new execution
        return Run(state, root, start, "resumption")

    async def run_node(
        self,
        graph: Graph,
        node_id: str,
        *,
        variables: Mapping[str | tuple[str, ...], Any] | None = None,
        system: Mapping[str, Any] | None = None,
        environment: Variables = None,
        conversation: Variables = None,
        ports: Ports | None = None,
        mocks: Mocks | None = None,
        limits: Limits | None = None,
    ) -> tuple[NodeResult | None, list[Event]]:
        """Run one node alone (the console's "run this node"), with the variables it reads given.

        `variables` maps selectors (`"node_id.name"` or a tuple) to values. Returns the node's
        result (None if it did not finish) and every event, raw stream chunks included.
        """
        if node_id not in graph.nodes:
            raise KeyError(f"node '{node_id}' is not in the graph")
        pool = build_pool(
            graph,
            inputs=None,
            system=system,
            environment=environment,
            conversation=conversation,
            validate_inputs=False,
        )
        for key, value in (variables or {}).items():
            selector = tuple(key.split(".")) if isinstance(key, str) else tuple(key)
            if len(selector) != 2:
                raise ValueError(f"variables are addressed by 'node_id.name', got {key!r}")
            pool.set(selector[0], selector[1], normalize(value))
        state = RunState(
            run_id=str(uuid.uuid4()),
            graph=graph,
            ports=ports or self.ports,
            limits=limits or self.limits,
            mocks=mocks,
            observers=(),
            call_depth=0,
        )
        state.pass_chunks = True
        node = graph.nodes[node_id]
        scope = Scope(
            container_id=node.scope,
            root_id=node_id,
            node_ids=(node_id,),
            out_edges={node_id: ()},
            in_edges={node_id: ()},
            in_degree={node_id: 0},
            response_plans={},
            blocking=frozenset(),
        )
        frame = Frame(state, scope, pool)
        run = Run(state, frame, None, "single-node")
        outcome = await run.collect()
        result: NodeResult | None = None
        for event in outcome.events:
            if isinstance(event, NodeSucceeded) and event.node_id == node_id:
                result = NodeResult(
                    outputs=event.outputs,
                    inputs=event.inputs,
                    process_data=event.process_data,
                    handle=event.edge_handle,
                    metadata=event.metadata,
                )
            elif isinstance(event, NodeFailed) and event.node_id == node_id:
                result = NodeResult.failed(
                    event.error,
                    event.error_type,
                    inputs=event.inputs,
                    process_data=event.process_data,
                    outputs=event.outputs,
                )
        return result, outcome.events
