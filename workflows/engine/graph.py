"""Graph parsing and validation: `parse_graph(workflow.graph) -> Graph` (immutable, reusable).

Everything that can be decided before a run is decided here, once per graph: node configs are
parsed and templates compiled, adjacency is precomputed per scope (the root graph and each
container body), cycles are rejected, selectors are checked against existing node ids, and the
answer-streaming plan (which edges block which Answer/End node) is computed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import ConfigError, GraphError, GraphIssue
from .nodes import resolve_node_class
from .nodes.base import BRANCH, CONTAINER, RESPONSE, ROOT, Node
from .nodes.containers import LoopNode
from .pool import RESERVED_PREFIXES
from .templates import Selector

# Dify picks the first of these in list order; other roots, and what only they reach, never run.
ROOT_TYPES = frozenset({"start", "trigger-webhook", "trigger-schedule", "trigger-plugin"})
NOTE_TYPE = "custom-note"


@dataclass(frozen=True, slots=True)
class Edge:
    id: str
    source: str
    target: str
    handle: str = "source"


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """How one Answer/End node streams: its segments and which edges must be taken first."""

    node_id: str
    segments: tuple[str | Selector, ...]
    blocking_edges: frozenset[str]  # blocking edges on some path root -> node
    ancestors: frozenset[str]  # nodes from which this response node is reachable
    initially_eligible: bool


@dataclass(frozen=True, slots=True)
class Scope:
    """The root graph or one container body: nodes, adjacency, and its root node."""

    container_id: str  # "" for the root graph
    root_id: str
    node_ids: tuple[str, ...]
    out_edges: Mapping[str, tuple[Edge, ...]]
    in_edges: Mapping[str, tuple[Edge, ...]]
    in_degree: Mapping[str, int]
    response_plans: Mapping[str, ResponsePlan]
    blocking: frozenset[str]  # ids of blocking edges (any response node)
    descendants: frozenset[str] = frozenset()  # for loops: every node governed by this container


@dataclass(frozen=True)
class GraphPolicy:
    """Restrictions applied while parsing (used for restricted / "builder" execution).

    * `denied_node_types`: node types that are refused before the run (NODE_NOT_ADMITTED).
    * `denied_capabilities`: refuse nodes needing these live capabilities ("code", "jinja", "models",
      "tools", "http", ...).
    * `require_plain_json`: refuse configs holding anything but plain JSON values.
    * `expected_digest`: refuse a graph whose canonical digest differs (it changed after admission).
    """

    denied_node_types: frozenset[str] = frozenset()
    denied_capabilities: frozenset[str] = frozenset()
    require_plain_json: bool = False
    expected_digest: str | None = None


@dataclass(frozen=True)
class Graph:
    nodes: Mapping[str, Node]
    edges: Mapping[str, Edge]
    scopes: Mapping[str, Scope]
    root_id: str
    digest: str
    _raw: Mapping[str, Any] = field(repr=False)

    @property
    def root_scope(self) -> Scope:
        return self.scopes[""]

    def to_dict(self) -> dict[str, Any]:
        """The graph config as given (extra keys preserved), as a fresh copy."""
        return copy.deepcopy(dict(self._raw))

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    @property
    def start_node(self) -> Node:
        return self.nodes[self.root_id]


# -- canonical JSON ------------------------------------------------------------------------------------


def _plain_json_issue(value: Any, path: str) -> str | None:
    """First path holding a value that is not exactly a JSON type (subclasses such as enums count)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"{path}: non-string key {key!r}"
            issue = _plain_json_issue(item, f"{path}.{key}")
            if issue:
                return issue
        return None
    if kind is list:
        for index, item in enumerate(value):
            issue = _plain_json_issue(item, f"{path}[{index}]")
            if issue:
                return issue
        return None
    if kind in (str, int, float, bool) or value is None:
        return None
    return f"{path}: {kind.__name__} is not a plain JSON value"


def canonical_digest(config: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON form (sorted keys, no spaces)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- container ownership -------------------------------------------------------------------------------


def _owner_candidates(node: Mapping[str, Any]) -> tuple[str, ...]:
    data = node.get("data") if isinstance(node.get("data"), Mapping) else {}
    if "container_id" in data:
        return (
            (data["container_id"],) if isinstance(data["container_id"], str) and data["container_id"] else ()
        )
    parent = node.get("parentId")
    if isinstance(parent, str) and parent:
        return (parent,)
    found: list[str] = []
    for key in ("iteration_id", "loop_id"):
        owner = data.get(key)
        if isinstance(owner, str) and owner and owner not in found:
            found.append(owner)
    return tuple(found)


def _resolve_owner(node: Mapping[str, Any], nodes_by_id: Mapping[str, Mapping[str, Any]]) -> str:
    candidates = _owner_candidates(node)
    if len(candidates) <= 1:
        return candidates[0] if candidates else ""
    first, second = candidates

    def is_inside(inner: str, outer: str) -> bool:
        pending, seen = [inner], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            config = nodes_by_id.get(current)
            if config is None:
                continue
            for owner in _owner_candidates(config):
                if owner == outer:
                    return True
                pending.append(owner)
        return False

    first_inner, second_inner = is_inside(first, second), is_inside(second, first)
    if first_inner != second_inner:
        return first if first_inner else second
    raise ConfigError("ambiguous legacy container owners (iteration_id and loop_id); set data.container_id")


# -- parsing -------------------------------------------------------------------------------------------


def parse_graph(
    config: Mapping[str, Any], *, policy: GraphPolicy | None = None, root_id: str | None = None
) -> Graph:
    """Validate a DSL graph (`{"nodes": [...], "edges": [...]}`) and build an immutable Graph.

    The run starts from the first root (start or trigger node) in list order, or from ``root_id`` when
    given (a workflow with several triggers runs from the one that fired). Raises GraphError listing
    every problem found, each naming the node at fault.
    """
    policy = policy or GraphPolicy()
    issues: list[GraphIssue] = []
    if not isinstance(config, Mapping):
        raise GraphError(GraphIssue("INVALID_GRAPH", "the graph must be an object with nodes and edges"))
    if policy.require_plain_json:
        problem = _plain_json_issue(dict(config) if type(config) is not dict else config, "graph")
        if problem:
            raise GraphError(GraphIssue("INVALID_CANONICAL_JSON", f"invalid_canonical_json: {problem}"))
    digest = canonical_digest(config)
    if policy.expected_digest is not None and digest != policy.expected_digest:
        raise GraphError(
            GraphIssue(
                "BINDING_MISMATCH", "execution_binding_mismatch: the graph changed since it was admitted"
            )
        )
    raw_nodes = config.get("nodes")
    raw_edges = config.get("edges") or []
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        raise GraphError(
            GraphIssue("INVALID_GRAPH", "the graph must have a 'nodes' list and an 'edges' list")
        )

    # 1. nodes and their scopes
    node_configs: dict[str, Mapping[str, Any]] = {}
    order: list[str] = []
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, Mapping):
            issues.append(GraphIssue("INVALID_NODE", f"node at index {index} must be an object"))
            continue
        if raw.get("type") == NOTE_TYPE:
            continue
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not node_id:
            issues.append(GraphIssue("INVALID_NODE", f"node at index {index} has no valid id: {node_id!r}"))
            continue
        if node_id in node_configs:
            issues.append(GraphIssue("DUPLICATE_NODE_ID", f"duplicate node id '{node_id}'", node_id))
            continue
        if not isinstance(raw.get("data"), Mapping):
            issues.append(GraphIssue("INVALID_NODE", f"node '{node_id}' has no data object", node_id))
            continue
        node_configs[node_id] = raw
        order.append(node_id)

    nodes: dict[str, Node] = {}
    for node_id in order:
        raw = node_configs[node_id]
        data = raw["data"]
        node_type = data.get("type")
        label = f"node '{node_id}'" + (f" ({data.get('title')})" if data.get("title") else "")
        try:
            scope = _resolve_owner(raw, node_configs)
        except ConfigError as error:
            issues.append(GraphIssue("INVALID_CONFIG", f"{label}: {error}", node_id))
            continue
        if scope and scope not in node_configs:
            issues.append(
                GraphIssue(
                    "MISSING_NODE", f"{label} belongs to container '{scope}', which does not exist", node_id
                )
            )
            continue
        cls = resolve_node_class(node_type, data.get("version")) if isinstance(node_type, str) else None
        if cls is None:
            issues.append(
                GraphIssue("UNKNOWN_NODE_TYPE", f"{label} has unknown node type {node_type!r}", node_id)
            )
            continue
        if node_type in policy.denied_node_types or cls.capabilities & policy.denied_capabilities:
            issues.append(
                GraphIssue(
                    "NODE_NOT_ADMITTED",
                    f"unsupported_node_implementation: {label} of type '{node_type}' is not admitted",
                    node_id,
                )
            )
            continue
        try:
            nodes[node_id] = cls(node_id, MappingProxyType(dict(data)), scope)
        except ConfigError as error:
            issues.append(GraphIssue("INVALID_CONFIG", f"{label} ({node_type}): {error}", node_id))

    # 2. edges
    edges: dict[str, Edge] = {}
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, Mapping):
            issues.append(GraphIssue("INVALID_EDGE", f"edge at index {index} must be an object"))
            continue
        source, target = raw.get("source"), raw.get("target")
        handle = raw.get("sourceHandle", "source")
        if handle is None:
            handle = "source"
        edge_id = raw.get("id") or f"edge_{index}"
        if not isinstance(source, str) or not isinstance(target, str):
            issues.append(GraphIssue("INVALID_EDGE", f"edge '{edge_id}': source and target must be strings"))
            continue
        if not isinstance(handle, str):
            issues.append(
                GraphIssue("INVALID_EDGE", f"edge '{edge_id}': sourceHandle must be a string", source)
            )
            continue
        missing = [
            f"{field_name} '{node}'"
            for field_name, node in (("source", source), ("target", target))
            if node not in node_configs
        ]
        if missing:
            issues.append(
                GraphIssue(
                    "MISSING_NODE",
                    f"edge '{edge_id}' references missing {' and '.join(missing)}",
                    target if target not in node_configs else source,
                )
            )
            continue
        if source not in nodes or target not in nodes:
            continue  # the endpoint already has an issue of its own
        if nodes[source].scope != nodes[target].scope:
            issues.append(
                GraphIssue(
                    "CROSS_SCOPE_EDGE",
                    f"edge '{edge_id}' connects '{source}' and '{target}' across container boundaries",
                    target,
                )
            )
            continue
        if edge_id in edges:
            edge_id = f"{edge_id}#{index}"
        edges[edge_id] = Edge(edge_id, source, target, handle)

    # 3. root node
    chosen_root = root_id
    root_id = next(
        (
            nid
            for nid in order
            if nid in nodes
            and nodes[nid].scope == ""
            and nodes[nid].type in ROOT_TYPES
            and chosen_root in (None, nid)
        ),
        None,
    )
    if chosen_root is not None and root_id is None:
        issues.append(
            GraphIssue("MISSING_START", f"'{chosen_root}' is not a start or trigger node of the workflow")
        )
    if (
        root_id is None
        and chosen_root is None
        and not any(
            i.code == "UNKNOWN_NODE_TYPE"
            and node_configs.get(i.node_id or "", {}).get("data", {}).get("type") in ROOT_TYPES
            for i in issues
        )
    ):
        issues.append(GraphIssue("MISSING_START", "the graph has no start node"))

    # 4. containers and scopes
    containers = {nid: node for nid, node in nodes.items() if node.execution == CONTAINER}
    members: dict[str, list[str]] = {"": []}
    for container_id in containers:
        members[container_id] = []
    for node_id in order:
        node = nodes.get(node_id)
        if node is None:
            continue
        if node.scope and node.scope not in containers:
            if node.scope in nodes:
                issues.append(
                    GraphIssue(
                        "INVALID_CONFIG",
                        f"node '{node_id}' is inside '{node.scope}', which is not a container",
                        node_id,
                    )
                )
            continue
        members.setdefault(node.scope, []).append(node_id)
    for container_id, container in containers.items():
        start = container.start_node_id  # type: ignore[attr-defined]
        if start not in nodes or nodes[start].scope != container_id:
            issues.append(
                GraphIssue(
                    "INVALID_CONFIG",
                    f"{container.type} node '{container_id}': start_node_id '{start}' is not a node inside it",
                    container_id,
                )
            )

    # 5. selectors must name existing nodes
    for node_id, node in nodes.items():
        for selector in node.references():
            if selector and selector[0] not in RESERVED_PREFIXES and selector[0] not in node_configs:
                issues.append(
                    GraphIssue(
                        "UNKNOWN_SELECTOR",
                        f"node '{node_id}' references {'.'.join(selector)}, but node '{selector[0]}' "
                        "does not exist",
                        node_id,
                    )
                )

    # 6. scopes: adjacency, cycles, streaming plans
    scopes: dict[str, Scope] = {}
    if not issues:
        for scope_id, node_ids in members.items():
            scope_root = root_id if scope_id == "" else containers[scope_id].start_node_id  # type: ignore[attr-defined]
            scope_edges = [edge for edge in edges.values() if nodes[edge.source].scope == scope_id]
            cycle = _find_cycle(node_ids, scope_edges)
            if cycle:
                where = f"container '{scope_id}'" if scope_id else "the workflow"
                issues.append(
                    GraphIssue("CYCLE", f"{where} contains a cycle: {' -> '.join(cycle)}", cycle[0])
                )
                continue
            scopes[scope_id] = _build_scope(scope_id, scope_root, node_ids, scope_edges, nodes, containers)
    if issues:
        raise GraphError(issues)
    return Graph(
        nodes=MappingProxyType(nodes),
        edges=MappingProxyType(edges),
        scopes=MappingProxyType(scopes),
        root_id=root_id or "",
        digest=digest,
        _raw=MappingProxyType(copy.deepcopy(dict(config))),
    )


def _find_cycle(node_ids: Iterable[str], edges: list[Edge]) -> list[str] | None:
    ids = list(node_ids)
    successors: dict[str, list[str]] = {nid: [] for nid in ids}
    indegree = dict.fromkeys(ids, 0)
    for edge in edges:
        successors[edge.source].append(edge.target)
        indegree[edge.target] += 1
    queue = deque(nid for nid in ids if indegree[nid] == 0)
    seen = 0
    while queue:
        current = queue.popleft()
        seen += 1
        for nxt in successors[current]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                queue.append(nxt)
    if seen == len(ids):
        return None
    # walk one cycle among the remaining nodes for the error message
    remaining = {nid for nid, degree in indegree.items() if degree > 0}
    current = next(iter(sorted(remaining)))
    path: list[str] = []
    index: dict[str, int] = {}
    while current not in index:
        index[current] = len(path)
        path.append(current)
        current = next(nxt for nxt in successors[current] if nxt in remaining)
    return [*path[index[current] :], current]


def _descendants(
    container_id: str, nodes: Mapping[str, Node], containers: Mapping[str, Node]
) -> frozenset[str]:
    """Nodes whose nearest enclosing loop is `container_id` (loop-end inside a nested iteration counts)."""
    found = set()
    for node_id, node in nodes.items():
        owner = node.scope
        while owner:
            if owner == container_id:
                found.add(node_id)
                break
            if isinstance(containers.get(owner), LoopNode):
                break
            owner = nodes[owner].scope if owner in nodes else ""
    return frozenset(found)


def _build_scope(
    scope_id: str,
    root_id: str,
    node_ids: list[str],
    scope_edges: list[Edge],
    nodes: Mapping[str, Node],
    containers: Mapping[str, Node],
) -> Scope:
    out_edges: dict[str, list[Edge]] = {nid: [] for nid in node_ids}
    in_edges: dict[str, list[Edge]] = {nid: [] for nid in node_ids}
    for edge in scope_edges:
        out_edges[edge.source].append(edge)
        in_edges[edge.target].append(edge)
    plans: dict[str, ResponsePlan] = {}
    blocking_all: set[str] = set()
    for node_id in sorted(node_ids):
        node = nodes[node_id]
        if node.execution != RESPONSE:
            continue
        plan = _response_plan(node, root_id, nodes, out_edges, in_edges)
        plans[node_id] = plan
        blocking_all |= plan.blocking_edges
    descendants = (
        _descendants(scope_id, nodes, containers)
        if isinstance(containers.get(scope_id), LoopNode)
        else (frozenset())
    )
    return Scope(
        container_id=scope_id,
        root_id=root_id,
        node_ids=tuple(node_ids),
        out_edges=MappingProxyType({nid: tuple(edges) for nid, edges in out_edges.items()}),
        in_edges=MappingProxyType({nid: tuple(edges) for nid, edges in in_edges.items()}),
        in_degree=MappingProxyType({nid: len(edges) for nid, edges in in_edges.items()}),
        response_plans=MappingProxyType(plans),
        blocking=frozenset(blocking_all),
        descendants=descendants,
    )


def _response_plan(
    node: Node,
    root_id: str,
    nodes: Mapping[str, Node],
    out_edges: Mapping[str, list[Edge]],
    in_edges: Mapping[str, list[Edge]],
) -> ResponsePlan:
    """Dify's response coordinator computes every root->node path and the blocking edges on each; a
    response node may stream once all blocking edges of *any one* path are taken. Enumerating paths
    is exponential, so we precompute the node's ancestors and decide eligibility with a reachability
    walk that only crosses non-blocking or taken edges (the same predicate, linear time)."""
    segments = tuple(node.streaming_template() or ())
    referenced = {tuple(seg[:2]) for seg in segments if isinstance(seg, tuple)}
    ancestors: set[str] = set()
    pending = [node.id]
    while pending:
        current = pending.pop()
        for edge in in_edges.get(current, ()):
            if edge.source not in ancestors:
                ancestors.add(edge.source)
                pending.append(edge.source)
    blocking: set[str] = set()
    for source_id in ancestors:
        source = nodes[source_id]
        is_blocking = source.effective_execution in (BRANCH, CONTAINER, RESPONSE) or bool(
            source.writes() & referenced
        )
        if not is_blocking:
            continue
        for edge in out_edges.get(source_id, ()):
            if edge.target == node.id or edge.target in ancestors:
                blocking.add(edge.id)
    ancestors_frozen = frozenset(ancestors)
    eligible = is_reachable(root_id, node.id, ancestors_frozen, out_edges, frozenset(blocking), frozenset())
    return ResponsePlan(node.id, segments, frozenset(blocking), ancestors_frozen, eligible)


def is_reachable(
    root_id: str,
    target_id: str,
    ancestors: frozenset[str],
    out_edges: Mapping[str, Any],
    blocking: frozenset[str],
    taken: frozenset[str] | set[str],
) -> bool:
    if root_id == target_id:
        return True
    if root_id not in ancestors:
        return False
    seen = {root_id}
    pending = [root_id]
    while pending:
        current = pending.pop()
        for edge in out_edges.get(current, ()):
            if edge.id in blocking and edge.id not in taken:
                continue
            if edge.target == target_id:
                return True
            if edge.target in ancestors and edge.target not in seen:
                seen.add(edge.target)
                pending.append(edge.target)
    return False


__all__ = ["ROOT", "Edge", "Graph", "GraphPolicy", "ResponsePlan", "Scope", "canonical_digest", "parse_graph"]
