"""Typed events emitted by a run, in order.

Every class names the Dify event it corresponds to (`dify_name`), so recorders and the SSE layer can
map them to Dify's wire format, and the conformance runner can compare event sequences.

Node events carry the execution `id` (one per node execution, reused for all of that execution's
events and stream chunks), `node_id`, `node_type`, and, inside containers, `in_iteration_id` /
`in_loop_id` plus the item or round index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(slots=True, kw_only=True)
class Event:
    dify_name: ClassVar[str] = ""
    at: float = field(default_factory=time.time)

    @property
    def kind(self) -> str:
        return type(self).__name__


# -- run level -------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class RunStarted(Event):
    dify_name: ClassVar[str] = "GraphRunStartedEvent"
    run_id: str
    reason: str = "initial"  # "initial" | "resumption"


@dataclass(slots=True, kw_only=True)
class RunSucceeded(Event):
    dify_name: ClassVar[str] = "GraphRunSucceededEvent"
    outputs: dict[str, Any]


@dataclass(slots=True, kw_only=True)
class RunPartialSucceeded(Event):
    """The run finished, but some node failed and was handled by its error strategy."""

    dify_name: ClassVar[str] = "GraphRunPartialSucceededEvent"
    outputs: dict[str, Any]
    exceptions_count: int


@dataclass(slots=True, kw_only=True)
class RunFailed(Event):
    dify_name: ClassVar[str] = "GraphRunFailedEvent"
    error: str
    exceptions_count: int = 0
    node_id: str | None = None


@dataclass(slots=True, kw_only=True)
class RunStopped(Event):
    """Stopped by request, or aborted by a limit (steps, time). Dify: GraphRunAbortedEvent."""

    dify_name: ClassVar[str] = "GraphRunAbortedEvent"
    reason: str
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class RunPaused(Event):
    """Waiting for a human. `state` is JSON-serialisable; pass it to `Engine.resume` later."""

    dify_name: ClassVar[str] = "GraphRunPausedEvent"
    reasons: list[dict[str, Any]]
    outputs: dict[str, Any]
    state: dict[str, Any]


RUN_END_EVENTS = (RunSucceeded, RunPartialSucceeded, RunFailed, RunStopped, RunPaused)


# -- node level ------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class NodeEvent(Event):
    id: str  # execution id
    node_id: str
    node_type: str
    node_title: str = ""
    in_iteration_id: str | None = None
    in_loop_id: str | None = None
    iteration_index: int | None = None
    loop_index: int | None = None


@dataclass(slots=True, kw_only=True)
class NodeStarted(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunStartedEvent"
    predecessor_node_id: str | None = None


@dataclass(slots=True, kw_only=True)
class NodeResultEvent(NodeEvent):
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0


@dataclass(slots=True, kw_only=True)
class NodeSucceeded(NodeResultEvent):
    dify_name: ClassVar[str] = "NodeRunSucceededEvent"
    edge_handle: str | None = None


@dataclass(slots=True, kw_only=True)
class NodeFailed(NodeResultEvent):
    dify_name: ClassVar[str] = "NodeRunFailedEvent"
    error: str = ""
    error_type: str = ""


@dataclass(slots=True, kw_only=True)
class NodeException(NodeResultEvent):
    """The node failed and its error strategy (default-value / fail-branch) took over."""

    dify_name: ClassVar[str] = "NodeRunExceptionEvent"
    error: str = ""
    error_type: str = ""
    strategy: str = ""


@dataclass(slots=True, kw_only=True)
class NodeRetry(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunRetryEvent"
    retry_index: int
    error: str = ""


@dataclass(slots=True, kw_only=True)
class NodePaused(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunPauseRequestedEvent"
    reason: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class StreamChunk(NodeEvent):
    """A piece of the answer, in the order the Answer/End template defines it."""

    dify_name: ClassVar[str] = "NodeRunStreamChunkEvent"
    selector: tuple[str, ...]
    chunk: str
    is_final: bool = False


@dataclass(slots=True, kw_only=True)
class ReasoningChunk(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunReasoningChunkEvent"
    chunk: str
    is_final: bool = False


@dataclass(slots=True, kw_only=True)
class VariableUpdated(NodeEvent):
    """An assigner changed a variable (conversation variables persist per conversation)."""

    dify_name: ClassVar[str] = "NodeRunVariableUpdatedEvent"
    selector: tuple[str, ...]
    value: Any
    value_type: str


@dataclass(slots=True, kw_only=True)
class AgentLog(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunAgentLogEvent"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class RetrieverResources(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunRetrieverResourceEvent"
    resources: list[dict[str, Any]] = field(default_factory=list)


# -- containers --------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class IterationStarted(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunIterationStartedEvent"
    inputs: dict[str, Any] = field(default_factory=dict)
    length: int = 0


@dataclass(slots=True, kw_only=True)
class IterationNext(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunIterationNextEvent"
    index: int


@dataclass(slots=True, kw_only=True)
class IterationSucceeded(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunIterationSucceededEvent"
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: int = 0


@dataclass(slots=True, kw_only=True)
class IterationFailed(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunIterationFailedEvent"
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    error: str = ""


@dataclass(slots=True, kw_only=True)
class LoopStarted(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunLoopStartedEvent"
    inputs: dict[str, Any] = field(default_factory=dict)
    loop_count: int = 0


@dataclass(slots=True, kw_only=True)
class LoopNext(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunLoopNextEvent"
    index: int
    pre_loop_output: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class LoopSucceeded(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunLoopSucceededEvent"
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: int = 0


@dataclass(slots=True, kw_only=True)
class LoopFailed(NodeEvent):
    dify_name: ClassVar[str] = "NodeRunLoopFailedEvent"
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    error: str = ""
