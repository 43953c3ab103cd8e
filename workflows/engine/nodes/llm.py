"""Model nodes: llm, question-classifier, parameter-extractor. They reach models through `ports.models`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError

from ..errors import ConfigError, NodeError
from ..jinja import CompiledJinja, compile_jinja
from ..ports import ContentPart, ModelDelta, ModelRequest, PromptMessage, ToolCall, ToolSpec, Usage
from ..templates import Selector, VariableTemplate, compile_template
from ..values import File, to_text
from .base import (
    BRANCH,
    Node,
    NodeContext,
    NodeResult,
    VariableBinding,
    as_selector,
    get_dict,
    get_list,
    get_str,
    parse_bindings,
    selectors_of,
)
from .transform import plain_input

_THINK = re.compile(r"<think[^>]*>([\s\S]*?)</think>", re.IGNORECASE)
CONTEXT_MARK = "{{#context#}}"
HISTORIES_MARK = "#histories#"


@dataclass(frozen=True, slots=True)
class ModelConfig:
    provider: str
    name: str
    mode: str
    parameters: dict[str, Any]

    @classmethod
    def parse(cls, raw: Any) -> ModelConfig:
        if not isinstance(raw, Mapping):
            raise ConfigError("model must be an object with provider, name and mode")
        mode = raw.get("mode") or "chat"
        if mode not in ("chat", "completion"):
            raise ConfigError(f"model.mode must be chat or completion, got {mode!r}")
        params = raw.get("completion_params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError("model.completion_params must be an object")
        return cls(str(raw.get("provider") or ""), str(raw.get("name") or ""), mode, dict(params))


@dataclass(frozen=True, slots=True)
class PromptItem:
    role: str
    template: VariableTemplate
    jinja: CompiledJinja | None


def _parse_prompt_item(raw: Any, where: str, default_role: str = "user") -> PromptItem:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be an object")
    role = raw.get("role") or default_role
    if role not in ("system", "user", "assistant"):
        raise ConfigError(f"{where}.role must be system, user or assistant")
    edition = raw.get("edition_type") or "basic"
    if edition not in ("basic", "jinja2"):
        raise ConfigError(f"{where}.edition_type must be basic or jinja2")
    jinja = compile_jinja(str(raw.get("jinja2_text") or "")) if edition == "jinja2" else None
    return PromptItem(role, compile_template(str(raw.get("text") or "")), jinja)


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    window_enabled: bool
    window_size: int | None
    query_template: VariableTemplate | None
    user_prefix: str
    assistant_prefix: str

    @classmethod
    def parse(cls, raw: Any) -> MemoryConfig | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ConfigError("memory must be an object")
        window = raw.get("window") or {}
        prefix = raw.get("role_prefix") or {}
        query = raw.get("query_prompt_template")
        size = window.get("size")
        return cls(
            bool(window.get("enabled")),
            int(size) if isinstance(size, int | float | str) and str(size).isdigit() else None,
            compile_template(query) if isinstance(query, str) and query else None,
            str(prefix.get("user") or "Human"),
            str(prefix.get("assistant") or "Assistant"),
        )


class ModelNodeMixin:
    """Prompt assembly shared by the three model nodes."""

    id: str
    model: ModelConfig
    memory: MemoryConfig | None
    vision_enabled: bool
    vision_selector: Selector
    vision_detail: str

    def _parse_common(self, data: Mapping[str, Any]) -> None:
        self.model = ModelConfig.parse(data.get("model"))
        self.memory = MemoryConfig.parse(data.get("memory"))
        vision = get_dict(data, "vision")
        self.vision_enabled = bool(vision.get("enabled"))
        configs = vision.get("configs") or {}
        self.vision_selector = as_selector(
            configs.get("variable_selector"), "vision.configs.variable_selector", allow_empty=True
        ) or ("sys", "files")
        self.vision_detail = str(configs.get("detail") or "high")

    async def _history(self, ctx: NodeContext) -> list[PromptMessage]:
        if self.memory is None or ctx.ports.memory is None:
            return []
        conversation_id = ctx.system("conversation_id")
        if not conversation_id:
            return []
        size = self.memory.window_size if self.memory.window_enabled else None
        return list(await ctx.ports.memory.history(conversation_id=str(conversation_id), max_messages=size))

    def _vision_parts(self, ctx: NodeContext) -> list[ContentPart]:
        if not self.vision_enabled:
            return []
        value = ctx.pool.get(self.vision_selector)
        files = value if isinstance(value, list) else [value]
        return [ContentPart(file.type, file, self.vision_detail) for file in files if isinstance(file, File)]

    def _query_message(self, ctx: NodeContext) -> PromptMessage | None:
        if self.memory is None:
            return None
        template = self.memory.query_template
        text = template.render_text(ctx.pool) if template is not None else to_text(ctx.system("query"))
        return PromptMessage("user", text) if text else None

    def _request(self, ctx: NodeContext, messages: list[PromptMessage], **extra: Any) -> ModelRequest:
        parameters = dict(self.model.parameters)
        stop = parameters.pop("stop", None) or []
        return ModelRequest(
            provider=self.model.provider,
            model=self.model.name,
            mode=self.model.mode,
            messages=messages,
            parameters=parameters,
            stop=list(stop),
            user=ctx.system("user_id"),
            tenant_id=ctx.system("tenant_id"),
            **extra,
        )


async def invoke_model(
    ctx: NodeContext, request: ModelRequest, stream_selector: Selector | None = None
) -> tuple[str, str, Usage, str | None, list[ToolCall], list[File]]:
    """Call the model port; stream text chunks to `stream_selector` if given."""
    models = ctx.require("models")
    text: list[str] = []
    reasoning: list[str] = []
    usage = Usage()
    finish_reason: str | None = None
    tool_calls: list[ToolCall] = []
    files: list[File] = []
    async for delta in models.stream(request):
        if not isinstance(delta, ModelDelta):
            raise NodeError(f"model port yielded {type(delta).__name__}, expected ModelDelta", "InvokeError")
        if delta.reasoning:
            reasoning.append(delta.reasoning)
            ctx.emit_reasoning(delta.reasoning)
        if delta.text:
            text.append(delta.text)
            if stream_selector is not None:
                ctx.emit_chunk(stream_selector, delta.text)
        tool_calls.extend(delta.tool_calls)
        files.extend(delta.files)
        if delta.usage is not None:
            usage = delta.usage
        if delta.finish_reason:
            finish_reason = delta.finish_reason
    return "".join(text), "".join(reasoning), usage, finish_reason, tool_calls, files


def usage_metadata(usage: Usage) -> dict[str, Any]:
    return {"total_tokens": usage.total_tokens, "total_price": usage.total_price, "currency": usage.currency}


def parse_json_markdown(text: str) -> Any:
    """JSON from a model answer, optionally inside ```json fences or surrounded by prose."""
    cleaned = _THINK.sub("", text).strip()
    fence = re.search(r"```(?:json)?\s*([\s\S]*?)```", cleaned)
    if fence:
        cleaned = fence.group(1).strip()
    try:
        return json.loads(cleaned)
    except json.JSONDecodeError:
        pass
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = cleaned.find(opener), cleaned.rfind(closer)
        if start != -1 and end > start:
            try:
                return json.loads(cleaned[start : end + 1])
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON object in model answer")


class LLMNode(ModelNodeMixin, Node):
    type = "llm"
    is_async = True
    retryable = True
    capabilities = frozenset({"models"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self._parse_common(data)
        raw = data.get("prompt_template")
        if self.model.mode == "completion" and isinstance(raw, Mapping):
            self.prompts = [_parse_prompt_item(raw, "prompt_template")]
        elif isinstance(raw, list):
            self.prompts = [_parse_prompt_item(item, f"prompt_template[{i}]") for i, item in enumerate(raw)]
        elif isinstance(raw, Mapping):
            self.prompts = [_parse_prompt_item(raw, "prompt_template")]
        elif raw is None:
            self.prompts = []
        else:
            raise ConfigError("prompt_template must be a list of messages or an object")
        prompt_config = get_dict(data, "prompt_config")
        self.jinja_bindings: tuple[VariableBinding, ...] = parse_bindings(
            prompt_config.get("jinja2_variables"), "prompt_config.jinja2_variables"
        )
        context = get_dict(data, "context")
        self.context_enabled = bool(context.get("enabled"))
        self.context_selector = as_selector(
            context.get("variable_selector"), "context.variable_selector", allow_empty=True
        )
        switch = data.get("structured_output_switch_on", data.get("structured_output_enabled"))
        structured = get_dict(data, "structured_output")
        self.structured_schema = structured.get("schema") if switch else None
        if self.structured_schema is not None and not isinstance(self.structured_schema, Mapping):
            raise ConfigError("structured_output.schema must be an object")
        self.reasoning_format = get_str(data, "reasoning_format", "tagged")
        if self.reasoning_format not in ("tagged", "separated"):
            raise ConfigError("reasoning_format must be tagged or separated")

    def references(self) -> list[Selector]:
        found = selectors_of(list(self.jinja_bindings))
        if self.context_enabled and self.context_selector:
            found.append(self.context_selector)
        return found

    def _context(self, ctx: NodeContext) -> tuple[str, list[dict[str, Any]]]:
        if not self.context_enabled or not self.context_selector:
            return "", []
        value = ctx.pool.get(self.context_selector)
        if isinstance(value, str):
            return value, []
        if isinstance(value, list):
            texts: list[str] = []
            resources: list[dict[str, Any]] = []
            for item in value:
                if isinstance(item, dict):
                    if "content" in item:
                        texts.append(str(item["content"]))
                    if isinstance(item.get("metadata"), dict):
                        resources.append({**item["metadata"], "content": item.get("content")})
                elif isinstance(item, str):
                    texts.append(item)
            return "\n".join(texts).strip(), resources
        return to_text(value), []

    def _render(self, ctx: NodeContext, item: PromptItem, context: str, jinja_vars: dict[str, Any]) -> str:
        if item.jinja is not None:
            try:
                return item.jinja.render(jinja_vars)
            except TemplateError as error:
                raise NodeError(f"Jinja2 prompt error: {error}", "TemplateRenderError") from error
        text = item.template.render_text(ctx.pool)
        return text.replace(CONTEXT_MARK, context) if CONTEXT_MARK in text else text

    async def build_messages(self, ctx: NodeContext) -> tuple[list[PromptMessage], list[dict[str, Any]]]:
        context, resources = self._context(ctx)
        jinja_vars = {
            b.name: plain_input(ctx.pool.get(b.selector)) if b.selector else None for b in self.jinja_bindings
        }
        history = await self._history(ctx)
        messages: list[PromptMessage] = []
        if self.model.mode == "completion":
            text = "".join(self._render(ctx, item, context, jinja_vars) for item in self.prompts)
            if HISTORIES_MARK in text and self.memory is not None:
                lines = [
                    f"{self.memory.user_prefix if m.role == 'user' else self.memory.assistant_prefix}: {m.content}"
                    for m in history
                ]
                text = text.replace(HISTORIES_MARK, "\n".join(lines))
            messages.append(PromptMessage("user", text))
        else:
            for item in self.prompts:
                text = self._render(ctx, item, context, jinja_vars)
                if text or item.role != "system":
                    messages.append(PromptMessage(item.role, text))
            messages.extend(history)
            query = self._query_message(ctx)
            if query is not None:
                messages.append(query)
        parts = self._vision_parts(ctx)
        if parts:
            for message in reversed(messages):
                if message.role == "user":
                    message.parts.extend(parts)
                    break
            else:
                messages.append(PromptMessage("user", "", parts))
        return messages, resources

    async def arun(self, ctx: NodeContext) -> NodeResult:
        try:
            messages, resources = await self.build_messages(ctx)
            if resources:
                ctx.emit_retriever_resources(resources)
            request = self._request(ctx, messages, response_schema=self.structured_schema)
            selector = (self.id, "text")
            text, reasoning, usage, finish_reason, _, files = await invoke_model(ctx, request, selector)
        except NodeError as error:
            return NodeResult.failed(str(error), error.error_type)
        ctx.emit_chunk(selector, "", True)
        if self.reasoning_format == "separated":
            found = _THINK.findall(text)
            if found:
                reasoning = (reasoning + "\n" if reasoning else "") + "\n".join(
                    part.strip() for part in found
                )
                text = _THINK.sub("", text).lstrip()
        outputs: dict[str, Any] = {
            "text": text,
            "reasoning_content": reasoning,
            "usage": usage.to_dict(),
            "finish_reason": finish_reason,
            "files": files,
        }
        if self.structured_schema is not None:
            try:
                outputs["structured_output"] = parse_json_markdown(text)
            except ValueError:
                return NodeResult.failed(
                    "Failed to parse structured output from the model answer", "LLMNodeError", outputs=outputs
                )
        return NodeResult(
            outputs=outputs,
            inputs={},
            process_data={
                "model_mode": self.model.mode,
                "prompts": [m.to_dict() for m in messages],
                "model_provider": self.model.provider,
                "model_name": self.model.name,
            },
            metadata=usage_metadata(usage),
        )


class QuestionClassifierNode(ModelNodeMixin, Node):
    type = "question-classifier"
    execution = BRANCH
    is_async = True
    capabilities = frozenset({"models"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self._parse_common(data)
        self.query = as_selector(
            data.get("query_variable_selector"), "query_variable_selector", allow_empty=True
        )
        self.classes: list[tuple[str, VariableTemplate, str]] = []
        for index, raw in enumerate(get_list(data, "classes", required=True)):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
                raise ConfigError(f"classes[{index}] must be an object with an id")
            self.classes.append(
                (raw["id"], compile_template(str(raw.get("name") or "")), str(raw.get("label") or ""))
            )
        if not self.classes:
            raise ConfigError("classes must not be empty")
        self.instruction = compile_template(get_str(data, "instruction"))

    def references(self) -> list[Selector]:
        return [self.query] if self.query else []

    async def arun(self, ctx: NodeContext) -> NodeResult:
        query = to_text(ctx.pool.get(self.query)) if self.query else ""
        classes = [
            (class_id, name.render_text(ctx.pool), label or f"CLASS {index + 1}")
            for index, (class_id, name, label) in enumerate(self.classes)
        ]
        catalogue = json.dumps(
            [{"category_id": cid, "category_name": name} for cid, name, _ in classes], ensure_ascii=False
        )
        system = (
            "You are a text classifier. Read the input text and choose the one category it belongs to.\n"
            f"Categories: {catalogue}\n"
            + (
                f"Extra instructions: {self.instruction.render_text(ctx.pool)}\n"
                if self.instruction.source
                else ""
            )
            + 'Reply with JSON only: {"category_id": "...", "category_name": "..."}.'
        )
        messages = [PromptMessage("system", system), *await self._history(ctx), PromptMessage("user", query)]
        parts = self._vision_parts(ctx)
        if parts:
            messages[-1].parts.extend(parts)
        try:
            text, _, usage, finish_reason, _, _ = await invoke_model(ctx, self._request(ctx, messages))
        except NodeError as error:
            return NodeResult.failed(str(error), error.error_type, inputs={"query": query})
        chosen = classes[0]
        try:
            answer = parse_json_markdown(text)
            if isinstance(answer, dict) and "category_id" in answer and "category_name" in answer:
                chosen = next((item for item in classes if item[0] == answer["category_id"]), classes[0])
        except ValueError:
            pass  # Dify falls back to the first class when the answer is not valid JSON
        class_id, class_name, class_label = chosen
        return NodeResult(
            outputs={
                "class_name": class_name,
                "class_label": class_label,
                "class_id": class_id,
                "usage": usage.to_dict(),
            },
            inputs={"query": query},
            process_data={
                "model_mode": self.model.mode,
                "prompts": [m.to_dict() for m in messages],
                "finish_reason": finish_reason,
            },
            handle=class_id,
            metadata=usage_metadata(usage),
        )


PARAMETER_TYPES = frozenset(
    {
        "string",
        "number",
        "boolean",
        "bool",
        "select",
        "array[string]",
        "array[number]",
        "array[object]",
        "array[boolean]",
    }
)


class ParameterExtractorNode(ModelNodeMixin, Node):
    type = "parameter-extractor"
    is_async = True
    capabilities = frozenset({"models"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self._parse_common(data)
        self.query = as_selector(data.get("query"), "query", allow_empty=True)
        self.parameters: list[dict[str, Any]] = []
        for index, raw in enumerate(get_list(data, "parameters")):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
                raise ConfigError(f"parameters[{index}] must be an object with a name")
            kind = raw.get("type", "string")
            if kind not in PARAMETER_TYPES:
                raise ConfigError(f"parameters[{index}].type {kind!r} is not supported")
            kind = {"bool": "boolean"}.get(kind, kind)  # legacy spelling
            self.parameters.append(
                {
                    "name": raw["name"],
                    "type": kind,
                    "options": list(raw.get("options") or []),
                    "description": str(raw.get("description") or ""),
                    "required": bool(raw.get("required")),
                }
            )
        self.instruction = compile_template(get_str(data, "instruction"))
        self.reasoning_mode = get_str(data, "reasoning_mode", "function_call")
        if self.reasoning_mode not in ("function_call", "prompt"):
            raise ConfigError("reasoning_mode must be function_call or prompt")

    def references(self) -> list[Selector]:
        return [self.query] if self.query else []

    def _schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for parameter in self.parameters:
            kind = parameter["type"]
            if kind == "select":
                spec: dict[str, Any] = {"type": "string", "enum": parameter["options"]}
            elif kind.startswith("array["):
                spec = {"type": "array", "items": {"type": kind[6:-1]}}
            else:
                spec = {"type": kind}
            spec["description"] = parameter["description"]
            properties[parameter["name"]] = spec
        required = [p["name"] for p in self.parameters if p["required"]]
        return {"type": "object", "properties": properties, "required": required}

    async def arun(self, ctx: NodeContext) -> NodeResult:
        query = to_text(ctx.pool.get(self.query)) if self.query else ""
        schema = self._schema()
        instruction = self.instruction.render_text(ctx.pool)
        system = (
            "Extract the parameters described by this JSON Schema from the user's text.\n"
            f"Schema: {json.dumps(schema, ensure_ascii=False)}\n"
            + (f"Instructions: {instruction}\n" if instruction else "")
            + (
                "Call the extract_parameters function."
                if self.reasoning_mode == "function_call"
                else "Reply with a JSON object only."
            )
        )
        messages = [PromptMessage("system", system), *await self._history(ctx), PromptMessage("user", query)]
        parts = self._vision_parts(ctx)
        if parts:
            messages[-1].parts.extend(parts)
        tools = (
            [ToolSpec("extract_parameters", "Extract parameters from the text", schema)]
            if self.reasoning_mode == "function_call"
            else []
        )
        try:
            text, _, usage, _, calls, _ = await invoke_model(ctx, self._request(ctx, messages, tools=tools))
        except NodeError as error:
            return NodeResult.failed(str(error), error.error_type, inputs={"query": query})
        raw: Any = None
        reason = ""
        try:
            raw = json.loads(calls[0].arguments) if calls else parse_json_markdown(text)
            if not isinstance(raw, dict):
                raise ValueError("the model did not return an object")
            values = self._validate(raw)
            success = 1
        except (ValueError, TypeError) as error:
            values = self._defaults()
            reason = str(error)
            success = 0
        outputs = {**values, "__is_success": success, "__reason": reason or None, "__usage": usage.to_dict()}
        return NodeResult(
            outputs=outputs,
            inputs={"query": query},
            process_data={"prompts": [m.to_dict() for m in messages], "raw": raw},
            metadata=usage_metadata(usage),
        )

    def _defaults(self) -> dict[str, Any]:
        zero = {"string": "", "select": "", "number": 0, "boolean": False}
        return {
            p["name"]: ([] if p["type"].startswith("array[") else zero[p["type"]]) for p in self.parameters
        }

    def _validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        values = self._defaults()
        for parameter in self.parameters:
            name, kind = parameter["name"], parameter["type"]
            if name not in raw or raw[name] is None:
                if parameter["required"]:
                    raise ValueError(f"Parameter {name} is required")
                continue
            value = raw[name]
            if kind == "number":
                if isinstance(value, str):
                    value = float(value) if "." in value else int(value)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"Invalid number value for parameter {name}")
            elif kind == "boolean":
                if isinstance(value, str):
                    value = value.lower() in ("true", "1", "yes")
                value = bool(value)
            elif kind in ("string", "select"):
                value = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                if kind == "select" and parameter["options"] and value not in parameter["options"]:
                    raise ValueError(f"Invalid select value for parameter {name}")
            elif not isinstance(value, list):
                raise ValueError(f"Invalid array value for parameter {name}")
            values[name] = value
        return values
