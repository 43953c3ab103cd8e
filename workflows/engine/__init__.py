"""The workflow engine: runs Dify DSL graphs with Dify's semantics. Pure Python, no Django.

Typical use from a service::

    from workflows import engine

    graph = engine.parse_graph(workflow.graph)            # GraphError names the nodes at fault
    runner = engine.Engine(ports=engine.Ports(models=..., retrieval=..., http=engine.HttpxHttpPort()))
    run = runner.run(graph, inputs={"query": "hi"}, system={"query": "hi", "user_id": "u1"},
                     environment=env_vars, conversation=conversation_vars)
    async for event in run:                                # typed events, in order
        publish(event)                                     # RunStarted ... StreamChunk ... RunSucceeded
    run.stop("user pressed stop")                          # from another coroutine, any time

Pausing (human-input) ends the run with `RunPaused(state=...)`; `state` is JSON. Later:
`runner.resume(graph, state, human_input={"node_id": {"action": "approve", "inputs": {...}}})`.
One node alone: `await runner.run_node(graph, node_id, variables={"start.query": "hi"})`.
Mocking: `runner.run(graph, mocks=engine.Mocks(nodes={"llm": engine.NodeMock(outputs={"text": "x"})}))`.

Modules: `graph` (parse/validate), `pool` (variable pool), `values` (segment types, rendering),
`templates` ({{#node.var#}}), `conditions`, `jinja`, `events`, `ports` (+ `http_client`,
`sandbox`, `defaults`), `mocks`, `limits`, `streaming` (answer order), `executor`, `engine`, `dsl`,
`nodes/*`, `conformance` (runner for ../shared/conformance).
"""

from .defaults import default_ports
from .dsl import DslApp, load_app
from .engine import Engine, Run, RunOutcome
from .errors import ConfigError, GraphError, GraphIssue, InputError, NodeError
from .events import (
    AgentLog,
    Event,
    IterationFailed,
    IterationNext,
    IterationStarted,
    IterationSucceeded,
    LoopFailed,
    LoopNext,
    LoopStarted,
    LoopSucceeded,
    NodeEvent,
    NodeException,
    NodeFailed,
    NodePaused,
    NodeRetry,
    NodeStarted,
    NodeSucceeded,
    ReasoningChunk,
    RetrieverResources,
    RunFailed,
    RunPartialSucceeded,
    RunPaused,
    RunStarted,
    RunStopped,
    RunSucceeded,
    StreamChunk,
    VariableUpdated,
)
from .graph import Edge, Graph, GraphPolicy, canonical_digest, parse_graph
from .http_client import HttpxHttpPort
from .limits import CodeLimits, Limits
from .mocks import Mocks, NodeMock
from .nodes import NODE_TYPES
from .nodes.base import NodeResult
from .pool import VariablePool
from .ports import (
    AgentPort,
    AgentRequest,
    CodeExecutionError,
    CodePort,
    ContentPart,
    FilePort,
    HttpPort,
    HttpPortError,
    HttpRequest,
    HttpResponse,
    HumanInputDecision,
    HumanInputPort,
    HumanInputRequest,
    MemoryPort,
    ModelDelta,
    ModelPort,
    ModelRequest,
    Ports,
    PromptMessage,
    RetrievalPort,
    RetrievalRequest,
    RetrievedChunk,
    SystemClock,
    ToolCall,
    ToolMessage,
    ToolPort,
    ToolRequest,
    ToolSpec,
    Usage,
)
from .sandbox import CodeSandboxUnavailable, SandboxCodePort, SandboxStatus
from .sandbox.process import SubprocessCodePort
from .values import File


def run(graph: Graph, **kwargs: object) -> Run:
    """Shortcut for `Engine(ports=..., limits=...).run(graph, ...)` (ports/limits may be passed here)."""
    ports = kwargs.pop("ports", None)
    limits = kwargs.pop("limits", None)
    engine = Engine(ports=ports or Ports(), limits=limits or Limits())  # type: ignore[arg-type]
    return engine.run(graph, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "NODE_TYPES",
    "AgentLog",
    "AgentPort",
    "AgentRequest",
    "CodeExecutionError",
    "CodeLimits",
    "CodePort",
    "CodeSandboxUnavailable",
    "ConfigError",
    "ContentPart",
    "DslApp",
    "Edge",
    "Engine",
    "Event",
    "File",
    "FilePort",
    "Graph",
    "GraphError",
    "GraphIssue",
    "GraphPolicy",
    "HttpPort",
    "HttpPortError",
    "HttpRequest",
    "HttpResponse",
    "HttpxHttpPort",
    "HumanInputDecision",
    "HumanInputPort",
    "HumanInputRequest",
    "InputError",
    "IterationFailed",
    "IterationNext",
    "IterationStarted",
    "IterationSucceeded",
    "Limits",
    "LoopFailed",
    "LoopNext",
    "LoopStarted",
    "LoopSucceeded",
    "MemoryPort",
    "Mocks",
    "ModelDelta",
    "ModelPort",
    "ModelRequest",
    "NodeError",
    "NodeEvent",
    "NodeException",
    "NodeFailed",
    "NodeMock",
    "NodePaused",
    "NodeResult",
    "NodeRetry",
    "NodeStarted",
    "NodeSucceeded",
    "Ports",
    "PromptMessage",
    "ReasoningChunk",
    "RetrievalPort",
    "RetrievalRequest",
    "RetrievedChunk",
    "RetrieverResources",
    "Run",
    "RunFailed",
    "RunOutcome",
    "RunPartialSucceeded",
    "RunPaused",
    "RunStarted",
    "RunStopped",
    "RunSucceeded",
    "SandboxCodePort",
    "SandboxStatus",
    "StreamChunk",
    "SubprocessCodePort",
    "SystemClock",
    "ToolCall",
    "ToolMessage",
    "ToolPort",
    "ToolRequest",
    "ToolSpec",
    "Usage",
    "VariablePool",
    "VariableUpdated",
    "canonical_digest",
    "default_ports",
    "load_app",
    "parse_graph",
    "run",
]
