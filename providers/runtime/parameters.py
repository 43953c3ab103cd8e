"""Checks and coerces model parameters against the model's parameter rules before a call.

Same contract as Dify's `_validate_and_filter_model_parameters`: a rule's value may come under the rule's
name or under its template's name (`max_tokens` for a rule `num_predict` using that template); required
rules fall back to their default; parameters no rule knows are dropped. Unlike Dify we coerce what is
unambiguous (`"0.7"` -> 0.7, `2.0` -> 2 for an int, precision rounding), since DSL files and forms carry
strings; anything else raises `ParameterError` naming the parameter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from providers.runtime.errors import ParameterError
from providers.runtime.schema import ModelSchema, ParameterRule

_TRUE_STRINGS = {"true", "1", "yes", "on"}
_FALSE_STRINGS = {"false", "0", "no", "off"}


def _number(rule: ParameterRule, value: Any) -> float:
    if isinstance(value, bool):
        raise ParameterError(rule.name, f"must be a number, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ParameterError(rule.name, f"must be a number, got {value!r}") from None
    else:
        raise ParameterError(rule.name, f"must be a number, got {type(value).__name__}")
    if math.isnan(number) or math.isinf(number):
        raise ParameterError(rule.name, f"must be a finite number, got {value!r}")
    return number


def _check_range(rule: ParameterRule, number: float) -> None:
    if rule.min is not None and number < rule.min:
        raise ParameterError(rule.name, f"must be greater than or equal to {rule.min:g}, got {number:g}")
    if rule.max is not None and number > rule.max:
        raise ParameterError(rule.name, f"must be less than or equal to {rule.max:g}, got {number:g}")


def _coerce(rule: ParameterRule, value: Any) -> Any:
    if rule.type == "int":
        number = _number(rule, value)
        if number != int(number):
            raise ParameterError(rule.name, f"must be an integer, got {value!r}")
        _check_range(rule, number)
        return int(number)
    if rule.type == "float":
        number = _number(rule, value)
        if rule.precision is not None:
            number = round(number, rule.precision)
        _check_range(rule, number)
        return number
    if rule.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE_STRINGS:
            return True
        if text in _FALSE_STRINGS:
            return False
        raise ParameterError(rule.name, f"must be true or false, got {value!r}")
    # string and text
    if rule.type == "text" and isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, str):
        raise ParameterError(rule.name, f"must be a string, got {type(value).__name__}")
    if rule.options and value not in rule.options:
        folded = {option.lower(): option for option in rule.options}
        if value.lower() in folded:
            return folded[value.lower()]
        raise ParameterError(rule.name, f"must be one of {', '.join(rule.options)}; got {value!r}")
    return value


def validate_parameters(schema: ModelSchema, parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters to send: checked, coerced, defaults for required rules, unknown ones dropped."""
    parameters = parameters or {}
    validated: dict[str, Any] = {}
    for rule in schema.parameter_rules:
        value = parameters.get(rule.name)
        if value is None and rule.use_template:
            value = parameters.get(rule.use_template)
        if value is None or (value == "" and rule.type not in ("string", "text")):
            if rule.required:
                if rule.default is None:
                    raise ParameterError(rule.name, "is required")
                validated[rule.name] = _coerce(rule, rule.default)
            continue
        validated[rule.name] = _coerce(rule, value)
    return validated


def normalize_stop(*sources: Any) -> list[str]:
    """Stop sequences from the `stop` argument and/or a `stop` parameter: a list, or one string."""
    stops: list[str] = []
    for source in sources:
        if source is None or source == "":
            continue
        items: Iterable[Any] = [source] if isinstance(source, str) else source
        for item in items:
            if not isinstance(item, str):
                raise ParameterError("stop", f"must be a list of strings, got {item!r}")
            if item and item not in stops:
                stops.append(item)
    return stops
