"""Engine events to Dify's SSE payloads (``../shared/contract/service-api.md`` section 4).

One ``WorkflowWire`` per run turns the engine's typed events into the dicts Dify streams for workflow
apps (``{event, workflow_run_id, task_id, data}``) and chatflow apps (the chat envelope
``{event, conversation_id, message_id, created_at, task_id, workflow_run_id, ...}``). It also keeps the
run's tallies (steps, tokens, node index) that the finishing events and the recorder need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from workflows import engine as wf
from workflows.engine.events import NodeResultEvent

STATUS_OF = {
    wf.NodeSucceeded: "succeeded",
    wf.NodeFailed: "failed",
    wf.NodeException: "exception",
}


@dataclass
class RunIdentity:
    """The ids and facts every event of a run repeats."""

    task_id: str
    app_mode: str
    workflow_id: str
    workflow_run_id: str
    created_at: int
    created_by: dict[str, Any]
    inputs: dict[str, Any]
    conversation_id: str | None = None
    message_id: str | None = None

    @property
    def chat(self) -> bool:
        return self.app_mode == "advanced-chat"

    def envelope(self, event: str) -> dict[str, Any]:
        if self.chat:
            return {
                "event": event,
                "conversation_id": self.conversation_id,
                "message_id": self.message_id,
                "created_at": self.created_at,
                "task_id": self.task_id,
                "workflow_run_id": self.workflow_run_id,
            }
        return {"event": event, "workflow_run_id": self.workflow_run_id, "task_id": self.task_id}


@dataclass
class NodeRecord:
    """What the recorder keeps of one node execution."""

    id: str
    node_id: str
    node_type: str
    title: str
    index: int
    predecessor_node_id: str | None
    started_at: float
    iteration_id: str | None = None
    loop_id: str | None = None
    status: str = "running"
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    error: str = ""
    elapsed_time: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None


@dataclass
class RunTally:
    started_at: float = field(default_factory=time.time)
    steps: int = 0
    total_tokens: int = 0
    total_price: float = 0.0
    currency: str = "USD"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    answer: list[str] = field(default_factory=list)
    retriever_resources: list[dict[str, Any]] = field(default_factory=list)
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    variable_updates: dict[tuple[str, ...], tuple[Any, str]] = field(default_factory=dict)


def _container_fields(event: wf.NodeEvent) -> dict[str, Any]:
    return {
        "iteration_id": event.in_iteration_id,
        "loop_id": event.in_loop_id,
        "parallel_id": None,
        "parallel_start_node_id": None,
        "parent_parallel_id": None,
        "parent_parallel_start_node_id": None,
    }


class WorkflowWire:
    def __init__(self, identity: RunIdentity) -> None:
        self.identity = identity
        self.tally = RunTally()

    # --- public ------------------------------------------------------------------------------------

    def convert(self, event: wf.Event) -> list[dict[str, Any]]:
        handler = self._handlers.get(type(event))
        return handler(self, event) if handler else []

    def finished_data(
        self, status: str, outputs: dict[str, Any] | None, error: str | None, exceptions_count: int = 0
    ) -> dict[str, Any]:
        finished_at = time.time()
        return {
            "id": self.identity.workflow_run_id,
            "workflow_id": self.identity.workflow_id,
            "status": status,
            "outputs": outputs,
            "error": error,
            "elapsed_time": round(finished_at - self.tally.started_at, 6),
            "total_tokens": self.tally.total_tokens,
            "total_steps": self.tally.steps,
            "created_by": self.identity.created_by,
            "created_at": self.identity.created_at,
            "finished_at": int(finished_at),
            "exceptions_count": exceptions_count,
            "files": [],
        }

    def workflow_finished(
        self, status: str, outputs: dict[str, Any] | None, error: str | None, exceptions_count: int = 0
    ) -> dict[str, Any]:
        return {
            **self.identity.envelope("workflow_finished"),
            "data": self.finished_data(status, outputs, error, exceptions_count),
        }

    # --- handlers ----------------------------------------------------------------------------------

    def _run_started(self, event: wf.RunStarted) -> list[dict[str, Any]]:
        data = {
            "id": self.identity.workflow_run_id,
            "workflow_id": self.identity.workflow_id,
            "inputs": self.identity.inputs,
            "created_at": self.identity.created_at,
            "reason": event.reason,
        }
        return [{**self.identity.envelope("workflow_started"), "data": data}]

    def _node_started(self, event: wf.NodeStarted) -> list[dict[str, Any]]:
        self.tally.steps += 1
        record = NodeRecord(
            id=event.id,
            node_id=event.node_id,
            node_type=event.node_type,
            title=event.node_title,
            index=self.tally.steps,
            predecessor_node_id=event.predecessor_node_id,
            started_at=event.at,
            iteration_id=event.in_iteration_id,
            loop_id=event.in_loop_id,
        )
        self.tally.nodes[event.id] = record
        data = {
            "id": event.id,
            "node_id": event.node_id,
            "node_type": event.node_type,
            "title": event.node_title,
            "index": record.index,
            "predecessor_node_id": event.predecessor_node_id,
            "inputs": None,
            "inputs_truncated": False,
            "created_at": int(event.at),
            "extras": {},
            "agent_strategy": None,
            **_container_fields(event),
        }
        return [{**self.identity.envelope("node_started"), "data": data}]

    def _node_finished(self, event: NodeResultEvent) -> list[dict[str, Any]]:
        record = self.tally.nodes.get(event.id)
        if record is None:  # a node that finished without starting (resumed runs)
            self.tally.steps += 1
            record = NodeRecord(
                id=event.id,
                node_id=event.node_id,
                node_type=event.node_type,
                title=event.node_title,
                index=self.tally.steps,
                predecessor_node_id=None,
                started_at=event.at,
            )
            self.tally.nodes[event.id] = record
        record.status = STATUS_OF.get(type(event), "succeeded")
        record.inputs = event.inputs
        record.process_data = event.process_data
        record.outputs = event.outputs
        record.error = getattr(event, "error", "") or ""
        record.elapsed_time = event.elapsed
        record.metadata = dict(event.metadata or {})
        record.finished_at = event.at
        self._count_usage(record.metadata, record.outputs)
        data = {
            "id": event.id,
            "node_id": event.node_id,
            "node_type": event.node_type,
            "title": event.node_title,
            "index": record.index,
            "predecessor_node_id": record.predecessor_node_id,
            "inputs": event.inputs,
            "inputs_truncated": False,
            "process_data": event.process_data,
            "process_data_truncated": False,
            "outputs": event.outputs,
            "outputs_truncated": False,
            "status": record.status,
            "error": record.error or None,
            "elapsed_time": round(event.elapsed, 6),
            "execution_metadata": record.metadata or None,
            "created_at": int(record.started_at),
            "finished_at": int(event.at),
            "files": [],
            "extras": {},
            **_container_fields(event),
        }
        return [{**self.identity.envelope("node_finished"), "data": data}]

    def _count_usage(self, metadata: dict[str, Any], outputs: Any = None) -> None:
        tokens = metadata.get("total_tokens")
        if isinstance(tokens, int | float):
            self.tally.total_tokens += int(tokens)
        price = metadata.get("total_price")
        if isinstance(price, int | float | str):
            try:
                self.tally.total_price += float(price)
            except ValueError:
                pass
        if metadata.get("currency"):
            self.tally.currency = metadata["currency"]
        usage = metadata.get("usage")
        if usage is None and isinstance(outputs, dict):  # LLM nodes report the split in their outputs
            usage = outputs.get("usage")
        if isinstance(usage, dict):
            self.tally.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.tally.completion_tokens += int(usage.get("completion_tokens") or 0)

    def _node_retry(self, event: wf.NodeRetry) -> list[dict[str, Any]]:
        record = self.tally.nodes.get(event.id)
        data = {
            "id": event.id,
            "node_id": event.node_id,
            "node_type": event.node_type,
            "title": event.node_title,
            "index": record.index if record else self.tally.steps,
            "predecessor_node_id": record.predecessor_node_id if record else None,
            "inputs": None,
            "process_data": None,
            "outputs": None,
            "status": "retry",
            "error": event.error,
            "elapsed_time": round(event.at - record.started_at, 6) if record else 0,
            "execution_metadata": None,
            "created_at": int(record.started_at) if record else int(event.at),
            "finished_at": int(event.at),
            "files": [],
            "retry_index": event.retry_index,
            **_container_fields(event),
        }
        return [{**self.identity.envelope("node_retry"), "data": data}]

    def _stream_chunk(self, event: wf.StreamChunk) -> list[dict[str, Any]]:
        if not event.chunk:
            return []
        self.tally.answer.append(event.chunk)
        selector = list(event.selector) if event.selector else None
        if self.identity.chat:
            return [
                {
                    **self.identity.envelope("message"),
                    "id": self.identity.message_id,
                    "answer": event.chunk,
                    "from_variable_selector": selector,
                }
            ]
        return [
            {
                **self.identity.envelope("text_chunk"),
                "data": {"text": event.chunk, "from_variable_selector": selector},
            }
        ]

    def _reasoning(self, event: wf.ReasoningChunk) -> list[dict[str, Any]]:
        data = {"reasoning": event.chunk, "node_id": event.node_id, "is_final": event.is_final}
        if self.identity.chat:
            data["message_id"] = self.identity.message_id
        return [{**self.identity.envelope("reasoning_chunk"), "data": data}]

    def _retriever(self, event: wf.RetrieverResources) -> list[dict[str, Any]]:
        self.tally.retriever_resources.extend(event.resources)
        return []

    def _variable_updated(self, event: wf.VariableUpdated) -> list[dict[str, Any]]:
        self.tally.variable_updates[tuple(event.selector)] = (event.value, event.value_type)
        return []

    def _agent_log(self, event: wf.AgentLog) -> list[dict[str, Any]]:
        data = {"node_execution_id": event.id, "node_id": event.node_id, **event.data}
        return [{**self.identity.envelope("agent_log"), "data": data}]

    def _container(self, kind: str, phase: str, event: wf.NodeEvent) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": event.id,
            "node_id": event.node_id,
            "node_type": event.node_type,
            "title": event.node_title,
            "created_at": int(event.at),
            "extras": {},
            **_container_fields(event),
        }
        if phase == "started":
            record = NodeRecord(
                id=event.id,
                node_id=event.node_id,
                node_type=event.node_type,
                title=event.node_title,
                index=self.tally.steps,
                predecessor_node_id=None,
                started_at=event.at,
            )
            self.tally.nodes.setdefault(event.id, record)
            data["inputs"] = getattr(event, "inputs", {})
            data["inputs_truncated"] = False
            length = (
                getattr(event, "length", None) if kind == "iteration" else getattr(event, "loop_count", None)
            )
            data["metadata"] = {"iterator_length": length} if kind == "iteration" else {"loop_length": length}
        elif phase == "next":
            data["index"] = event.index  # type: ignore[attr-defined]
            if kind == "loop":
                data["pre_loop_output"] = getattr(event, "pre_loop_output", None)
            else:
                data["pre_iteration_output"] = None
        else:
            record = self.tally.nodes.get(event.id)
            started = record.started_at if record else event.at
            data.update(
                {
                    "outputs": getattr(event, "outputs", {}),
                    "outputs_truncated": False,
                    "inputs": None,
                    "status": "failed" if phase == "failed" else "succeeded",
                    "error": getattr(event, "error", None) or None,
                    "elapsed_time": round(event.at - started, 6),
                    "total_tokens": 0,
                    "execution_metadata": None,
                    "finished_at": int(event.at),
                    "steps": getattr(event, "steps", 0),
                }
            )
        name = f"{kind}_{'completed' if phase in ('succeeded', 'failed') else phase}"
        return {**self.identity.envelope(name), "data": data}

    _handlers: dict[type, Any] = {}


WorkflowWire._handlers = {
    wf.RunStarted: WorkflowWire._run_started,
    wf.NodeStarted: WorkflowWire._node_started,
    wf.NodeSucceeded: WorkflowWire._node_finished,
    wf.NodeFailed: WorkflowWire._node_finished,
    wf.NodeException: WorkflowWire._node_finished,
    wf.NodeRetry: WorkflowWire._node_retry,
    wf.StreamChunk: WorkflowWire._stream_chunk,
    wf.ReasoningChunk: WorkflowWire._reasoning,
    wf.RetrieverResources: WorkflowWire._retriever,
    wf.VariableUpdated: WorkflowWire._variable_updated,
    wf.AgentLog: WorkflowWire._agent_log,
    wf.IterationStarted: lambda self, e: [self._container("iteration", "started", e)],
    wf.IterationNext: lambda self, e: [self._container("iteration", "next", e)],
    wf.IterationSucceeded: lambda self, e: [self._container("iteration", "succeeded", e)],
    wf.IterationFailed: lambda self, e: [self._container("iteration", "failed", e)],
    wf.LoopStarted: lambda self, e: [self._container("loop", "started", e)],
    wf.LoopNext: lambda self, e: [self._container("loop", "next", e)],
    wf.LoopSucceeded: lambda self, e: [self._container("loop", "succeeded", e)],
    wf.LoopFailed: lambda self, e: [self._container("loop", "failed", e)],
}
