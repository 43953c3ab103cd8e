"""Flow and IO nodes: start, end, answer, and the container marker nodes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, InputError, NodeError
from ..templates import Selector, VariableTemplate
from ..values import File
from .base import (
    RESPONSE,
    ROOT,
    Node,
    NodeContext,
    NodeResult,
    as_selector,
    get_list,
    get_template,
)

START_VARIABLE_TYPES = frozenset(
    {
        "text-input",
        "paragraph",
        "select",
        "number",
        "checkbox",
        "json_object",
        "file",
        "file-list",
        "external_data_tool",
    }
)
TEXT_TYPES = frozenset({"text-input", "paragraph", "select"})


class StartNode(Node):
    """Root of a workflow. User inputs are in the pool under its id before it runs; it outputs them
    plus a flattened copy of the rest of the pool (`sys.query`, `env.X`, ...), as Dify does."""

    type = "start"
    execution = ROOT

    def configure(self, data: Mapping[str, Any]) -> None:
        self.variables: list[dict[str, Any]] = []
        for index, raw in enumerate(get_list(data, "variables")):
            if (
                not isinstance(raw, Mapping)
                or not isinstance(raw.get("variable"), str)
                or not raw["variable"]
            ):
                raise ConfigError(f"variables[{index}] must be an object with a non-empty 'variable'")
            kind = raw.get("type") or "text-input"
            if kind not in START_VARIABLE_TYPES:
                raise ConfigError(f"variables[{index}] ({raw['variable']}): unknown input type {kind!r}")
            self.variables.append(dict(raw, type=kind))

    def prepare_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and coerce user inputs the way Dify's app generator does before a run."""
        # Like Dify's app generator, only declared variables reach the pool.
        prepared: dict[str, Any] = {}
        for variable in self.variables:
            name = variable["variable"]
            value = inputs.get(name)
            if value is None and variable.get("default") not in (None, ""):
                value = variable["default"]
            prepared[name] = _validate_input(variable, value)
        return prepared

    def run(self, ctx: NodeContext) -> NodeResult:
        node_inputs = ctx.pool.node_values(self.id)
        for variable in self.variables:
            if variable["type"] != "json_object":
                continue
            self._check_json_object(variable, node_inputs)
        outputs = ctx.pool.flatten(unprefixed_node_id=self.id)
        outputs.update(node_inputs)
        return NodeResult(outputs=outputs, inputs=node_inputs)

    @staticmethod
    def _check_json_object(variable: Mapping[str, Any], node_inputs: dict[str, Any]) -> None:
        key = variable["variable"]
        value = node_inputs.get(key)
        if value is None and variable.get("required"):
            raise NodeError(f"{key} is required in input form", "ValueError")
        if not value:
            return
        if not isinstance(value, dict):
            raise NodeError(f"JSON object for '{key}' must be an object", "TypeError")
        schema = variable.get("json_schema")
        if not schema:
            return
        try:
            from jsonschema import Draft7Validator, ValidationError
        except ImportError:  # pragma: no cover - jsonschema ships with drf-spectacular
            return
        if isinstance(schema, str):
            import json

            schema = json.loads(schema)
        try:
            Draft7Validator(schema).validate(value)
        except ValidationError as error:
            raise NodeError(
                f"JSON object for '{key}' does not match schema: {error.message}", "ValueError"
            ) from error


def _validate_input(variable: Mapping[str, Any], value: Any) -> Any:
    name = variable["variable"]
    kind = variable["type"]
    if value is None:
        if variable.get("required"):
            raise InputError(f"{name} is required in input form", name)
        return None
    if kind in TEXT_TYPES and not isinstance(value, str):
        raise InputError(f"{name} in input form must be a string", name)
    if kind == "number":
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return float(value) if "." in value else int(value)
            except ValueError as error:
                raise InputError(f"{name} in input form must be a valid number", name) from error
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{name} in input form must be a valid number", name)
    if kind == "select":
        options = variable.get("options") or []
        if options and value not in options:
            raise InputError(f"{name} in input form must be one of the following: {options}", name)
    if kind in ("text-input", "paragraph"):
        max_length = variable.get("max_length")
        if isinstance(max_length, int) and max_length > 0 and len(value) > max_length:
            raise InputError(f"{name} in input form must be less than {max_length} characters", name)
    if kind == "checkbox" and not isinstance(value, bool):
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InputError(f"{name} in input form must be a boolean", name)
    if kind == "file":
        value = File.from_dict(value) if isinstance(value, dict) else value
        if not isinstance(value, File):
            raise InputError(f"{name} in input form must be a file", name)
    if kind == "file-list":
        if not isinstance(value, list):
            raise InputError(f"{name} in input form must be a list of files", name)
        value = [File.from_dict(item) if isinstance(item, dict) else item for item in value]
        if not all(isinstance(item, File) for item in value):
            raise InputError(f"{name} in input form must be a list of files", name)
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


class TriggerNode(Node):
    """Dify's trigger roots (webhook, schedule, plugin event): a run started by one has its inputs (a
    webhook's request variables, a plugin event's parameters; nothing for a schedule) in the pool under
    the node's id, and the node outputs them plus a flattened copy of the pool, as the start node does.
    Their configuration (URL, cron, subscription) concerns what starts a run, not the run itself."""

    execution = ROOT

    def run(self, ctx: NodeContext) -> NodeResult:
        node_inputs = ctx.pool.node_values(self.id)
        outputs = ctx.pool.flatten(unprefixed_node_id=self.id)
        outputs.update(node_inputs)
        return NodeResult(outputs=outputs, inputs=node_inputs)


# The webhook and schedule roots, which read their data, live in .triggers.


class TriggerPluginNode(TriggerNode):
    type = "trigger-plugin"


class EndNode(Node):
    """Workflow-mode output. Streams its outputs in order with "\\n" between them."""

    type = "end"
    execution = RESPONSE

    def configure(self, data: Mapping[str, Any]) -> None:
        self.outputs: list[tuple[str, Selector]] = []
        for index, raw in enumerate(get_list(data, "outputs")):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("variable"), str):
                raise ConfigError(f"outputs[{index}] must be an object with a 'variable' name")
            selector = as_selector(
                raw.get("value_selector"), f"outputs[{index}].value_selector", allow_empty=True
            )
            self.outputs.append((raw["variable"], selector))

    def references(self) -> list[Selector]:
        return [selector for _, selector in self.outputs if selector]

    def streaming_template(self) -> list[str | Selector]:
        segments: list[str | Selector] = []
        for index, (_, selector) in enumerate(self.outputs):
            if index > 0:
                segments.append("\n")
            if selector:
                segments.append(selector)
        if segments and isinstance(segments[-1], str):
            segments.pop()
        return segments

    def run(self, ctx: NodeContext) -> NodeResult:
        outputs = {name: (ctx.pool.get(selector) if selector else None) for name, selector in self.outputs}
        return NodeResult(outputs=outputs, inputs=dict(outputs))


class AnswerNode(Node):
    """Chatflow output: renders its template with markdown rules; the run's `answer` concatenates."""

    type = "answer"
    execution = RESPONSE

    def configure(self, data: Mapping[str, Any]) -> None:
        self.template: VariableTemplate = get_template(data, "answer")

    def streaming_template(self) -> list[str | Selector]:
        return list(self.template.parts)

    def run(self, ctx: NodeContext) -> NodeResult:
        files: list[File] = []
        for value in self.template.values(ctx.pool):
            if isinstance(value, File):
                files.append(value)
            elif isinstance(value, list) and value and all(isinstance(item, File) for item in value):
                files.extend(value)
        return NodeResult(outputs={"answer": self.template.render_markdown(ctx.pool), "files": files})


class MarkerNode(Node):
    """iteration-start / loop-start: the root of a container body; emits no events."""

    hidden = True

    def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult()


class IterationStartNode(MarkerNode):
    type = "iteration-start"


class LoopStartNode(MarkerNode):
    type = "loop-start"


class LoopEndNode(Node):
    """Reaching it ends the enclosing loop after the current round."""

    type = "loop-end"

    def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult()
