"""Reading Dify app DSL files (what the engine needs: mode, graph, variables)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import GraphError, GraphIssue
from .graph import Graph, GraphPolicy, parse_graph

APP_MODES = frozenset({"workflow", "advanced-chat", "chat", "agent-chat", "completion", "agent"})
WORKFLOW_MODES = frozenset({"workflow", "advanced-chat"})


@dataclass(frozen=True)
class DslApp:
    mode: str
    name: str
    version: str
    graph: Graph
    environment_variables: list[dict[str, Any]] = field(default_factory=list)
    conversation_variables: list[dict[str, Any]] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def load_yaml(text: str) -> Any:
    return yaml.safe_load(text)


def load_app(document: str | Mapping[str, Any], *, policy: GraphPolicy | None = None) -> DslApp:
    """Parse a workflow / advanced-chat app export. Rejects non-app documents and bad graphs."""
    data = load_yaml(document) if isinstance(document, str) else document
    if not isinstance(data, Mapping):
        raise GraphError(GraphIssue("NOT_AN_APP", "the DSL document must be a mapping"))
    app = data.get("app")
    if not isinstance(app, Mapping):
        raise GraphError(GraphIssue("NOT_AN_APP", "Missing app data in YAML content"))
    version = data.get("version", "0.1.0")
    if not isinstance(version, str):
        raise GraphError(GraphIssue("NOT_AN_APP", "Invalid version type, must be str"))
    mode = app.get("mode")
    if mode not in APP_MODES:
        raise GraphError(GraphIssue("NOT_AN_APP", f"unknown app mode {mode!r}"))
    if mode not in WORKFLOW_MODES:
        raise GraphError(GraphIssue("NOT_A_WORKFLOW", f"app mode {mode!r} has no workflow graph"))
    workflow = data.get("workflow")
    if not isinstance(workflow, Mapping) or not isinstance(workflow.get("graph"), Mapping):
        raise GraphError(GraphIssue("NOT_AN_APP", "Missing workflow graph in YAML content"))
    graph = parse_graph(workflow["graph"], policy=policy)
    return DslApp(
        mode=mode,
        name=str(app.get("name") or ""),
        version=version,
        graph=graph,
        environment_variables=[dict(item) for item in workflow.get("environment_variables") or []],
        conversation_variables=[dict(item) for item in workflow.get("conversation_variables") or []],
        features=dict(workflow.get("features") or {}),
        raw=dict(data),
    )


def graph_config_of(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The graph of an app export, or the document itself when it is a bare graph."""
    workflow = document.get("workflow")
    if isinstance(workflow, Mapping) and isinstance(workflow.get("graph"), Mapping):
        return workflow["graph"]
    return document
