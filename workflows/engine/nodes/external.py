"""Nodes backed by outside services: knowledge-retrieval, tool, agent, document-extractor, human-input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, NodeError
from ..ports import (
    AgentRequest,
    HumanInputRequest,
    RetrievalRequest,
    RetrievedChunk,
    ToolMessage,
    ToolRequest,
)
from ..templates import Selector, VariableTemplate, compile_template
from ..values import File, to_text
from .base import (
    BRANCH,
    PAUSED,
    Node,
    NodeContext,
    NodeResult,
    as_selector,
    get_dict,
    get_list,
    get_str,
)


class KnowledgeRetrievalNode(Node):
    type = "knowledge-retrieval"
    is_async = True
    capabilities = frozenset({"retrieval"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self.query = as_selector(
            data.get("query_variable_selector"), "query_variable_selector", allow_empty=True
        )
        self.dataset_ids = [str(item) for item in get_list(data, "dataset_ids")]
        self.mode = get_str(data, "retrieval_mode", "multiple")
        if self.mode not in ("single", "multiple"):
            raise ConfigError("retrieval_mode must be single or multiple")
        self.multiple = dict(get_dict(data, "multiple_retrieval_config"))
        self.single = dict(get_dict(data, "single_retrieval_config"))
        self.metadata_mode = get_str(data, "metadata_filtering_mode", "disabled")
        self.metadata_conditions = data.get("metadata_filtering_conditions")
        self.metadata_model = data.get("metadata_model_config")

    def references(self) -> list[Selector]:
        return [self.query] if self.query else []

    async def arun(self, ctx: NodeContext) -> NodeResult:
        query = to_text(ctx.pool.get(self.query)) if self.query else ""
        if not query:
            return NodeResult.failed(
                "Query is required.", "KnowledgeRetrievalNodeError", inputs={"query": query}
            )
        if not self.dataset_ids:
            return NodeResult(outputs={"result": []}, inputs={"query": query})
        top_k = self.multiple.get("top_k") or 4
        threshold = (
            self.multiple.get("score_threshold")
            if self.multiple.get("score_threshold_enabled", True)
            else None
        )
        request = RetrievalRequest(
            dataset_ids=list(self.dataset_ids),
            query=query,
            mode=self.mode,
            top_k=int(top_k),
            score_threshold=threshold,
            reranking={
                key: self.multiple.get(key)
                for key in ("reranking_mode", "reranking_enable", "reranking_model", "weights")
            }
            or None,
            single_model=self.single.get("model"),
            metadata_filtering={
                "mode": self.metadata_mode,
                "conditions": self.metadata_conditions,
                "model": self.metadata_model,
            }
            if self.metadata_mode != "disabled"
            else None,
            tenant_id=ctx.system("tenant_id"),
            user=ctx.system("user_id"),
        )
        chunks = await ctx.require("retrieval").retrieve(request)
        result = [format_chunk(chunk, position) for position, chunk in enumerate(chunks, start=1)]
        return NodeResult(outputs={"result": result}, inputs={"query": query})


def format_chunk(chunk: RetrievedChunk | Mapping[str, Any], position: int) -> dict[str, Any]:
    """Dify's knowledge-retrieval result item: metadata (with score and position), title, content."""
    if isinstance(chunk, Mapping):
        return dict(chunk)
    metadata = dict(chunk.metadata)
    metadata.setdefault("score", chunk.score)
    metadata.setdefault("position", position)
    item: dict[str, Any] = {"metadata": metadata, "title": chunk.title, "content": chunk.content}
    if chunk.files:
        item["files"] = chunk.files
    return item


def _parse_tool_parameters(raw: Any, field_name: str) -> dict[str, tuple[str, Any]]:
    """`{name: {type: mixed|variable|constant, value}}`; legacy plain values are mixed templates."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{field_name} must be an object")
    parsed: dict[str, tuple[str, Any]] = {}
    for name, spec in raw.items():
        if isinstance(spec, Mapping) and "type" in spec:
            kind, value = spec["type"], spec.get("value")
        else:
            kind, value = ("mixed", spec) if isinstance(spec, str) else ("constant", spec)
        if kind == "mixed":
            value = compile_template(
                value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            )
        elif kind == "variable":
            value = as_selector(value, f"{field_name}.{name}.value")
        elif kind != "constant":
            raise ConfigError(f"{field_name}.{name}.type must be mixed, variable or constant")
        parsed[name] = (kind, value)
    return parsed


def _resolve_parameters(ctx: NodeContext, parameters: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for name, (kind, value) in parameters.items():
        if kind == "mixed":
            resolved[name] = value.render_text(ctx.pool)
        elif kind == "variable":
            found, resolved_value = ctx.pool.lookup(value)
            if not found:
                raise NodeError(f"Variable {list(value)} does not exist", "ToolParameterError")
            resolved[name] = resolved_value
        else:
            resolved[name] = value
    return resolved


def _parameter_selectors(parameters: dict[str, tuple[str, Any]]) -> list[Selector]:
    found: list[Selector] = []
    for kind, value in parameters.values():
        if kind == "variable":
            found.append(value)
    return found


async def collect_messages(ctx: NodeContext, node_id: str, messages: Any) -> dict[str, Any]:
    """Turn tool/agent messages into outputs `text`, `files`, `json` plus declared variables."""
    text: list[str] = []
    files: list[File] = []
    json_items: list[Any] = []
    variables: dict[str, Any] = {}
    streamed: list[str] = []
    async for message in messages:
        if not isinstance(message, ToolMessage):
            raise NodeError(f"port yielded {type(message).__name__}, expected ToolMessage", "ToolInvokeError")
        if message.type in ("text", "link"):
            piece = message.text if message.type == "text" else f"Link: {message.text}\n"
            text.append(piece)
            ctx.emit_chunk((node_id, "text"), piece)
        elif message.type == "json":
            if message.data:  # Dify skips an empty json_object
                json_items.append(message.data)
        elif message.type in ("file", "image", "blob") and message.file is not None:
            files.append(message.file)
        elif message.type == "variable":
            if message.stream:
                if message.name not in streamed:
                    streamed.append(message.name)
                variables[message.name] = variables.get(message.name, "") + message.text
                ctx.emit_chunk((node_id, message.name), message.text)
            else:
                variables[message.name] = message.data
        elif message.type == "log":
            ctx.emit_agent_log(message.data if isinstance(message.data, dict) else {"data": message.data})
    # Close every stream the node opened, text then streamed variables, as Dify does: an open stream would
    # make the answer wait for the pool value and send the whole text a second time. (Dify closes the
    # non-streamed variables too, which makes its answer stream drop their value; we do not copy that.)
    ctx.emit_chunk((node_id, "text"), "", True)
    for name in streamed:
        ctx.emit_chunk((node_id, name), "", True)
    # Dify's tool and agent nodes never answer an empty `json`: no JSON message gives [{"data": []}].
    return {"text": "".join(text), "files": files, "json": json_items or [{"data": []}], **variables}


class ToolNode(Node):
    type = "tool"
    is_async = True
    retryable = True
    capabilities = frozenset({"tools"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self.provider_type = get_str(data, "provider_type", "builtin")
        self.provider_id = get_str(data, "provider_id") or get_str(data, "provider_name")
        self.tool_name = get_str(data, "tool_name", required=True)
        self.parameters = _parse_tool_parameters(data.get("tool_parameters"), "tool_parameters")
        configurations = data.get("tool_configurations") or {}
        if not isinstance(configurations, Mapping):
            raise ConfigError("tool_configurations must be an object")
        self.configurations = {
            name: (value.get("value") if isinstance(value, Mapping) and "value" in value else value)
            for name, value in configurations.items()
        }
        self.credential_id = data.get("credential_id")

    def references(self) -> list[Selector]:
        return _parameter_selectors(self.parameters)

    async def arun(self, ctx: NodeContext) -> NodeResult:
        parameters = _resolve_parameters(ctx, self.parameters)
        request = ToolRequest(
            provider_type=self.provider_type,
            provider_id=self.provider_id,
            tool_name=self.tool_name,
            parameters=parameters,
            configurations=dict(self.configurations),
            credential_id=self.credential_id,
            tenant_id=ctx.system("tenant_id"),
            user=ctx.system("user_id"),
            call_depth=ctx.call_depth,
            node_data=dict(self.data),
        )
        outputs = await collect_messages(ctx, self.id, ctx.require("tools").invoke(request))
        return NodeResult(outputs=outputs, inputs=parameters)


class AgentNode(Node):
    type = "agent"
    is_async = True
    capabilities = frozenset({"agents"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self.strategy_provider = get_str(data, "agent_strategy_provider_name")
        self.strategy = get_str(data, "agent_strategy_name", required=True)
        parameters = _parse_tool_parameters(data.get("agent_parameters"), "agent_parameters")
        # Dify's agent node renders constant strings as templates too (`query: {type: constant, value:
        # "{{#sys.query#}}"}` is how its editor saves the query).
        self.parameters = {
            name: ("mixed", compile_template(value))
            if kind == "constant" and isinstance(value, str)
            else (kind, value)
            for name, (kind, value) in parameters.items()
        }

    def references(self) -> list[Selector]:
        return _parameter_selectors(self.parameters)

    async def arun(self, ctx: NodeContext) -> NodeResult:
        parameters = _resolve_parameters(ctx, self.parameters)
        request = AgentRequest(
            strategy_provider=self.strategy_provider,
            strategy=self.strategy,
            parameters=parameters,
            tenant_id=ctx.system("tenant_id"),
            user=ctx.system("user_id"),
            node_data=dict(self.data),
        )
        outputs = await collect_messages(ctx, self.id, ctx.require("agents").run(request))
        return NodeResult(outputs=outputs, inputs=parameters)


TEXT_EXTENSIONS = frozenset(
    {
        ".txt",
        ".md",
        ".markdown",
        ".csv",
        ".json",
        ".html",
        ".htm",
        ".xml",
        ".yaml",
        ".yml",
        ".log",
        ".py",
        ".js",
        ".ts",
        ".css",
        ".sql",
        ".properties",
        ".ini",
    }
)


class DocumentExtractorNode(Node):
    type = "document-extractor"
    is_async = True
    capabilities = frozenset({"files"})

    def configure(self, data: Mapping[str, Any]) -> None:
        self.variable = as_selector(data.get("variable_selector"), "variable_selector")

    def references(self) -> list[Selector]:
        return [self.variable]

    async def _extract(self, ctx: NodeContext, file: File) -> str:
        files = ctx.require("files")
        extension = (file.extension or "").lower()
        if extension in TEXT_EXTENSIONS or (file.mime_type or "").startswith("text/"):
            content = await files.download(file)
            return content.decode("utf-8", errors="replace")
        return await files.extract_text(file)

    async def arun(self, ctx: NodeContext) -> NodeResult:
        found, value = ctx.pool.lookup(self.variable)
        if not found or value is None:
            return NodeResult.failed(
                f"File variable not found for selector: {list(self.variable)}", "DocumentExtractorError"
            )
        if isinstance(value, File):
            return NodeResult(
                outputs={"text": await self._extract(ctx, value)}, inputs={"variable_selector": value}
            )
        if isinstance(value, list) and all(isinstance(item, File) for item in value):
            texts = [await self._extract(ctx, item) for item in value]
            return NodeResult(outputs={"text": texts}, inputs={"variable_selector": value})
        return NodeResult.failed(
            f"Variable {list(self.variable)} is not a file or a list of files", "DocumentExtractorError"
        )


TIMEOUT_HANDLE = "__timeout"


class HumanInputNode(Node):
    """Pauses the run until a human submits the form; the chosen action id is the edge handle.

    On resume the submission (given to `Engine.resume`) completes the node: outputs are the
    submitted values plus `__action_id` and `__rendered_content`. If a human-input port is set it
    decides instead (for forms stored and delivered by the Django side).
    """

    type = "human-input"
    execution = BRANCH
    is_async = True

    def configure(self, data: Mapping[str, Any]) -> None:
        self.form: VariableTemplate = compile_template(get_str(data, "form_content"))
        self.inputs = [dict(item) for item in get_list(data, "inputs") if isinstance(item, Mapping)]
        self.actions = [dict(item) for item in get_list(data, "user_actions") if isinstance(item, Mapping)]
        for index, action in enumerate(self.actions):
            if not isinstance(action.get("id"), str) or not action["id"]:
                raise ConfigError(f"user_actions[{index}].id must be a non-empty string")

    def _complete(self, action_id: str | None, values: dict[str, Any], rendered: str) -> NodeResult:
        handle = action_id or (self.actions[0]["id"] if self.actions else "submit")
        outputs = {**values, "__action_id": handle, "__rendered_content": rendered}
        return NodeResult(outputs=outputs, inputs=dict(values), handle=handle)

    async def arun(self, ctx: NodeContext) -> NodeResult:
        rendered = self.form.render_text(ctx.pool)
        submission = ctx.human_submission()
        if submission is not None:
            if submission.get("expired"):
                return NodeResult(outputs={"__rendered_content": rendered}, handle=TIMEOUT_HANDLE)
            values = dict(submission.get("inputs") or {})
            action = submission.get("action")
            if action is not None and self.actions and action not in {a["id"] for a in self.actions}:
                return NodeResult.failed(
                    f"unknown action {action!r} for human-input node {self.id}", "HumanInputError"
                )
            return self._complete(action, values, _fill_outputs(rendered, values))
        port = ctx.ports.human_input
        if port is not None:
            decision = await port.request(
                HumanInputRequest(
                    self.id, self.title, ctx.run_id, rendered, self.inputs, self.actions, dict(self.data)
                )
            )
            if decision.status == "submitted":
                return self._complete(
                    decision.action_id, decision.values, _fill_outputs(rendered, decision.values)
                )
            if decision.status == "expired":
                return NodeResult(outputs={"__rendered_content": rendered}, handle=TIMEOUT_HANDLE)
            session = decision.session_id
        else:
            session = None
        return NodeResult(
            status=PAUSED,
            pause_reason={
                "type": "human_input_required",
                "node_id": self.id,
                "node_title": self.title,
                "form_content": rendered,
                "inputs": self.inputs,
                "actions": self.actions,
                "session_id": session,
            },
        )


def _fill_outputs(rendered: str, values: dict[str, Any]) -> str:
    for name, value in values.items():
        rendered = rendered.replace("{{#$output." + name + "#}}", to_text(value))
    return rendered
