"""Logic nodes: if-else, variable-aggregator, list-operator."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..conditions import Condition, ConditionError, evaluate_all, parse_conditions
from ..errors import ConfigError, NodeError
from ..templates import Selector, compile_template
from ..values import ARRAY_BOOLEAN, ARRAY_FILE, ARRAY_NUMBER, ARRAY_STRING, File, infer_type
from .base import (
    BRANCH,
    Node,
    NodeContext,
    NodeResult,
    as_selector,
    get_dict,
    get_list,
    get_selector,
)


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    logical_operator: str
    conditions: tuple[Condition, ...]


class IfElseNode(Node):
    """First true case's id is the edge handle; none true -> handle "false"."""

    type = "if-else"
    execution = BRANCH

    def configure(self, data: Mapping[str, Any]) -> None:
        raw_cases = data.get("cases")
        self.legacy = raw_cases is None
        cases: list[Case] = []
        if self.legacy:
            # Legacy shape: top-level conditions + logical_operator form one case with id "true".
            cases.append(
                Case(
                    "true",
                    _logical(data.get("logical_operator"), "logical_operator"),
                    parse_conditions(data.get("conditions"), "conditions"),
                )
            )
        else:
            if not isinstance(raw_cases, list):
                raise ConfigError("cases must be a list")
            for index, raw in enumerate(raw_cases):
                if not isinstance(raw, Mapping):
                    raise ConfigError(f"cases[{index}] must be an object")
                case_id = raw.get("case_id") or raw.get("id")
                if not isinstance(case_id, str) or not case_id:
                    raise ConfigError(f"cases[{index}].case_id must be a non-empty string")
                cases.append(
                    Case(
                        case_id,
                        _logical(raw.get("logical_operator"), f"cases[{index}].logical_operator"),
                        parse_conditions(raw.get("conditions"), f"cases[{index}]"),
                    )
                )
        self.cases = tuple(cases)

    def references(self) -> list[Selector]:
        found: list[Selector] = []
        for case in self.cases:
            for condition in case.conditions:
                found.append(condition.selector)
        return found

    def run(self, ctx: NodeContext) -> NodeResult:
        process: list[dict[str, Any]] = []
        inputs: list[dict[str, Any]] = []
        selected = "false"
        final = False
        try:
            for case in self.cases:
                result, results, case_inputs = evaluate_all(ctx.pool, case.conditions, case.logical_operator)
                inputs = case_inputs
                process.append(
                    {
                        "group": "default" if self.legacy else case.case_id,
                        "results": results,
                        "final_result": result,
                    }
                )
                if result:
                    final = True
                    selected = "true" if self.legacy else case.case_id
                    break
        except ConditionError as error:
            return NodeResult.failed(
                str(error),
                error.error_type,
                inputs={"conditions": inputs},
                process_data={"condition_results": process},
            )
        return NodeResult(
            outputs={"result": final, "selected_case_id": selected},
            inputs={"conditions": inputs},
            process_data={"condition_results": process},
            handle=selected,
        )


def _logical(value: Any, field_name: str) -> str:
    if value in (None, ""):
        return "and"
    if value not in ("and", "or"):
        raise ConfigError(f"{field_name} must be 'and' or 'or', got {value!r}")
    return value


class VariableAggregatorNode(Node):
    """Outputs the first selector (in configured order) that has a value; groups output one each."""

    type = "variable-aggregator"

    def configure(self, data: Mapping[str, Any]) -> None:
        self.selectors = tuple(
            as_selector(raw, f"variables[{index}]") for index, raw in enumerate(get_list(data, "variables"))
        )
        settings = get_dict(data, "advanced_settings")
        self.group_enabled = bool(settings.get("group_enabled"))
        self.groups: list[tuple[str, tuple[Selector, ...]]] = []
        if self.group_enabled:
            for index, raw in enumerate(settings.get("groups") or []):
                if not isinstance(raw, Mapping) or not isinstance(raw.get("group_name"), str):
                    raise ConfigError(f"advanced_settings.groups[{index}] needs a group_name")
                selectors = tuple(
                    as_selector(item, f"groups[{index}].variables[{position}]")
                    for position, item in enumerate(raw.get("variables") or [])
                )
                self.groups.append((raw["group_name"], selectors))

    def references(self) -> list[Selector]:
        found = list(self.selectors)
        for _, selectors in self.groups:
            found.extend(selectors)
        return found

    def run(self, ctx: NodeContext) -> NodeResult:
        outputs: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        if not self.group_enabled:
            for selector in self.selectors:
                found, value = ctx.pool.lookup(selector)
                if found:
                    outputs["output"] = value
                    inputs[".".join(selector[1:])] = value
                    break
        else:
            for name, selectors in self.groups:
                for selector in selectors:
                    found, value = ctx.pool.lookup(selector)
                    if found:
                        outputs[name] = {"output": value}
                        inputs[".".join(selector[1:])] = value
                        break
        return NodeResult(outputs=outputs, inputs=inputs)


# -- list operator -----------------------------------------------------------------------------------

STRING_FILTERS = frozenset(
    {
        "contains",
        "start with",
        "end with",
        "is",
        "in",
        "empty",
        "not contains",
        "is not",
        "not in",
        "not empty",
    }
)
NUMBER_FILTERS = frozenset({"=", "≠", "<", ">", "≥", "≤"})
FILE_STRING_KEYS = frozenset({"name", "extension", "mime_type", "url", "related_id"})
FILE_SEQUENCE_KEYS = frozenset({"type", "transfer_method"})


class ListOperatorNode(Node):
    """filter -> extract -> order -> limit on array[string|number|boolean|file]."""

    type = "list-operator"

    def configure(self, data: Mapping[str, Any]) -> None:
        self.variable = get_selector(data, "variable")
        filter_by = get_dict(data, "filter_by")
        self.filter_enabled = bool(filter_by.get("enabled"))
        self.filters: list[tuple[str, str, Any]] = []
        for index, raw in enumerate(filter_by.get("conditions") or []):
            if not isinstance(raw, Mapping):
                raise ConfigError(f"filter_by.conditions[{index}] must be an object")
            operator_name = raw.get("comparison_operator", "contains")
            if operator_name not in STRING_FILTERS | NUMBER_FILTERS:
                raise ConfigError(
                    f"filter_by.conditions[{index}]: unknown comparison_operator {operator_name!r}"
                )
            value = raw.get("value", "")
            if isinstance(value, str):
                compile_template(value)
            self.filters.append((str(raw.get("key", "")), operator_name, value))
        extract = get_dict(data, "extract_by")
        self.extract_enabled = bool(extract.get("enabled"))
        self.extract_serial = compile_template(str(extract.get("serial", "1")))
        order = get_dict(data, "order_by")
        self.order_enabled = bool(order.get("enabled"))
        self.order_key = str(order.get("key", ""))
        self.order_desc = order.get("value", "asc") == "desc"
        if order.get("value", "asc") not in ("asc", "desc"):
            raise ConfigError("order_by.value must be 'asc' or 'desc'")
        limit = get_dict(data, "limit")
        self.limit_enabled = bool(limit.get("enabled"))
        size = limit.get("size", -1)
        if isinstance(size, bool) or not isinstance(size, int):
            raise ConfigError("limit.size must be an integer")
        self.limit_size = size

    def references(self) -> list[Selector]:
        return [self.variable]

    def run(self, ctx: NodeContext) -> NodeResult:
        found, value = ctx.pool.lookup(self.variable)
        if not found:
            return NodeResult.failed(
                f"Variable not found for selector: {list(self.variable)}", "ListOperatorError"
            )
        if not value:
            return NodeResult(
                outputs={"result": [], "first_record": None, "last_record": None}, inputs={"variable": []}
            )
        kind = ctx.pool.declared_type(self.variable) or infer_type(value)
        if kind not in (ARRAY_STRING, ARRAY_NUMBER, ARRAY_BOOLEAN, ARRAY_FILE):
            return NodeResult.failed(
                f"Variable {list(self.variable)} is not an array type, actual type: {kind}",
                "ListOperatorError",
            )
        items = list(value)
        inputs = {"variable": [item.to_dict() if isinstance(item, File) else item for item in items]}
        try:
            if self.filter_enabled:
                items = self._filter(ctx, kind, items)
            if self.extract_enabled:
                items = self._extract(ctx, items)
            if self.order_enabled:
                items = self._order(kind, items)
            if self.limit_enabled and self.limit_size >= 0:
                # Dify documents size -1 as "no limit"; we honour that instead of slicing [: -1].
                items = items[: self.limit_size]
        except (NodeError, ValueError, TypeError, KeyError) as error:
            error_type = getattr(error, "error_type", type(error).__name__)
            return NodeResult.failed(str(error), error_type, inputs=inputs)
        return NodeResult(
            outputs={
                "result": items,
                "first_record": items[0] if items else None,
                "last_record": items[-1] if items else None,
            },
            inputs=inputs,
            process_data=dict(inputs),
        )

    def _filter(self, ctx: NodeContext, kind: str, items: list[Any]) -> list[Any]:
        for key, operator_name, raw_value in self.filters:
            if kind == ARRAY_STRING:
                if not isinstance(raw_value, str):
                    raise NodeError(f"Invalid filter value: {raw_value}", "InvalidFilterValueError")
                check = _string_filter(operator_name, compile_template(raw_value).render_text(ctx.pool))
            elif kind == ARRAY_NUMBER:
                if not isinstance(raw_value, str):
                    raise NodeError(f"Invalid filter value: {raw_value}", "InvalidFilterValueError")
                check = _number_filter(
                    operator_name, float(compile_template(raw_value).render_text(ctx.pool))
                )
            elif kind == ARRAY_FILE:
                if isinstance(raw_value, bool):
                    raise NodeError(f"File filter expects a string value, got {type(raw_value)}", "TypeError")
                value = (
                    compile_template(raw_value).render_text(ctx.pool)
                    if isinstance(raw_value, str)
                    else raw_value
                )
                check = _file_filter(key, operator_name, value)
            else:
                if not isinstance(raw_value, bool):
                    raise NodeError(
                        f"Boolean filter expects a boolean value, got {type(raw_value)}", "TypeError"
                    )
                if operator_name not in ("is", "is not"):
                    raise NodeError(f"Invalid condition: {operator_name}", "InvalidConditionError")
                check = _equals(raw_value) if operator_name == "is" else _negate(_equals(raw_value))
            items = [item for item in items if check(item)]
        return items

    def _extract(self, ctx: NodeContext, items: list[Any]) -> list[Any]:
        serial = int(self.extract_serial.render_text(ctx.pool))
        if serial < 1:
            raise NodeError(f"Invalid serial index: must be >= 1, got {serial}", "ValueError")
        if serial > len(items):
            raise NodeError(f"Invalid serial index: must be <= {len(items)}, got {serial}", "InvalidKeyError")
        return [items[serial - 1]]

    def _order(self, kind: str, items: list[Any]) -> list[Any]:
        if kind != ARRAY_FILE:
            return sorted(items, reverse=self.order_desc)
        key = self.order_key
        if key not in FILE_STRING_KEYS | FILE_SEQUENCE_KEYS | {"size"}:
            raise NodeError(f"Invalid key: {key}", "InvalidKeyError")
        return sorted(items, key=lambda file: _file_key(file, key), reverse=self.order_desc)


def _negate(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: not check(value)


def _equals(expected: Any) -> Callable[[Any], bool]:
    return lambda value: value == expected


def _string_filter(operator_name: str, expected: str) -> Callable[[Any], bool]:
    if operator_name == "empty":
        return operator.not_
    if operator_name == "not empty":
        return bool
    builders: dict[str, Callable[[Any], bool]] = {
        "contains": lambda value: expected in value,
        "start with": lambda value: value.startswith(expected),
        "end with": lambda value: value.endswith(expected),
        "is": _equals(expected),
        "in": lambda value: value in expected,
    }
    negations = {"not contains": "contains", "is not": "is", "not in": "in"}
    if operator_name in builders:
        return builders[operator_name]
    if operator_name in negations:
        return _negate(builders[negations[operator_name]])
    raise NodeError(f"Invalid condition: {operator_name}", "InvalidConditionError")


def _number_filter(operator_name: str, expected: float) -> Callable[[Any], bool]:
    checks: dict[str, Callable[[Any], bool]] = {
        "=": lambda value: value == expected,
        "≠": lambda value: value != expected,
        "<": lambda value: value < expected,
        "≤": lambda value: value <= expected,
        ">": lambda value: value > expected,
        "≥": lambda value: value >= expected,
    }
    if operator_name not in checks:
        raise NodeError(f"Invalid condition: {operator_name}", "InvalidConditionError")
    return checks[operator_name]


def _file_key(file: File, key: str) -> Any:
    if key == "size":
        return file.size
    value = file.attribute(key)
    return "" if value is None else str(value)


def _file_filter(key: str, operator_name: str, value: Any) -> Callable[[File], bool]:
    if key in FILE_STRING_KEYS and isinstance(value, str):
        check = _string_filter(operator_name, value)
        return lambda file: check(_file_key(file, key))
    if key in FILE_SEQUENCE_KEYS:
        if operator_name not in ("in", "not in"):
            raise NodeError(f"Invalid condition: {operator_name}", "InvalidConditionError")
        check = (lambda text: text in value) if operator_name == "in" else (lambda text: text not in value)
        return lambda file: check(_file_key(file, key))
    if key == "size" and isinstance(value, str):
        number_check = _number_filter(operator_name, float(value))
        return lambda file: number_check(file.size)
    raise NodeError(f"Invalid key: {key}", "InvalidKeyError")
