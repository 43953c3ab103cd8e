"""Node base class, run result, run context and config-parsing helpers.

A node class parses and validates its `data` once, in `__init__` (at `parse_graph` time), and keeps
compiled templates; `run` / `arun` then only read the pool and call ports. Nodes never write the
pool themselves: they return a `NodeResult` and the executor stores outputs, applies variable
updates and decides edges, so the executor stays the single writer of run state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ConfigError, NodeError, PortMissingError
from ..templates import Selector, VariableTemplate, compile_template

if TYPE_CHECKING:
    from ..pool import VariablePool
    from ..ports import Ports

ROOT = "root"
BRANCH = "branch"
CONTAINER = "container"
RESPONSE = "response"
EXECUTABLE = "executable"

SUCCEEDED = "succeeded"
FAILED = "failed"
PAUSED = "paused"

ERROR_STRATEGIES = frozenset({"default-value", "fail-branch"})
DEFAULT_VALUE_TYPES = frozenset(
    {"string", "number", "object", "array[number]", "array[string]", "array[object]", "array[file]"}
)


@dataclass(slots=True)
class VariableUpdate:
    selector: tuple[str, str]
    value: Any
    value_type: str


@dataclass(slots=True)
class NodeResult:
    status: str = SUCCEEDED
    outputs: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None
    error: str = ""
    error_type: str = ""
    handle: str | None = None  # edge source handle chosen by a branch node
    metadata: dict[str, Any] = field(default_factory=dict)
    updates: list[VariableUpdate] = field(default_factory=list)
    pause_reason: dict[str, Any] | None = None

    @classmethod
    def failed(cls, error: str, error_type: str = "NodeError", **kwargs: Any) -> NodeResult:
        return cls(status=FAILED, error=error, error_type=error_type, **kwargs)


class NodeContext:
    """What a running node may touch: the pool (read), the ports, and the stream.

    Created by the executor for each node execution. `emit_chunk` feeds the answer-ordering
    coordinator; it is synchronous and safe to call from async nodes (single event loop).
    """

    __slots__ = ("_frame", "execution_id", "node", "pool")

    def __init__(self, frame: Any, node: Node, execution_id: str, pool: VariablePool) -> None:
        self._frame = frame
        self.node = node
        self.execution_id = execution_id
        self.pool = pool

    @property
    def ports(self) -> Ports:
        return self._frame.run.ports

    @property
    def run_id(self) -> str:
        return self._frame.run.run_id

    @property
    def call_depth(self) -> int:
        return self._frame.run.call_depth

    @property
    def limits(self) -> Any:
        return self._frame.run.limits

    def system(self, name: str, default: Any = None) -> Any:
        return self.pool.get(("sys", name), default)

    def emit_chunk(self, selector: Sequence[str], chunk: str, is_final: bool = False) -> None:
        self._frame.node_chunk(self, tuple(selector), chunk, is_final)

    def emit_reasoning(self, chunk: str, is_final: bool = False) -> None:
        self._frame.node_reasoning(self, chunk, is_final)

    def emit_agent_log(self, data: dict[str, Any]) -> None:
        self._frame.node_agent_log(self, data)

    def emit_retriever_resources(self, resources: list[dict[str, Any]]) -> None:
        self._frame.node_retriever_resources(self, resources)

    def require(self, port_name: str) -> Any:
        port = getattr(self.ports, port_name, None)
        if port is None:
            raise PortMissingError(
                f"node '{self.node.id}' needs the '{port_name}' port, which this run was not given"
            )
        return port

    def human_submission(self) -> dict[str, Any] | None:
        return self._frame.run.human_submissions.get(self.node.id)


class Node:
    """Base class of every node type. Subclasses set the class variables and implement `configure`."""

    type: ClassVar[str] = ""
    execution: ClassVar[str] = EXECUTABLE
    is_async: ClassVar[bool] = False
    retryable: ClassVar[bool] = False  # Dify honours retry only on llm, code, http-request, tool
    hidden: ClassVar[bool] = False  # iteration-start / loop-start: no events surfaced
    capabilities: ClassVar[frozenset[str]] = frozenset()  # live capabilities, for restricted policies

    def __init__(self, node_id: str, data: Mapping[str, Any], scope: str) -> None:
        self.id = node_id
        self.data = data
        self.scope = scope
        self.title = str(data.get("title") or "")
        self.version = str(data.get("version") or "1")
        strategy = data.get("error_strategy")
        if strategy in (None, "", "none"):
            strategy = None
        elif strategy not in ERROR_STRATEGIES:
            raise ConfigError(f"error_strategy must be 'default-value' or 'fail-branch', got {strategy!r}")
        self.error_strategy: str | None = strategy
        self.default_outputs: dict[str, Any] = _parse_default_values(data.get("default_value"))
        retry = data.get("retry_config") or {}
        if not isinstance(retry, Mapping):
            raise ConfigError("retry_config must be an object")
        self.retry_enabled = bool(retry.get("retry_enabled", False)) and self.retryable
        self.max_retries = _int(retry.get("max_retries", 0), "retry_config.max_retries", minimum=0)
        self.retry_interval = (
            _int(retry.get("retry_interval", 0), "retry_config.retry_interval", minimum=0) / 1000
        )
        self.configure(data)

    # -- to override -----------------------------------------------------------------------------
    def configure(self, data: Mapping[str, Any]) -> None:
        """Parse and validate `data`; raise ConfigError naming the field."""

    def references(self) -> list[Selector]:
        """Structured selectors this node reads (`value_selector` fields), validated against existing
        node ids at parse time. `{{#..#}}` references inside free text are not validated: Dify renders
        an unresolvable one as its dotted path, and real exports contain such text."""
        return []

    def writes(self) -> set[tuple[str, str]]:
        """Variables this node assigns (assigners); makes edges to answers using them blocking."""
        return set()

    def streaming_template(self) -> list[str | Selector] | None:
        """Response nodes: the text/selector segments streamed in order."""
        return None

    def run(self, ctx: NodeContext) -> NodeResult:
        raise NodeError(f"node type {self.type} has no synchronous run")

    async def arun(self, ctx: NodeContext) -> NodeResult:
        return self.run(ctx)

    # -- derived -----------------------------------------------------------------------------------
    @property
    def effective_execution(self) -> str:
        """Nodes with a fail-branch strategy behave as branch nodes (Dify promotes them)."""
        if self.error_strategy == "fail-branch" and self.execution == EXECUTABLE:
            return BRANCH
        return self.execution

    @property
    def supports_retry(self) -> bool:
        return self.retry_enabled and self.max_retries > 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


# -- config helpers ------------------------------------------------------------------------------------


def _int(value: Any, field_name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{field_name} must be an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise ConfigError(f"{field_name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{field_name} must be >= {minimum}, got {value}")
    return value


def get_int(data: Mapping[str, Any], key: str, default: int, minimum: int | None = None) -> int:
    value = data.get(key)
    if value is None or value == "":
        return default
    return _int(value, key, minimum)


def get_str(data: Mapping[str, Any], key: str, default: str = "", required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{key} is required")
        return default
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {type(value).__name__}")
    return value


def get_bool(data: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int):
        return bool(value)
    raise ConfigError(f"{key} must be a boolean, got {value!r}")


def get_list(data: Mapping[str, Any], key: str, required: bool = False) -> list[Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{key} is required")
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list, got {type(value).__name__}")
    return value


def get_dict(data: Mapping[str, Any], key: str, required: bool = False) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{key} is required")
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key} must be an object, got {type(value).__name__}")
    return value


def as_selector(value: Any, field_name: str, allow_empty: bool = False) -> Selector:
    if value is None or value == []:
        if allow_empty:
            return ()
        raise ConfigError(f"{field_name} is required")
    if not isinstance(value, list | tuple) or not all(isinstance(part, str) for part in value):
        raise ConfigError(f"{field_name} must be a list of strings, got {value!r}")
    if len(value) < 2:
        if allow_empty:
            return ()
        raise ConfigError(f"{field_name} must have at least 2 parts, got {list(value)}")
    return tuple(value)


def get_selector(data: Mapping[str, Any], key: str, allow_empty: bool = False) -> Selector:
    return as_selector(data.get(key), key, allow_empty)


def get_template(data: Mapping[str, Any], key: str, default: str = "") -> VariableTemplate:
    return compile_template(get_str(data, key, default))


@dataclass(frozen=True, slots=True)
class VariableBinding:
    """`{variable, value_selector}` entries used by code, template-transform and LLM jinja2."""

    name: str
    selector: Selector


def parse_bindings(raw: Any, field_name: str) -> tuple[VariableBinding, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{field_name} must be a list")
    bindings = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ConfigError(f"{field_name}[{index}] must be an object")
        name = item.get("variable")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{field_name}[{index}].variable must be a non-empty string")
        selector = as_selector(
            item.get("value_selector"), f"{field_name}[{index}].value_selector", allow_empty=True
        )
        bindings.append(VariableBinding(name, selector))
    return tuple(bindings)


def _parse_default_values(raw: Any) -> dict[str, Any]:
    """Dify's DefaultValue validation: JSON-parse strings for non-string types, then type-check."""
    if not raw:
        return {}
    if not isinstance(raw, list):
        raise ConfigError("default_value must be a list")
    outputs: dict[str, Any] = {}
    for index, item in enumerate(raw):
        where = f"default_value[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} must be an object")
        key, kind, value = item.get("key"), item.get("type"), item.get("value")
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}.key must be a non-empty string")
        if kind not in DEFAULT_VALUE_TYPES:
            raise ConfigError(f"{where}.type {kind!r} is not supported")
        if kind == "array[file]":
            outputs[key] = value
            continue
        if isinstance(value, str) and kind != "string":
            try:
                value = float(value) if kind == "number" else json.loads(value)
            except ValueError as error:
                raise ConfigError(f"{where}: cannot convert {value!r} to {kind}") from error
        ok = {
            "string": lambda v: isinstance(v, str),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
            "array[number]": lambda v: (
                isinstance(v, list) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
            ),
            "array[string]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "array[object]": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
        }[kind](value)
        if not ok:
            raise ConfigError(f"{where}: value {value!r} is not of type {kind}")
        outputs[key] = value
    return outputs


def selectors_of(*groups: Any) -> list[Selector]:
    """Collect non-empty selectors from values, templates and binding lists."""
    found: list[Selector] = []
    for group in groups:
        if group is None:
            continue
        if isinstance(group, VariableTemplate):
            found.extend(group.selectors)
        elif isinstance(group, VariableBinding):
            if group.selector:
                found.append(group.selector)
        elif isinstance(group, tuple) and group and all(isinstance(part, str) for part in group):
            found.append(group)
        elif isinstance(group, list | tuple):
            found.extend(selectors_of(*group))
    return found
