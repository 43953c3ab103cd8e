"""Reading a Dify app DSL file: parse, bound, check that it is an app, check its version and graph.

Everything here is pure (no database): :func:`parse_dsl` turns text into a :class:`DslDocument` or raises
:class:`DslError` naming the problem. The app-level import (``apps.services.app_dsl``) decides what to
store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from workflows.dsl.versions import (
    CURRENT_DSL_VERSION,
    DEFAULT_IMPORTED_VERSION,
    ImportStatus,
    check_version_compatibility,
)
from workflows.services.errors import WorkflowGraphInvalid
from workflows.services.graph import MAX_DEPTH, graph_check_structure

DSL_MAX_SIZE = 10 * 1024 * 1024  # Dify's limit: 10 MB
# A YAML file may alias the same node many times ("billion laughs"); counting values as the data would
# be expanded bounds the work any later step (JSON encoding, storage) can be made to do.
MAX_EXPANDED_VALUES = 2_000_000
APP_MODES = ("workflow", "advanced-chat", "chat", "agent-chat", "completion")
WORKFLOW_MODES = ("workflow", "advanced-chat")
ICON_TYPES = ("emoji", "image", "link")


class DslError(Exception):
    """The file cannot be imported. ``code`` is the error code, ``status`` the HTTP status to answer."""

    def __init__(
        self, message: str, *, code: str = "invalid_dsl", status: int = 400, imported_version: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.imported_version = imported_version


@dataclass
class DslDocument:
    data: dict[str, Any]
    version: str
    status: ImportStatus
    mode: str
    app: dict[str, Any]
    dependencies: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def workflow(self) -> dict[str, Any]:
        return self.data.get("workflow") or {}

    @property
    def model_config(self) -> dict[str, Any]:
        return self.data.get("model_config") or {}


def check_size(content: str | bytes) -> None:
    size = len(content.encode() if isinstance(content, str) else content)
    if size > DSL_MAX_SIZE:
        raise DslError(
            f"File size exceeds the limit of 10MB ({size} bytes).", code="file_too_large", status=413
        )


def _count_values(data: Any) -> None:
    budget = MAX_EXPANDED_VALUES
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise DslError(
                "Invalid YAML: the document expands to too many values (aliases nested too deeply)."
            )
        if depth > MAX_DEPTH + 4:  # the graph sits a few levels down (workflow.graph.nodes...)
            raise DslError(f"Invalid DSL: the document nests more than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def load_yaml(content: str) -> Any:
    check_size(content)
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise DslError(f"Invalid YAML format{where}: {problem}") from None
    except (ValueError, TypeError, RecursionError) as error:
        raise DslError(f"Invalid YAML format: {error}") from None
    _count_values(data)
    return data


def _check_block(data: Mapping[str, Any], mode: str) -> None:
    if mode in WORKFLOW_MODES:
        workflow = data.get("workflow")
        if not isinstance(workflow, Mapping) or not workflow:
            raise DslError("Missing workflow data for workflow/advanced chat app.")
        graph = workflow.get("graph")
        if not isinstance(graph, Mapping):
            raise DslError("Missing workflow graph: 'workflow.graph' must be an object with nodes and edges.")
        for key in ("features",):
            if workflow.get(key) is not None and not isinstance(workflow.get(key), Mapping):
                raise DslError(f"'workflow.{key}' must be an object.")
        for key in ("environment_variables", "conversation_variables"):
            if workflow.get(key) is not None and not isinstance(workflow.get(key), list):
                raise DslError(f"'workflow.{key}' must be a list.")
        try:
            graph_check_structure(graph)
        except WorkflowGraphInvalid as error:
            raise DslError(error.message, code="invalid_graph") from None
    else:
        model_config = data.get("model_config")
        if not isinstance(model_config, Mapping) or not model_config:
            raise DslError("Missing model_config for chat/agent-chat/completion app.")


def parse_dsl(content: str) -> DslDocument:
    """Parse and check a DSL text. Raises DslError naming the problem (invalid YAML, not an app, an
    unsupported version, an unknown mode, missing blocks, an unknown node type, a dangling edge...)."""
    data = load_yaml(content)
    if not isinstance(data, dict):
        raise DslError("Invalid YAML format: content must be a mapping (a Dify app DSL).")
    version = data.get("version") or DEFAULT_IMPORTED_VERSION
    if not isinstance(version, str):
        raise DslError(f"Invalid version type, expected str, got {type(version).__name__}.")
    status = check_version_compatibility(version)
    if status == ImportStatus.FAILED:
        raise DslError(f"Invalid DSL version {version!r}.", imported_version=version)
    app = data.get("app")
    if not isinstance(app, Mapping) or not app:
        hint = ""
        if "nodes" in data or "edges" in data:
            hint = " (the file has top-level nodes/edges: it is a bare graph, not a Dify app export)"
        raise DslError(
            f"Not a Dify app DSL: missing app data in YAML content{hint}.",
            code="not_an_app",
            imported_version=version,
        )
    mode = app.get("mode")
    if not mode:
        raise DslError("loss app mode: 'app.mode' is required.", imported_version=version)
    if mode not in APP_MODES:
        raise DslError(
            f"Invalid app mode {mode!r}; expected one of {', '.join(APP_MODES)}.", imported_version=version
        )
    data["kind"] = "app"  # Dify forces it
    data["version"] = version
    try:
        _check_block(data, mode)
    except DslError as error:
        error.imported_version = version
        raise
    dependencies = data.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise DslError("'dependencies' must be a list.", imported_version=version)
    warnings = []
    if status == ImportStatus.COMPLETED_WITH_WARNINGS:
        warnings.append(
            f"The DSL version {version} is older than the current version {CURRENT_DSL_VERSION}; "
            "some features may not be compatible."
        )
    return DslDocument(
        data=data,
        version=version,
        status=status,
        mode=mode,
        app=dict(app),
        dependencies=list(dependencies),
        warnings=warnings,
    )
