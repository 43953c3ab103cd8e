"""Exceptions raised by the engine.

`GraphError` is raised before a run (the graph is refused); `InputError` is raised when the
user inputs do not fit the Start node's form. Failures *during* a run are never raised: they
become events (`NodeFailed`, `RunFailed`) so the caller can record them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GraphIssue:
    """One problem found while validating a graph. `node_id` names the node at fault."""

    code: str
    message: str
    node_id: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class GraphError(ValueError):
    """The graph cannot run. Carries every issue found; the message names the nodes at fault.

    Codes: UNKNOWN_NODE_TYPE, MISSING_START, MISSING_NODE, DUPLICATE_NODE_ID, INVALID_NODE,
    INVALID_EDGE, CROSS_SCOPE_EDGE, CYCLE, UNKNOWN_SELECTOR, INVALID_CONFIG, NOT_AN_APP,
    NODE_NOT_ADMITTED, INVALID_CANONICAL_JSON, BINDING_MISMATCH.
    """

    def __init__(self, issues: list[GraphIssue] | GraphIssue) -> None:
        self.issues: tuple[GraphIssue, ...] = (issues,) if isinstance(issues, GraphIssue) else tuple(issues)
        if not self.issues:
            raise ValueError("GraphError needs at least one issue")
        super().__init__("; ".join(str(issue) for issue in self.issues))

    @property
    def codes(self) -> set[str]:
        return {issue.code for issue in self.issues}

    @property
    def node_ids(self) -> set[str]:
        return {issue.node_id for issue in self.issues if issue.node_id}


class ConfigError(ValueError):
    """A node's `data` is not valid. Raised by node constructors, wrapped into a GraphError."""


class InputError(ValueError):
    """User inputs do not satisfy the Start node's variables (required, type, length, options)."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class NodeError(Exception):
    """Raised inside a node's run to fail the node with a message (and a Dify-style error type)."""

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type or type(self).__name__


class PortMissingError(NodeError):
    """The node needs an outside-world port (model, HTTP, ...) that the run was not given."""
