"""Data nodes: template-transform (sandboxed Jinja2) and code (through the code port)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError

from ..errors import ConfigError, NodeError
from ..jinja import compile_jinja
from ..limits import CodeLimits
from ..ports import CodeExecutionError
from ..templates import Selector
from ..values import File, to_plain
from .base import Node, NodeContext, NodeResult, get_str, parse_bindings, selectors_of


def plain_input(value: Any) -> Any:
    """Values handed to Jinja2 and code are plain JSON-like objects (files become mappings)."""
    if isinstance(value, File) or (isinstance(value, list) and value and isinstance(value[0], File)):
        return to_plain(value)
    return value


class TemplateTransformNode(Node):
    type = "template-transform"
    capabilities = frozenset({"jinja"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self.bindings = parse_bindings(data.get("variables"), "variables")
        self.template = compile_jinja(get_str(data, "template"))  # compiled once per graph

    def references(self) -> list[Selector]:
        return selectors_of(list(self.bindings))

    def run(self, ctx: NodeContext) -> NodeResult:
        variables: dict[str, Any] = {}
        pool = ctx.pool
        for binding in self.bindings:
            variables[binding.name] = plain_input(pool.get(binding.selector)) if binding.selector else None
        try:
            rendered = self.template.render(variables)
        except (TemplateError, SecurityError, TypeError, ValueError, ArithmeticError) as error:
            return NodeResult.failed(str(error), "TemplateRenderError", inputs=variables)
        max_length = ctx.limits.template_max_length
        if len(rendered) > max_length:
            return NodeResult.failed(
                f"Output length exceeds {max_length} characters", "TemplateRenderError", inputs=variables
            )
        return NodeResult(outputs={"output": rendered}, inputs=variables)


CODE_OUTPUT_TYPES = frozenset(
    {
        "string",
        "number",
        "object",
        "boolean",
        "array[string]",
        "array[number]",
        "array[object]",
        "array[boolean]",
    }
)


class OutputValidationError(NodeError):
    pass


def parse_output_schema(raw: Any, where: str) -> dict[str, dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be an object")
    schema: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}.{name} must be an object with a type")
        kind = spec.get("type")
        if kind not in CODE_OUTPUT_TYPES:
            raise ConfigError(f"{where}.{name}: output type {kind!r} is not supported")
        schema[name] = {
            "type": kind,
            "children": parse_output_schema(spec.get("children"), f"{where}.{name}"),
        }
    return schema


class CodeNode(Node):
    type = "code"
    is_async = True
    retryable = True
    capabilities = frozenset({"code"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self.language = get_str(data, "code_language", "python3")
        if self.language not in ("python3", "javascript", "python"):
            raise ConfigError(f"code_language must be python3 or javascript, got {self.language!r}")
        if self.language == "python":
            self.language = "python3"
        self.code = get_str(data, "code", required=True)
        self.bindings = parse_bindings(data.get("variables"), "variables")
        self.schema = parse_output_schema(data.get("outputs"), "outputs")

    def references(self) -> list[Selector]:
        return selectors_of(list(self.bindings))

    def collect_inputs(self, ctx: NodeContext) -> dict[str, Any]:
        variables: dict[str, Any] = {}
        for binding in self.bindings:
            found, value = ctx.pool.lookup(binding.selector) if binding.selector else (False, None)
            if isinstance(value, list) and value and all(isinstance(item, File) for item in value):
                variables[binding.name] = [item.to_dict() for item in value]
            else:
                variables[binding.name] = plain_input(value) if found else None
        return variables

    async def arun(self, ctx: NodeContext) -> NodeResult:
        variables = self.collect_inputs(ctx)
        code_port = ctx.require("code")
        try:
            result = await code_port.execute(language=self.language, code=self.code, inputs=variables)
            if not isinstance(result, dict):
                raise OutputValidationError("Output must be a dict", "OutputValidationError")
            outputs = transform_result(result, self.schema, ctx.limits.code)
        except CodeExecutionError as error:
            return NodeResult.failed(str(error), "CodeExecutionError", inputs=variables)
        except NodeError as error:
            return NodeResult.failed(str(error), error.error_type, inputs=variables)
        return NodeResult(outputs=dict(outputs), inputs=variables)


# -- output validation (Dify's CodeNode._transform_result) ---------------------------------------------


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _check_string(value: Any, variable: str, limits: CodeLimits) -> Any:
    if value is None:
        return None
    if len(value) > limits.max_string_length:
        raise OutputValidationError(
            f"The length of output variable `{variable}` must be less than {limits.max_string_length} characters"
        )
    return value.replace("\x00", "")


def _check_number(value: Any, variable: str, limits: CodeLimits) -> Any:
    if value is None:
        return None
    if value > limits.max_number or value < limits.min_number:
        raise OutputValidationError(
            f"Output variable `{variable}` is out of range, it must be between "
            f"{limits.min_number} and {limits.max_number}."
        )
    if isinstance(value, float):
        exponent = Decimal(str(value)).normalize().as_tuple().exponent
        precision = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if precision > limits.max_precision:
            raise OutputValidationError(
                f"Output variable `{variable}` has too high precision, "
                f"it must be less than {limits.max_precision} digits."
            )
    return value


def _validate_untyped(name: str, value: Any, prefix: str, depth: int, limits: CodeLimits) -> None:
    path = _path(prefix, name)
    if isinstance(value, dict):
        transform_result(value, None, limits, path, depth + 1)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        _check_number(value, path, limits)
    elif isinstance(value, str):
        _check_string(value, path, limits)
    elif isinstance(value, list):
        first = value[0] if value else None
        if first is None:
            return
        if isinstance(first, int | float) and all(v is None or isinstance(v, int | float) for v in value):
            for index, item in enumerate(value):
                _check_number(item, f"{path}[{index}]", limits)
        elif isinstance(first, str) and all(v is None or isinstance(v, str) for v in value):
            for index, item in enumerate(value):
                _check_string(item, f"{path}[{index}]", limits)
        elif (isinstance(first, dict) and all(v is None or isinstance(v, dict) for v in value)) or (
            isinstance(first, list) and all(v is None or isinstance(v, list) for v in value)
        ):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    transform_result(item, None, limits, f"{path}[{index}]", depth + 1)
        else:
            raise OutputValidationError(
                f"Output {path} is not a valid array. make sure all elements are of the same type."
            )
    else:
        raise OutputValidationError(f"Output {path} is not a valid type.")


def _as_list(value: Any, path: str, max_length: int) -> list[Any] | None:
    if not isinstance(value, list):
        if value is None:
            return None
        raise OutputValidationError(f"Output {path} is not an array, got {type(value)} instead.")
    if len(value) > max_length:
        raise OutputValidationError(
            f"The length of output variable `{path}` must be less than {max_length} elements."
        )
    return value


def _transform_typed(
    name: str, spec: dict[str, Any], value: Any, prefix: str, depth: int, limits: CodeLimits
) -> Any:
    path = _path(prefix, name)
    kind = spec["type"]
    if kind == "object":
        if not isinstance(value, dict):
            if value is None:
                return None
            raise OutputValidationError(f"Output {path} is not an object, got {type(value)} instead.")
        return transform_result(value, spec["children"], limits, path, depth + 1)
    if kind == "number":
        if value is not None and (not isinstance(value, int | float)):
            raise OutputValidationError(f"Output {path} is not a number, got {type(value)} instead.")
        checked = _check_number(value, path, limits)
        return int(checked) if isinstance(checked, bool) else checked
    if kind == "string":
        if value is not None and not isinstance(value, str):
            raise OutputValidationError(
                f"Output {path} must be a string, got {type(value).__name__} instead."
            )
        return _check_string(value, path, limits)
    if kind == "boolean":
        return value
    if kind == "array[number]":
        items = _as_list(value, path, limits.max_number_array_length)
        if items is None:
            return None
        for index, item in enumerate(items):
            if not isinstance(item, int | float):
                raise OutputValidationError(
                    f"The element at index {index} of output variable `{path}` must be a number."
                )
            _check_number(item, f"{path}[{index}]", limits)
        return [int(item) if isinstance(item, bool) else item for item in items]
    if kind == "array[string]":
        items = _as_list(value, path, limits.max_string_array_length)
        if items is None:
            return None
        out = []
        for index, item in enumerate(items):
            if item is not None and not isinstance(item, str):
                raise OutputValidationError(
                    f"Output {path}[{index}] must be a string, got {type(item).__name__} instead."
                )
            out.append(_check_string(item, f"{path}[{index}]", limits))
        return out
    if kind == "array[object]":
        items = _as_list(value, path, limits.max_object_array_length)
        if items is None:
            return None
        out = []
        for index, item in enumerate(items):
            if item is None:
                out.append(None)
                continue
            if not isinstance(item, dict):
                raise OutputValidationError(
                    f"Output {path}[{index}] is not an object, got {type(item)} instead at index {index}."
                )
            out.append(transform_result(item, spec["children"], limits, f"{path}[{index}]", depth + 1))
        return out
    # array[boolean]
    if not isinstance(value, list):
        if value is None:
            return None
        raise OutputValidationError(f"Output {path} is not an array, got {type(value)} instead.")
    for index, item in enumerate(value):
        if item is not None and not isinstance(item, bool):
            raise OutputValidationError(f"Output {path}[{index}] is not a boolean, got {type(item)} instead.")
    return value


def transform_result(
    result: Mapping[str, Any],
    schema: dict[str, dict[str, Any]] | None,
    limits: CodeLimits,
    prefix: str = "",
    depth: int = 1,
) -> Mapping[str, Any]:
    """Validate a code result against the declared outputs, exactly as Dify does."""
    if depth > limits.max_depth:
        raise OutputValidationError(
            f"Depth limit {limits.max_depth} reached, object too deep.", "DepthLimitError"
        )
    if schema is None:
        for name, value in result.items():
            _validate_untyped(name, value, prefix, depth, limits)
        return result
    transformed: dict[str, Any] = {}
    for name, spec in schema.items():
        if name not in result:
            raise OutputValidationError(f"Output {_path(prefix, name)} is missing.")
        transformed[name] = _transform_typed(name, spec, result[name], prefix, depth, limits)
    if len(transformed) != len(result):
        raise NodeError("Not all output parameters are validated.", "CodeNodeError")
    return transformed
