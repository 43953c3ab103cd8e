"""Graph checks on the Django side, delegating to the workflow engine's ``parse_graph``.

Two levels:

* ``graph_check_structure``: what any stored graph must satisfy (a mapping with ``nodes`` and ``edges``
  lists, node ids unique, node types known, every edge between existing nodes). Used on import, where Dify
  stores drafts without validating them but a graph that cannot even be drawn must be refused.
* ``graph_validate_for_publish``: everything the engine checks before a run (config of each node,
  selectors, cycles, a start node). A published version must pass it, so the runners never meet a graph
  they refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.services.errors import WorkflowGraphInvalid

# Issue codes that mean "this is not a drawable graph" (refused on import); the rest are only refused
# when publishing (a draft may be work in progress).
STRUCTURAL_CODES = frozenset(
    {
        "INVALID_GRAPH",
        "INVALID_NODE",
        "DUPLICATE_NODE_ID",
        "UNKNOWN_NODE_TYPE",
        "MISSING_NODE",
        "INVALID_EDGE",
        "CROSS_SCOPE_EDGE",
        "NOT_AN_APP",
    }
)

NOTE_TYPE = "custom-note"
# Real graphs nest a few dozen levels (containers, prompt templates, conditions). A cap well below
# Python's recursion limit keeps every later JSON encode/decode of the graph safe.
MAX_DEPTH = 256


def _engine() -> Any:
    """The engine's parse entry point, imported lazily (it is a separate package; see its README)."""
    try:
        from workflows.engine import GraphError, parse_graph
    except ImportError:  # the package may not re-export them (yet)
        from workflows.engine.errors import GraphError
        from workflows.engine.graph import parse_graph

    return parse_graph, GraphError


def _issue_dicts(error: Any) -> list[dict[str, Any]]:
    return [{"code": i.code, "message": i.message, "node_id": i.node_id} for i in error.issues]


def _raise(issues: list[dict[str, Any]], prefix: str) -> None:
    message = "; ".join(i["message"] for i in issues[:5])
    if len(issues) > 5:
        message += f"; and {len(issues) - 5} more"
    raise WorkflowGraphInvalid(f"{prefix}: {message}", issues=issues)


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _shape_issues(graph: Any) -> list[dict[str, Any]]:
    if _too_deep(graph):
        return [
            {
                "code": "INVALID_GRAPH",
                "message": f"the graph nests more than {MAX_DEPTH} levels",
                "node_id": None,
            }
        ]
    if not isinstance(graph, Mapping):
        return [
            {
                "code": "INVALID_GRAPH",
                "message": "the graph must be an object with nodes and edges",
                "node_id": None,
            }
        ]
    if not isinstance(graph.get("nodes", []), list) or not isinstance(graph.get("edges", []), list):
        return [
            {
                "code": "INVALID_GRAPH",
                "message": "the graph must have a 'nodes' list and an 'edges' list",
                "node_id": None,
            }
        ]
    return []


def graph_check_shape(graph: Any) -> None:
    """The cheapest check, for draft saves: an object with ``nodes`` and ``edges`` lists."""
    issues = _shape_issues(graph)
    if issues:
        _raise(issues, "Invalid workflow graph")


def graph_check_structure(graph: Any) -> None:
    """Refuse a graph that is not drawable: bad shape, duplicate ids, unknown node types, dangling edges."""
    issues = _shape_issues(graph)
    if issues:
        _raise(issues, "Invalid workflow graph")
    if not graph.get("nodes"):
        return
    parse_graph, graph_error = _engine()
    try:
        parse_graph(graph)
    except graph_error as error:
        structural = [i for i in _issue_dicts(error) if i["code"] in STRUCTURAL_CODES]
        if structural:
            _raise(structural, "Invalid workflow graph")


def graph_validate_for_publish(graph: Any) -> None:
    """Everything the engine checks before a run; raises WorkflowGraphInvalid naming each problem."""
    issues = _shape_issues(graph)
    if issues:
        _raise(issues, "The workflow cannot be published")
    parse_graph, graph_error = _engine()
    try:
        parse_graph(graph)
    except graph_error as error:
        _raise(_issue_dicts(error), "The workflow cannot be published")


def node_types(graph: Mapping[str, Any]) -> list[str]:
    """The node types used by a graph (notes excluded), in order of first appearance."""
    seen: list[str] = []
    for node in graph.get("nodes") or []:
        if not isinstance(node, Mapping) or node.get("type") == NOTE_TYPE:
            continue
        data = node.get("data") or {}
        node_type = data.get("type") if isinstance(data, Mapping) else None
        if isinstance(node_type, str) and node_type not in seen:
            seen.append(node_type)
    return seen
