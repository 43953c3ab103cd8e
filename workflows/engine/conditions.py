"""Condition evaluation shared by if-else, loop break conditions and list-operator file filters.

The operator semantics follow Dify exactly (they decide which branch a workflow takes):
`contains` on a falsy value is false and `not contains` true; `is`/`is not` accept only strings and
booleans; `=`/`≠` coerce the expected value to the actual value's type (so `int("1.5")` fails the
node); `>`/`<`/`≥`/`≤` compare numbers, parsing the expected string with float and keeping it an int
when integral; `in`/`not in` need a list; `empty` means falsy; `null` means None; `exists` means
not None. A condition on a variable that is missing from the pool fails the node.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, NodeError
from .pool import VariablePool
from .templates import compile_template
from .values import ARRAY_BOOLEAN, ARRAY_FILE, BOOLEAN, File, infer_type

OPERATORS = frozenset(
    {
        "contains",
        "not contains",
        "start with",
        "end with",
        "is",
        "is not",
        "empty",
        "not empty",
        "in",
        "not in",
        "all of",
        "=",
        "≠",
        ">",
        "<",
        "≥",
        "≤",
        "null",
        "not null",
        "exists",
        "not exists",
    }
)
# Aliases seen in older DSL files and API payloads.
OPERATOR_ALIASES = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", "is null": "null", "is not null": "not null"}
UNARY = frozenset({"empty", "not empty", "null", "not null", "exists", "not exists"})
FILE_SUB_OPERATORS = frozenset({"contains", "not contains", "all of"})


class ConditionError(NodeError):
    """A condition could not be evaluated (wrong value type, bad expected value)."""


@dataclass(frozen=True, slots=True)
class SubCondition:
    key: str
    operator: str
    value: Any


@dataclass(frozen=True, slots=True)
class Condition:
    selector: tuple[str, ...]
    operator: str
    value: Any  # str (may contain {{#..#}}), list[str], bool, list[bool] or None
    sub_operator: str = "and"
    sub_conditions: tuple[SubCondition, ...] = ()


def normalize_operator(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: comparison_operator must be a string")
    operator = OPERATOR_ALIASES.get(raw, raw)
    if operator not in OPERATORS:
        raise ConfigError(f"{where}: unknown comparison_operator {raw!r}")
    return operator


def parse_condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a condition must be an object")
    selector = raw.get("variable_selector")
    if not isinstance(selector, list) or len(selector) < 2 or not all(isinstance(p, str) for p in selector):
        raise ConfigError(f"{where}: variable_selector must be a list of at least 2 strings")
    operator = normalize_operator(raw.get("comparison_operator"), where)
    subs: list[SubCondition] = []
    sub_raw = raw.get("sub_variable_condition") or {}
    sub_operator = "and"
    if isinstance(sub_raw, dict) and sub_raw.get("conditions"):
        sub_operator = sub_raw.get("logical_operator") or "and"
        for index, item in enumerate(sub_raw["conditions"]):
            if not isinstance(item, dict):
                raise ConfigError(f"{where}: sub condition {index} must be an object")
            subs.append(
                SubCondition(
                    key=str(item.get("key", "")),
                    operator=normalize_operator(
                        item.get("comparison_operator"), f"{where} sub condition {index}"
                    ),
                    value=item.get("value"),
                )
            )
    value = raw.get("value")
    if isinstance(value, str):
        compile_template(value)  # parsed once here, reused at run time
    return Condition(tuple(selector), operator, value, sub_operator, tuple(subs))


def parse_conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: conditions must be a list")
    return tuple(parse_condition(item, f"{where} condition {index}") for index, item in enumerate(raw))


# -- evaluation ----------------------------------------------------------------------------------


def evaluate_all(
    pool: VariablePool, conditions: Sequence[Condition], logical_operator: str
) -> tuple[bool, list[bool], list[dict[str, Any]]]:
    """Evaluate with short-circuit. Returns (final, per-condition results, inputs for logs)."""
    results: list[bool] = []
    inputs: list[dict[str, Any]] = []
    for condition in conditions:
        found, actual = pool.lookup(condition.selector)
        if not found:
            raise ConditionError(f"Variable {list(condition.selector)} not found", "ValueError")
        kind = pool.declared_type(condition.selector) or infer_type(actual)
        if kind == ARRAY_FILE and condition.operator in FILE_SUB_OPERATORS:
            if not condition.sub_conditions:
                raise ConditionError("Sub variable is required", "ValueError")
            result = _evaluate_sub_conditions(actual, condition.sub_conditions, condition.sub_operator)
        elif condition.operator in ("exists", "not exists"):
            result = evaluate(condition.operator, actual, None)
        else:
            expected = _prepare_expected(pool, condition, actual)
            inputs.append(
                {
                    "actual_value": actual,
                    "expected_value": expected,
                    "comparison_operator": condition.operator,
                }
            )
            result = evaluate(condition.operator, actual, expected)
        results.append(result)
        if (logical_operator == "and" and not result) or (logical_operator == "or" and result):
            return result, results, inputs
    final = all(results) if logical_operator == "and" else any(results)
    return final, results, inputs


def _convert_to_bool(value: Any) -> bool:
    if isinstance(value, bool | int):
        return bool(value)
    if isinstance(value, str):
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError as error:
            raise ConditionError(
                f"unexpected value: type={type(value)}, value={value}", "TypeError"
            ) from error
        if isinstance(loaded, bool | int):
            return bool(loaded)
    raise ConditionError(f"unexpected value: type={type(value)}, value={value}", "TypeError")


def _prepare_expected(pool: VariablePool, condition: Condition, actual: Any) -> Any:
    expected = condition.value
    if isinstance(expected, str):
        expected = compile_template(expected).render_text(pool)
    if expected is None:
        return None
    if (pool.declared_type(condition.selector) or infer_type(actual)) in (BOOLEAN, ARRAY_BOOLEAN):
        if isinstance(expected, list):
            return [_convert_to_bool(item) for item in expected]
        return _convert_to_bool(expected)
    if isinstance(expected, str | bool):
        return expected
    if isinstance(expected, list) and (
        all(isinstance(item, str) for item in expected) or all(isinstance(item, bool) for item in expected)
    ):
        return list(expected)
    raise ConditionError(f"unexpected expected value: {expected!r}", "TypeError")


def evaluate(operator: str, actual: Any, expected: Any) -> bool:
    evaluator = _EVALUATORS.get(operator)
    if evaluator is None:
        raise ConditionError(f"Unsupported operator: {operator}", "ValueError")
    return evaluator(actual, expected)


def _contains(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if isinstance(actual, str):
        return (expected if isinstance(expected, str) else str(expected)) in actual
    if isinstance(actual, list):
        return expected in actual
    raise ConditionError("Invalid actual value type: string or array", "ValueError")


def _not_contains(actual: Any, expected: Any) -> bool:
    if not actual:
        return True
    if isinstance(actual, str):
        return (expected if isinstance(expected, str) else str(expected)) not in actual
    if isinstance(actual, list):
        return expected not in actual
    raise ConditionError("Invalid actual value type: string or array", "ValueError")


def _start_with(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if not isinstance(actual, str):
        raise ConditionError("Invalid actual value type: string", "TypeError")
    if not isinstance(expected, str):
        raise ConditionError("Expected value must be a string for startswith", "TypeError")
    return actual.startswith(expected)


def _end_with(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if not isinstance(actual, str):
        raise ConditionError("Invalid actual value type: string", "TypeError")
    if not isinstance(expected, str):
        raise ConditionError("Expected value must be a string for endswith", "TypeError")
    return actual.endswith(expected)


def _is(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(actual, str | bool):
        return actual == expected
    raise ConditionError("Invalid actual value type: string or boolean", "ValueError")


def _is_not(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(actual, str | bool):
        return actual != expected
    raise ConditionError("Invalid actual value type: string or boolean", "ValueError")


def _equality_expected(actual: Any, expected: Any) -> Any:
    try:
        if isinstance(actual, bool):
            if isinstance(expected, bool | int | str):
                return bool(expected)
        elif isinstance(actual, int):
            if isinstance(expected, int | float | str):
                return int(expected)
        elif isinstance(actual, float):
            if isinstance(expected, int | float | str):
                return float(expected)
        else:
            raise ConditionError("Invalid actual value type: number or boolean", "ValueError")
    except (TypeError, ValueError) as error:
        raise ConditionError(str(error), "ValueError") from error
    raise ConditionError(f"Cannot convert {type(expected)} to {type(actual).__name__}", "ValueError")


def _equal(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    return actual == _equality_expected(actual, expected)


def _not_equal(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    return actual != _equality_expected(actual, expected)


def _numbers(actual: Any, expected: Any) -> tuple[int | float, int | float]:
    if isinstance(expected, str):
        try:
            expected_float = float(expected)
        except ValueError as error:
            raise ConditionError(f"Cannot convert '{expected}' to number", "ValueError") from error
        if isinstance(actual, int):
            return (
                (actual, int(expected_float))
                if expected_float.is_integer()
                else (float(actual), expected_float)
            )
        return actual, expected_float
    if isinstance(expected, float):
        return (float(actual) if isinstance(actual, int) else actual), expected
    if isinstance(expected, int):
        return actual, expected
    raise ConditionError(f"Cannot convert {type(expected)} to number", "ValueError")


def _compare(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: Any) -> bool:
        if actual is None:
            return False
        if not isinstance(actual, int | float):
            raise ConditionError("Invalid actual value type: number", "ValueError")
        left, right = _numbers(actual, expected)
        return check(left, right)

    return compare


def _in(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if not isinstance(expected, list):
        raise ConditionError("Invalid expected value type: array", "ValueError")
    return actual in expected


def _not_in(actual: Any, expected: Any) -> bool:
    if actual is None:
        return True
    if not isinstance(expected, list):
        raise ConditionError("Invalid expected value type: array", "ValueError")
    return actual not in expected


def _all_of(actual: Any, expected: Any) -> bool:
    if not isinstance(expected, list) or not (
        all(isinstance(item, str) for item in expected) or all(isinstance(item, bool) for item in expected)
    ):
        raise ConditionError("all of operator expects homogeneous list of strings or booleans", "ValueError")
    if not actual:
        return False
    if isinstance(actual, list | tuple | set):
        return all(item in actual for item in expected)
    if isinstance(actual, str) and all(isinstance(item, str) for item in expected):
        return all(item in actual for item in expected)
    return False


_EVALUATORS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": _contains,
    "not contains": _not_contains,
    "start with": _start_with,
    "end with": _end_with,
    "is": _is,
    "is not": _is_not,
    "empty": lambda actual, _expected: not actual,
    "not empty": lambda actual, _expected: bool(actual),
    "=": _equal,
    "≠": _not_equal,
    ">": _compare(lambda left, right: left > right),
    "<": _compare(lambda left, right: left < right),
    "≥": _compare(lambda left, right: left >= right),
    "≤": _compare(lambda left, right: left <= right),
    "null": lambda actual, _expected: actual is None,
    "not null": lambda actual, _expected: actual is not None,
    "in": _in,
    "not in": _not_in,
    "all of": _all_of,
    "exists": lambda actual, _expected: actual is not None,
    "not exists": lambda actual, _expected: actual is None,
}


def file_attribute(file: File, key: str) -> Any:
    try:
        return file.attribute(key)
    except KeyError as error:
        raise ConditionError(f"Invalid file attribute: {key}", "ValueError") from error


def _evaluate_sub_conditions(files: list[Any], subs: Sequence[SubCondition], logical_operator: str) -> bool:
    group: list[bool] = []
    for sub in subs:
        values = [file_attribute(file, sub.key) for file in files if isinstance(file, File)]
        expected = sub.value
        if sub.key == "extension":
            if not isinstance(expected, str):
                raise ConditionError(
                    "Expected value must be a string when key is FileAttribute.EXTENSION", "TypeError"
                )
            if expected and not expected.startswith("."):
                expected = "." + expected
            values = [
                "." + value if value and isinstance(value, str) and not value.startswith(".") else value
                for value in values
            ]
        results = [evaluate(sub.operator, value, expected) for value in values]
        group.append(all(results) if "not" in sub.operator else any(results))
    return all(group) if logical_operator == "and" else any(group)
