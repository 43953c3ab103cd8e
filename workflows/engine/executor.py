"""The asyncio executor: frames, edge decisions, error strategies, containers, limits, pause/stop.

Design for speed (the goal is a few tens of microseconds of engine overhead per node):

* A *frame* runs one scope (the root graph, one iteration item, one loop round). It keeps a ready
  deque and per-node counters of undecided incoming edges, so deciding readiness is O(edges).
* Nodes that need no I/O (start, end, answer, if-else, template-transform, assigners, ...) run
  inline in the frame's coroutine: no task, no thread hand-off, no polling. Only nodes that await a
  port (models, HTTP, code, tools) and containers run as asyncio tasks, bounded by a semaphore.
* All run state is mutated on the event loop by the frame that owns it; node tasks hand their
  results back through the frame's `done` deque, so there are no locks.
* Events go to a deque drained by the run's async iterator; the engine never waits for readers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .containers import LoopControl, run_iteration, run_loop
from .errors import NodeError
from .events import (
    AgentLog,
    Event,
    NodeException,
    NodeFailed,
    NodePaused,
    NodeRetry,
    NodeStarted,
    NodeSucceeded,
    ReasoningChunk,
    RetrieverResources,
    StreamChunk,
    VariableUpdated,
)
from .graph import Graph, Scope
from .limits import Limits
from .mocks import Mocks, NodeMock
from .nodes.base import BRANCH, CONTAINER, FAILED, PAUSED, RESPONSE, SUCCEEDED, Node, NodeContext, NodeResult
from .nodes.containers import IterationNode, LoopNode
from .nodes.flow import LoopEndNode
from .pool import VariablePool
from .ports import Ports, current_node_id
from .streaming import ResponseCoordinator

logger = logging.getLogger(__name__)

_MISSING = object()
YIELD_EVERY = 64  # inline node executions between voluntary yields to the event loop


class RunState:
    """State shared by every frame of one run."""

    def __init__(
        self,
        *,
        run_id: str,
        graph: Graph,
        ports: Ports,
        limits: Limits,
        mocks: Mocks | None,
        observers: Sequence[Callable[[Event], Any]],
        call_depth: int,
        human_submissions: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self.run_id = run_id
        self.graph = graph
        self.ports = ports
        self.limits = limits
        self.mocks = mocks
        self.observers = tuple(observers)
        self.call_depth = call_depth
        self.human_submissions: Mapping[str, dict[str, Any]] = human_submissions or {}
        self.sink: deque[Event] = deque()
        self.reader_waiting = False
        self.reader_wakeup = asyncio.Event()
        self.exceptions_count = 0
        self.steps = 0
        self.stop_reason: str | None = None
        self.pause_requested = False
        self.pause_reasons: list[dict[str, Any]] = []
        self.started = time.perf_counter()
        self.frames: set[Frame] = set()
        self.pass_chunks = False
        self.yielded_at = 0
        # Execution ids: this run's random UUID prefix plus a counter. Unique like uuid4, and cheaper
        # than drawing 16 random bytes for every node execution.
        self._id_prefix = str(uuid.uuid4())[:24]
        self._id_counter = 0
        self._semaphore: asyncio.Semaphore | None = None

    def new_execution_id(self) -> str:
        self._id_counter += 1
        return f"{self._id_prefix}{self._id_counter:012x}"

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(max(1, self.limits.max_parallel))
        return self._semaphore

    def emit(self, event: Event) -> None:
        for observer in self.observers:
            try:
                observer(event)
            except Exception as error:  # an observer must never break the run (Dify's layer contract)
                logger.warning("workflow event observer %r failed: %s", observer, error)
        self.sink.append(event)
        if self.reader_waiting:
            self.reader_waiting = False
            self.reader_wakeup.set()

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        for frame in list(self.frames):
            frame.cancel_tasks()
            frame.wake()


class Frame:
    """Executes one scope: the root graph, one iteration item or one loop round."""

    __slots__ = (
        "_wakeup",
        "coordinator",
        "done",
        "edge_states",
        "exec_ids",
        "failure",
        "graph",
        "has_taken",
        "iteration_id",
        "iteration_index",
        "loop_control",
        "loop_id",
        "loop_index",
        "node_states",
        "parent",
        "paused_nodes",
        "pool",
        "ready",
        "remaining",
        "response_outputs",
        "run",
        "scope",
        "skipped",
        "tasks",
    )

    def __init__(
        self,
        run: RunState,
        scope: Scope,
        pool: VariablePool,
        *,
        parent: Frame | None = None,
        iteration: tuple[str, int] | None = None,
        loop: tuple[str, int] | None = None,
        loop_control: LoopControl | None = None,
    ) -> None:
        self.run = run
        self.graph = run.graph
        self.scope = scope
        self.pool = pool
        self.parent = parent
        inherited_iteration = (parent.iteration_id, parent.iteration_index) if parent else (None, None)
        inherited_loop = (parent.loop_id, parent.loop_index) if parent else (None, None)
        self.iteration_id, self.iteration_index = iteration or inherited_iteration
        self.loop_id, self.loop_index = loop or inherited_loop
        self.loop_control = (
            loop_control if loop_control is not None else (parent.loop_control if parent else None)
        )
        self.remaining: dict[str, int] = dict(scope.in_degree)
        self.has_taken: set[str] = set()
        self.skipped: set[str] = set()
        self.node_states: dict[str, str] = {}
        self.edge_states: dict[str, str] = {}
        self.ready: deque[str] = deque()
        self.done: deque[tuple[Node, str, NodeResult, float]] = deque()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.exec_ids: dict[str, str] = {}
        self.failure: tuple[str, str, str] | None = None  # node id, error, error type
        self.response_outputs: dict[str, Any] = {}
        self.paused_nodes: list[str] = []
        self.coordinator = ResponseCoordinator(self, scope) if scope.response_plans else None
        self._wakeup: asyncio.Event | None = None

    # -- small helpers ----------------------------------------------------------------------------------
    def execution_id(self, node_id: str) -> str:
        exec_id = self.exec_ids.get(node_id)
        if exec_id is None:
            exec_id = self.exec_ids[node_id] = self.run.new_execution_id()
        return exec_id

    def emit(self, event: Event) -> None:
        self.run.emit(event)

    def _common(self, node: Node, exec_id: str) -> dict[str, Any]:
        return {
            "id": exec_id,
            "node_id": node.id,
            "node_type": node.type,
            "node_title": node.title,
            "in_iteration_id": self.iteration_id,
            "in_loop_id": self.loop_id,
            "iteration_index": self.iteration_index,
            "loop_index": self.loop_index,
        }

    def emit_chunk_event(
        self, node: Node, exec_id: str, selector: tuple[str, ...], chunk: str, is_final: bool
    ) -> None:
        self.emit(
            StreamChunk(selector=selector, chunk=chunk, is_final=is_final, **self._common(node, exec_id))
        )

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def cancel_tasks(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    # -- callbacks used by NodeContext ------------------------------------------------------------------
    def node_chunk(self, ctx: NodeContext, selector: tuple[str, ...], chunk: str, is_final: bool) -> None:
        if self.coordinator is None and not self.run.pass_chunks:
            return  # no Answer/End in this scope renders it
        event = StreamChunk(
            selector=selector, chunk=chunk, is_final=is_final, **self._common(ctx.node, ctx.execution_id)
        )
        if self.run.pass_chunks:
            self.emit(event)  # single-node runs show the raw stream
        else:
            self.coordinator.chunk(event)  # type: ignore[union-attr]

    def node_reasoning(self, ctx: NodeContext, chunk: str, is_final: bool) -> None:
        self.emit(ReasoningChunk(chunk=chunk, is_final=is_final, **self._common(ctx.node, ctx.execution_id)))

    def node_agent_log(self, ctx: NodeContext, data: dict[str, Any]) -> None:
        self.emit(AgentLog(data=data, **self._common(ctx.node, ctx.execution_id)))

    def node_retriever_resources(self, ctx: NodeContext, resources: list[dict[str, Any]]) -> None:
        self.emit(RetrieverResources(resources=resources, **self._common(ctx.node, ctx.execution_id)))

    # -- main loop -------------------------------------------------------------------------------------
    async def execute(self, start: Sequence[str] | None = None) -> None:
        """Run until nothing is ready or running. Failure is recorded in `self.failure`."""
        run = self.run
        run.frames.add(self)
        try:
            if start is None:
                self.ready.append(self.scope.root_id)
            else:
                self.ready.extend(start)
            ready = self.ready
            done = self.done
            while True:
                # A pause only stops the root frame from starting nodes: container bodies already under
                # way finish, so their container completes before the run pauses.
                while (
                    ready
                    and self.failure is None
                    and not (run.stop_reason or (run.pause_requested and not self.parent))
                ):
                    self._start_node(ready.popleft())
                    if run.steps - run.yielded_at >= YIELD_EVERY:
                        # Long stretches of inline nodes hand the loop back now and then, so readers
                        # stream promptly and other runs on the same loop are not starved.
                        run.yielded_at = run.steps
                        await asyncio.sleep(0)
                if done:
                    while done:
                        self._finish(*done.popleft())
                    continue
                if not self.tasks:
                    break
                if self._wakeup is None:
                    self._wakeup = asyncio.Event()
                await self._wakeup.wait()
                self._wakeup.clear()
        finally:
            run.frames.discard(self)
            if self.tasks:  # only when cancelled from outside
                self.cancel_tasks()

    def _start_node(self, node_id: str) -> None:
        run = self.run
        node = self.graph.nodes[node_id]
        if node.hidden:
            # iteration-start / loop-start: no events, no outputs, no step; just open the body.
            self.node_states[node_id] = "succeeded"
            if self.coordinator is not None and node_id == self.scope.root_id:
                self.coordinator.start()
            self._decide(node, None)
            return
        if run.steps >= run.limits.max_steps:
            run.request_stop(f"Maximum execution steps exceeded: {run.steps + 1} > {run.limits.max_steps}")
            return
        run.steps += 1
        exec_id = self.execution_id(node_id)
        self.node_states[node_id] = "running"
        self.emit(NodeStarted(**self._common(node, exec_id)))
        if self.coordinator is not None and node_id == self.scope.root_id:
            self.coordinator.start()
        ctx = NodeContext(self, node, exec_id, self.pool)
        started = time.perf_counter()
        if node.execution == CONTAINER:
            self._spawn(self._run_container(node, exec_id, started))
            return
        mock = run.mocks.resolve(node) if run.mocks is not None else None
        if mock is not None:
            if run.mocks.delay_of(mock) > 0 or (mock.error and node.supports_retry):
                self._spawn(self._run_async(node, ctx, started, mock))
                return
            result = self._call_sync(lambda: run.mocks.run(node, ctx, mock))  # type: ignore[union-attr]
        elif node.is_async or node.supports_retry:
            self._spawn(self._run_async(node, ctx, started, None))
            return
        else:
            result = self._call_sync(lambda: node.run(ctx))
        self._finish(node, exec_id, result, started)

    @staticmethod
    def _call_sync(call: Callable[[], NodeResult]) -> NodeResult:
        try:
            return call()
        except NodeError as error:
            return NodeResult.failed(str(error), error.error_type)
        except Exception as error:  # a node bug must fail the node, not the engine
            logger.debug("node raised", exc_info=True)
            return NodeResult.failed(str(error) or type(error).__name__, type(error).__name__)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        if self.run.stop_reason is not None:  # stopped while this node was starting
            task.cancel()

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled():
            error = task.exception()
            if error is not None:
                logger.error("node task crashed", exc_info=error)
                if self.failure is None:
                    self.failure = ("", f"internal error: {error}", type(error).__name__)
            else:
                outcome = task.result()
                if outcome is not None:
                    self.done.append(outcome)
        self.wake()

    async def _run_async(
        self, node: Node, ctx: NodeContext, started: float, mock: NodeMock | None
    ) -> tuple[Node, str, NodeResult, float]:
        run = self.run
        attempt = 0
        current_node_id.set(node.id)  # this task's own context: no reset needed
        while True:
            if mock is not None:
                delay = run.mocks.delay_of(mock)  # type: ignore[union-attr]
                if delay > 0:
                    await asyncio.sleep(delay)
                result = self._call_sync(lambda: run.mocks.run(node, ctx, mock))  # type: ignore[union-attr]
            else:
                try:
                    async with run.semaphore:  # bounds concurrent I/O; containers never take a slot
                        result = await node.arun(ctx)
                except NodeError as error:
                    result = NodeResult.failed(str(error), error.error_type)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # ports raise arbitrary errors: they fail the node
                    result = NodeResult.failed(str(error) or type(error).__name__, type(error).__name__)
            if result.status == FAILED and node.supports_retry and attempt < node.max_retries:
                attempt += 1
                run.exceptions_count += 1  # graphon counts retried failures too
                self.emit(
                    NodeRetry(retry_index=attempt, error=result.error, **self._common(node, ctx.execution_id))
                )
                await run.ports.clock.sleep(node.retry_interval)
                continue
            return node, ctx.execution_id, result, started

    # -- completion --------------------------------------------------------------------------------------
    def _finish(self, node: Node, exec_id: str, result: NodeResult, started: float) -> None:
        run = self.run
        elapsed = time.perf_counter() - started
        if result.status == PAUSED:
            if self.parent is not None:
                result = NodeResult.failed(
                    f"node '{node.id}' asked to pause, but pausing inside an iteration or loop is not supported",
                    "PauseNotSupportedError",
                )
            else:
                self.node_states.pop(node.id, None)
                self.paused_nodes.append(node.id)
                run.pause_requested = True
                reason = result.pause_reason or {"type": "paused", "node_id": node.id}
                run.pause_reasons.append(reason)
                self.emit(NodePaused(reason=reason, **self._common(node, exec_id)))
                return
        pool = self.pool
        if result.status == SUCCEEDED:
            for update in result.updates:
                pool.set(update.selector[0], update.selector[1], update.value)
                self.emit(
                    VariableUpdated(
                        selector=update.selector,
                        value=update.value,
                        value_type=update.value_type,
                        **self._common(node, exec_id),
                    )
                )
            if result.outputs:
                pool.set_outputs(node.id, result.outputs)
            self.node_states[node.id] = "succeeded"
            if node.execution == RESPONSE:
                self._merge_response(result.outputs)
            if isinstance(node, LoopEndNode) and self.loop_control is not None:
                self.loop_control.reached_end = True
            if node.execution == BRANCH:
                handle = result.handle if result.handle is not None else "false"
            elif node.effective_execution == BRANCH:
                handle = "source"  # fail-branch nodes take the normal edge on success
            else:
                handle = None
            self._decide(node, handle)
            if self.coordinator is not None:
                self.coordinator.flush()
            if not node.hidden:
                self.emit(
                    NodeSucceeded(
                        inputs=result.inputs,
                        process_data=result.process_data,
                        outputs=result.outputs,
                        metadata=result.metadata,
                        elapsed=elapsed,
                        edge_handle=handle,
                        **self._common(node, exec_id),
                    )
                )
            return
        # failed
        run.exceptions_count += 1
        strategy = node.error_strategy
        if strategy is None:
            self.node_states[node.id] = "failed"
            self.emit(
                NodeFailed(
                    inputs=result.inputs,
                    process_data=result.process_data,
                    outputs=result.outputs,
                    metadata=result.metadata,
                    elapsed=elapsed,
                    error=result.error,
                    error_type=result.error_type,
                    **self._common(node, exec_id),
                )
            )
            if self.failure is None:
                self.failure = (node.id, result.error, result.error_type)
            self.cancel_tasks()
            return
        errors = {"error_message": result.error, "error_type": result.error_type}
        outputs = {**node.default_outputs, **errors} if strategy == "default-value" else errors
        pool.set_outputs(node.id, outputs)
        self.node_states[node.id] = "exception"
        if node.execution == RESPONSE:
            self._merge_response(outputs)
        self._decide(node, None if strategy == "default-value" else "fail-branch")
        if self.coordinator is not None:
            self.coordinator.flush()
        self.emit(
            NodeException(
                inputs=result.inputs,
                process_data=result.process_data,
                outputs=outputs,
                metadata={**result.metadata, "error_strategy": strategy},
                elapsed=elapsed,
                error=result.error,
                error_type=result.error_type,
                strategy=strategy,
                **self._common(node, exec_id),
            )
        )

    def _merge_response(self, outputs: Mapping[str, Any]) -> None:
        merged = self.response_outputs
        for key, value in outputs.items():
            if key == "answer":
                existing = merged.get("answer")
                merged["answer"] = f"{existing}{value}" if existing else value
            else:
                merged[key] = value

    def _decide(self, node: Node, handle: str | None) -> None:
        """Mark outgoing edges taken/skipped; skip propagates; ready targets join the deque."""
        edges = self.scope.out_edges.get(node.id, ())
        if not edges:
            return
        if handle is None:
            for edge in edges:
                self._take(edge)
            return
        taken = [edge for edge in edges if edge.handle == handle]
        for edge in edges:
            if edge.handle != handle:
                self._skip(edge)
        for edge in taken:
            self._take(edge)

    def _take(self, edge: Any) -> None:
        self.edge_states[edge.id] = "taken"
        if self.coordinator is not None and edge.id in self.scope.blocking:
            self.coordinator.edge_taken(edge.id)
        target = edge.target
        self.has_taken.add(target)
        left = self.remaining[target] - 1
        self.remaining[target] = left
        if left == 0:
            self.ready.append(target)

    def _skip(self, first: Any) -> None:
        stack = [first]
        while stack:
            edge = stack.pop()
            self.edge_states[edge.id] = "skipped"
            target = edge.target
            left = self.remaining[target] - 1
            self.remaining[target] = left
            if left != 0:
                continue
            if target in self.has_taken:
                self.ready.append(target)
            else:
                self.skipped.add(target)
                self.node_states[target] = "skipped"
                stack.extend(self.scope.out_edges.get(target, ()))

    # -- containers --------------------------------------------------------------------------------------
    async def _run_container(
        self, node: Node, exec_id: str, started: float
    ) -> tuple[Node, str, NodeResult, float]:
        if isinstance(node, IterationNode):
            result = await run_iteration(self, node, exec_id)
        elif isinstance(node, LoopNode):
            result = await run_loop(self, node, exec_id)
        else:  # pragma: no cover - registry guarantees one of the two
            result = NodeResult.failed(f"unknown container type {node.type}")
        return node, exec_id, result, started

    def needs_tasks(self, scope: Scope) -> bool:
        """Whether any node in `scope` awaits something; if not, parallelism cannot change anything."""
        mocks = self.run.mocks
        for node_id in scope.node_ids:
            node = self.graph.nodes[node_id]
            if node.execution == CONTAINER:
                return True
            mock = mocks.resolve(node) if mocks is not None else None
            if mock is not None:
                if mocks.delay_of(mock) > 0:  # type: ignore[union-attr]
                    return True
            elif node.is_async or node.supports_retry:
                return True
        return False


__all__ = ["Frame", "RunState"]
