"""Container nodes: iteration and loop. Their configuration lives here; the executor runs their bodies
(see `executor.run_iteration` / `run_loop`) because a body is a sub-graph with its own frame."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..conditions import parse_conditions
from ..errors import ConfigError
from ..templates import Selector
from ..values import ALL_TYPES, ARRAY_NUMBER, ARRAY_OBJECT, ARRAY_STRING, coerce_declared, matches_type
from .base import CONTAINER, Node, get_bool, get_int, get_list, get_selector, get_str

ERROR_MODES = frozenset({"terminated", "continue-on-error", "remove-abnormal-output"})


class IterationNode(Node):
    type = "iteration"
    execution = CONTAINER
    is_async = True

    def configure(self, data: Mapping[str, Any]) -> None:
        self.iterator = get_selector(data, "iterator_selector")
        self.output_selector = get_selector(data, "output_selector", allow_empty=True)
        self.start_node_id = get_str(data, "start_node_id", required=True)
        self.is_parallel = get_bool(data, "is_parallel", False)
        self.parallel_nums = get_int(data, "parallel_nums", 10, minimum=1)
        self.error_mode = get_str(data, "error_handle_mode", "terminated")
        if self.error_mode not in ERROR_MODES:
            raise ConfigError(
                f"error_handle_mode must be one of {sorted(ERROR_MODES)}, got {self.error_mode!r}"
            )
        self.flatten_output = get_bool(data, "flatten_output", True)

    def references(self) -> list[Selector]:
        return [self.iterator, *([self.output_selector] if self.output_selector else [])]


class LoopVariable:
    __slots__ = ("label", "selector", "type", "value", "value_type")

    def __init__(self, label: str, type_name: str, value_type: str, value: Any) -> None:
        self.label = label
        self.type = type_name
        self.value_type = value_type
        self.value = value
        self.selector: Selector | None = None


def constant_value(type_name: str, raw: Any) -> Any:
    """Dify decodes loop-variable constants: JSON text for arrays, numbers from strings, ..."""
    value = raw
    if type_name in (ARRAY_NUMBER, ARRAY_OBJECT, ARRAY_STRING):
        value = json.loads(raw) if raw and isinstance(raw, str) else (raw if isinstance(raw, list) else [])
    if matches_type(type_name, value):
        return value
    if isinstance(raw, str):
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = coerce_declared(type_name, raw)
        if matches_type(type_name, decoded):
            return decoded
    raise ConfigError(f"value {raw!r} does not match type {type_name}")


class LoopNode(Node):
    type = "loop"
    execution = CONTAINER
    is_async = True

    def configure(self, data: Mapping[str, Any]) -> None:
        self.start_node_id = get_str(data, "start_node_id", required=True)
        self.loop_count = get_int(data, "loop_count", 1, minimum=1)
        operator = data.get("logical_operator") or "and"
        if operator not in ("and", "or"):
            raise ConfigError("logical_operator must be 'and' or 'or'")
        self.logical_operator = operator
        self.break_conditions = parse_conditions(data.get("break_conditions"), "break_conditions")
        self.variables: list[LoopVariable] = []
        for index, raw in enumerate(get_list(data, "loop_variables")):
            where = f"loop_variables[{index}]"
            if not isinstance(raw, Mapping) or not isinstance(raw.get("label"), str) or not raw["label"]:
                raise ConfigError(f"{where} must be an object with a label")
            type_name = raw.get("var_type") or "string"
            if type_name not in ALL_TYPES:
                raise ConfigError(f"{where}.var_type {type_name!r} is not a variable type")
            value_type = raw.get("value_type") or "constant"
            value = raw.get("value")
            if value_type == "constant":
                try:
                    value = constant_value(type_name, value)
                except (ConfigError, ValueError) as error:
                    raise ConfigError(f"{where} ({raw['label']}): {error}") from error
            elif value_type == "variable":
                if not isinstance(value, list) or len(value) < 2:
                    raise ConfigError(f"{where}.value must be a selector for a variable loop variable")
                value = tuple(value)
            else:
                raise ConfigError(f"{where}.value_type must be constant or variable")
            self.variables.append(LoopVariable(raw["label"], type_name, value_type, value))

    def references(self) -> list[Selector]:
        found: list[Selector] = []
        for condition in self.break_conditions:
            found.append(condition.selector)
        found.extend(variable.value for variable in self.variables if variable.value_type == "variable")
        return found
