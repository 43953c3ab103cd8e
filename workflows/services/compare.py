"""A structural diff of two workflow versions: nodes, edges, features and variables.

Nodes are matched by id and edges by their connection (source, handle, target); for what exists on both
sides, every changed field is listed with its path and both values. Layout-only keys (positions, sizes,
selection) are ignored unless asked for: moving a node is not a change of behaviour. Secret variable values
are never shown, only that they changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workflows.models import Workflow
from workflows.services.hashing import workflow_hash
from workflows.services.variables import _decrypt

LAYOUT_KEYS = frozenset(
    {"position", "positionAbsolute", "width", "height", "selected", "dragging", "zIndex", "measured"}
)
_MISSING = "<absent>"


def _changes(before: Any, after: Any, path: str, out: list[dict[str, Any]], ignore: frozenset[str]) -> None:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after), key=str):
            if key in ignore:
                continue
            sub = f"{path}.{key}" if path else str(key)
            if key not in before:
                out.append({"path": sub, "before": None, "after": after[key], "kind": "added"})
            elif key not in after:
                out.append({"path": sub, "before": before[key], "after": None, "kind": "removed"})
            else:
                _changes(before[key], after[key], sub, out, ignore)
        return
    if (
        isinstance(before, list)
        and isinstance(after, list)
        and len(before) == len(after)
        and any(isinstance(v, Mapping | list) for v in before)
    ):
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            _changes(b, a, f"{path}[{index}]", out, ignore)
        return
    if before != after or type(before) is not type(after):
        out.append({"path": path, "before": before, "after": after, "kind": "changed"})


def _node_summary(node: Mapping[str, Any]) -> dict[str, Any]:
    data = node.get("data") if isinstance(node.get("data"), Mapping) else {}
    return {
        "id": node.get("id"),
        "type": data.get("type") or node.get("type"),
        "title": data.get("title", ""),
    }


def _nodes_by_id(graph: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(n.get("id")): n
        for n in graph.get("nodes") or []
        if isinstance(n, Mapping) and n.get("id") is not None
    }


def _edge_key(edge: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(edge.get("source")),
        str(edge.get("sourceHandle") or "source"),
        str(edge.get("target")),
        str(edge.get("targetHandle") or "target"),
    )


def _edge_summary(edge: Mapping[str, Any]) -> dict[str, Any]:
    source, handle, target, target_handle = _edge_key(edge)
    return {
        "id": edge.get("id"),
        "source": source,
        "source_handle": handle,
        "target": target,
        "target_handle": target_handle,
    }


def _diff_graph(base: Mapping[str, Any], target: Mapping[str, Any], include_layout: bool) -> dict[str, Any]:
    ignore = frozenset() if include_layout else LAYOUT_KEYS
    base_nodes, target_nodes = _nodes_by_id(base), _nodes_by_id(target)
    nodes = {
        "added": [_node_summary(target_nodes[i]) for i in target_nodes if i not in base_nodes],
        "removed": [_node_summary(base_nodes[i]) for i in base_nodes if i not in target_nodes],
        "changed": [],
    }
    for node_id, before in base_nodes.items():
        after = target_nodes.get(node_id)
        if after is None:
            continue
        changes: list[dict[str, Any]] = []
        _changes(before, after, "", changes, ignore | {"id"})
        if changes:
            nodes["changed"].append({**_node_summary(after), "changes": changes})

    base_edges = {_edge_key(e): e for e in base.get("edges") or [] if isinstance(e, Mapping)}
    target_edges = {_edge_key(e): e for e in target.get("edges") or [] if isinstance(e, Mapping)}
    edges = {
        "added": [_edge_summary(target_edges[k]) for k in target_edges if k not in base_edges],
        "removed": [_edge_summary(base_edges[k]) for k in base_edges if k not in target_edges],
        "changed": [],
    }
    for key, before in base_edges.items():
        after = target_edges.get(key)
        if after is None:
            continue
        changes = []
        _changes(before, after, "", changes, ignore | {"source", "target", "sourceHandle", "targetHandle"})
        if changes:
            edges["changed"].append({**_edge_summary(after), "changes": changes})
    return {"nodes": nodes, "edges": edges}


def _diff_variables(base: Sequence[Mapping[str, Any]], target: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    def comparable(variable: Mapping[str, Any]) -> dict[str, Any]:
        item = dict(variable)
        if item.get("value_type") == "secret":
            # Ciphertexts differ for equal secrets: compare plain values, report them masked.
            item["value"] = _decrypt(item.get("value"))
        return item

    base_by = {v.get("name"): comparable(v) for v in base}
    target_by = {v.get("name"): comparable(v) for v in target}
    changed = []
    for name, before in base_by.items():
        after = target_by.get(name)
        if after is None:
            continue
        changes: list[dict[str, Any]] = []
        _changes(before, after, "", changes, frozenset())
        if before.get("value_type") == "secret" or after.get("value_type") == "secret":
            for change in changes:
                if change["path"] == "value":
                    change["before"] = change["after"] = "******"
        if changes:
            changed.append({"name": name, "changes": changes})
    return {
        "added": [n for n in target_by if n not in base_by],
        "removed": [n for n in base_by if n not in target_by],
        "changed": changed,
    }


def _describe(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": str(workflow.id),
        "version": workflow.version,
        "number": workflow.number,
        "marked_name": workflow.marked_name,
        "hash": workflow_hash(graph=workflow.graph, features=workflow.features),
    }


def workflow_compare(*, base: Workflow, target: Workflow, include_layout: bool = False) -> dict[str, Any]:
    """What changed from ``base`` to ``target`` (pure: reads the two rows, writes nothing)."""
    graph = _diff_graph(base.graph or {}, target.graph or {}, include_layout)
    features: list[dict[str, Any]] = []
    _changes(base.features or {}, target.features or {}, "", features, frozenset())
    env = _diff_variables(base.environment_variables or [], target.environment_variables or [])
    conv = _diff_variables(base.conversation_variables or [], target.conversation_variables or [])
    sections = [graph["nodes"], graph["edges"], env, conv]
    identical = not features and not any(s["added"] or s["removed"] or s["changed"] for s in sections)
    return {
        "base": _describe(base),
        "target": _describe(target),
        "identical": identical,
        "nodes": graph["nodes"],
        "edges": graph["edges"],
        "features": {"changed": features},
        "environment_variables": env,
        "conversation_variables": conv,
    }
