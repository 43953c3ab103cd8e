"""Variable assigners (`type: assigner`): v1 (single write) and v2 (`version: '2'`, list of items).

Both have no outputs. They return variable updates; the executor writes them into the pool and
emits `VariableUpdated`, so a conversation variable's new value is visible (and streamed) before the
assigner's success event, as in Dify.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, NodeError
from ..templates import Selector
from ..values import (
    ARRAY_ANY,
    ARRAY_BOOLEAN,
    ARRAY_NUMBER,
    ARRAY_OBJECT,
    ARRAY_STRING,
    BOOLEAN,
    NONE,
    NUMBER_TYPES,
    OBJECT,
    STRING,
    infer_type,
    is_array_type,
    zero_value,
)
from .base import Node, NodeContext, NodeResult, VariableUpdate, as_selector, get_list, get_str

OPERATIONS = frozenset(
    {"over-write", "clear", "set", "append", "extend", "+=", "-=", "*=", "/=", "remove-first", "remove-last"}
)
ARITHMETIC = frozenset({"+=", "-=", "*=", "/="})
NO_VALUE = frozenset({"clear", "remove-first", "remove-last"})


class AssignerError(NodeError):
    pass


class VariableAssignerV1Node(Node):
    type = "assigner"

    def configure(self, data: Mapping[str, Any]) -> None:
        self.target = as_selector(data.get("assigned_variable_selector"), "assigned_variable_selector")
        self.write_mode = get_str(data, "write_mode", "over-write")
        if self.write_mode not in ("over-write", "append", "clear"):
            raise ConfigError(f"write_mode must be over-write, append or clear, got {self.write_mode!r}")
        self.source = as_selector(
            data.get("input_variable_selector"),
            "input_variable_selector",
            allow_empty=self.write_mode == "clear",
        )

    def references(self) -> list[Selector]:
        return [self.target, *([self.source] if self.source else [])]

    def writes(self) -> set[tuple[str, str]]:
        return {(self.target[0], self.target[1])}

    def run(self, ctx: NodeContext) -> NodeResult:
        found, current = ctx.pool.lookup(self.target)
        if not found:
            return NodeResult.failed("assigned variable not found", "VariableOperatorNodeError")
        kind = ctx.pool.type_of(self.target) or infer_type(current)
        if self.write_mode == "clear":
            try:
                new_value = zero_value(kind)
            except ValueError as error:
                return NodeResult.failed(str(error), "VariableOperatorNodeError")
            income = new_value
        else:
            has_input, income = ctx.pool.lookup(self.source)
            if not has_input:
                return NodeResult.failed("input value not found", "VariableOperatorNodeError")
            if self.write_mode == "over-write":
                new_value = income
            else:
                if not is_array_type(kind):
                    return NodeResult.failed(
                        "append mode requires an array variable", "VariableOperatorNodeError"
                    )
                new_value = [*current, income]
        selector = (self.target[0], self.target[1])
        return NodeResult(
            inputs={"value": income},
            process_data={
                "updated_variables": [
                    {"name": selector[1], "selector": list(selector), "new_value": new_value}
                ]
            },
            updates=[VariableUpdate(selector, new_value, kind)],
        )


class VariableAssignerV2Node(Node):
    type = "assigner"

    def configure(self, data: Mapping[str, Any]) -> None:
        self.items: list[dict[str, Any]] = []
        for index, raw in enumerate(get_list(data, "items")):
            where = f"items[{index}]"
            if not isinstance(raw, Mapping):
                raise ConfigError(f"{where} must be an object")
            operation = raw.get("operation", "over-write")
            if operation not in OPERATIONS:
                raise ConfigError(f"{where}.operation {operation!r} is not supported")
            input_type = raw.get("input_type", "variable")
            if input_type not in ("variable", "constant"):
                raise ConfigError(f"{where}.input_type must be 'variable' or 'constant'")
            value = raw.get("value")
            if input_type == "variable" and operation not in NO_VALUE and value is not None:
                value = as_selector(value, f"{where}.value")
            self.items.append(
                {
                    "selector": as_selector(raw.get("variable_selector"), f"{where}.variable_selector"),
                    "operation": operation,
                    "input_type": input_type,
                    "value": value,
                }
            )

    def references(self) -> list[Selector]:
        found: list[Selector] = []
        for item in self.items:
            found.append(item["selector"])
            if isinstance(item["value"], tuple):
                found.append(item["value"])
        return found

    def writes(self) -> set[tuple[str, str]]:
        return {(item["selector"][0], item["selector"][1]) for item in self.items}

    def run(self, ctx: NodeContext) -> NodeResult:
        working: dict[tuple[str, str], tuple[Any, str]] = {}  # read-after-write within the node
        order: list[tuple[str, str]] = []

        def read(selector: Selector) -> tuple[bool, Any]:
            key = (selector[0], selector[1]) if len(selector) >= 2 else None
            if key in working and len(selector) == 2:
                return True, working[key][0]
            return ctx.pool.lookup(selector)

        try:
            for item in self.items:
                selector = item["selector"]
                key = (selector[0], selector[1])
                found, current = read(selector)
                if not found:
                    raise AssignerError(f"Variable {list(selector)} not found", "VariableNotFoundError")
                kind = (
                    working[key][1] if key in working else (ctx.pool.type_of(selector) or infer_type(current))
                )
                operation = item["operation"]
                _check_support(kind, operation, item["input_type"])
                value = item["value"]
                if item["input_type"] == "variable" and operation not in NO_VALUE and value is not None:
                    has_value, value = read(value)
                    if not has_value:
                        raise AssignerError(
                            f"Variable {list(item['value'])} not found", "VariableNotFoundError"
                        )
                    if value is None:
                        continue  # Dify skips an item whose input variable is a None value
                if operation == "set" and kind == OBJECT and isinstance(value, str | bytes):
                    try:
                        value = json.loads(value)
                    except json.JSONDecodeError as error:
                        raise AssignerError(
                            f"Invalid input value {value}", "InvalidInputValueError"
                        ) from error
                if not _input_valid(kind, operation, value):
                    raise AssignerError(f"Invalid input value {value}", "InvalidInputValueError")
                working[key] = (_apply(current, kind, operation, value), kind)
                if key not in order:
                    order.append(key)
        except AssignerError as error:
            return NodeResult.failed(str(error), error.error_type, inputs={"items": _log_items(self.items)})
        updates = [VariableUpdate(key, working[key][0], working[key][1]) for key in order]
        return NodeResult(
            inputs={"items": _log_items(self.items)},
            process_data={
                "updated_variables": [
                    {"name": update.selector[1], "selector": list(update.selector), "new_value": update.value}
                    for update in updates
                ]
            },
            updates=updates,
        )


def _log_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "variable_selector": list(item["selector"]),
            "operation": item["operation"],
            "input_type": item["input_type"],
            "value": list(item["value"]) if isinstance(item["value"], tuple) else item["value"],
        }
        for item in items
    ]


def _check_support(kind: str, operation: str, input_type: str) -> None:
    if operation in ("over-write", "clear"):
        supported = True
    elif operation == "set":
        supported = kind in (OBJECT, STRING, BOOLEAN, *NUMBER_TYPES)
    elif operation in ARITHMETIC:
        supported = kind in NUMBER_TYPES
    else:  # append, extend, remove-first, remove-last
        supported = is_array_type(kind)
    if not supported:
        raise AssignerError(
            f"Operation {operation} is not supported for type {kind}", "OperationNotSupportedError"
        )
    if input_type == "variable":
        if operation in ("set", *ARITHMETIC):
            raise AssignerError(
                f"Input type variable is not supported for operation {operation}",
                "InputTypeNotSupportedError",
            )
        return
    if kind in (STRING, OBJECT, BOOLEAN):
        constant_ok = operation in ("over-write", "set")
    elif kind in NUMBER_TYPES:
        constant_ok = operation in ("over-write", "set", *ARITHMETIC)
    else:
        constant_ok = False
    if not constant_ok:
        raise AssignerError(
            f"Input type constant is not supported for operation {operation}", "InputTypeNotSupportedError"
        )


def _is_list_of(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, list) and all(isinstance(item, types) for item in value)


def _input_valid(kind: str, operation: str, value: Any) -> bool:
    if operation in NO_VALUE:
        return True
    if kind == STRING:
        return isinstance(value, str)
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind in NUMBER_TYPES:
        return isinstance(value, int | float) and not (operation == "/=" and value == 0)
    if kind == OBJECT:
        return isinstance(value, dict)
    if operation == "append":
        return {
            ARRAY_ANY: isinstance(value, str | float | int | dict),
            ARRAY_STRING: isinstance(value, str),
            ARRAY_NUMBER: isinstance(value, int | float),
            ARRAY_OBJECT: isinstance(value, dict),
            ARRAY_BOOLEAN: isinstance(value, bool),
        }.get(kind, False)
    if operation in ("extend", "over-write"):
        return {
            ARRAY_ANY: _is_list_of(value, (str, float, int, dict)),
            ARRAY_STRING: _is_list_of(value, (str,)),
            ARRAY_NUMBER: _is_list_of(value, (int, float)),
            ARRAY_OBJECT: _is_list_of(value, (dict,)),
            ARRAY_BOOLEAN: _is_list_of(value, (bool,)),
        }.get(kind, False)
    return kind == NONE and value is None


def _apply(current: Any, kind: str, operation: str, value: Any) -> Any:
    if operation in ("over-write", "set"):
        return value
    if operation == "clear":
        return zero_value(kind)
    if operation == "append":
        return [*current, value]
    if operation in ("extend", "+="):
        return current + value
    if operation == "-=":
        return current - value
    if operation == "*=":
        return current * value
    if operation == "/=":
        return current / value
    if operation == "remove-first":
        return current[1:] if current else current
    return current[:-1] if current else current  # remove-last
