"""The agent-chat tools loop (Dify's function-calling agent runner).

Each round asks the model with the app's enabled tools as functions, streams its text as
``agent_message`` events and records one *thought* (``agent_thought`` events as it grows: first empty,
then with the model's text and tool calls, then with the tools' observations). The tools run through the
workspace's ``TenantToolPort`` with the app's fixed parameters under the model's arguments; each answer
goes back to the model as a tool message. The loop ends when the model answers without calling a tool,
or after ``agent_mode.max_iteration`` rounds (the last round offers no tools, so the model must answer).

A tool that fails, or one the model invents, answers the model with the error instead of failing the
message, as in Dify. Model errors end the run like any chat error (the caller turns them into an
``error`` event).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.tools.builtin import builtin_provider
from providers.tools.exceptions import ToolError, ToolParameterValidationError
from workflows.engine.ports import ToolRequest

logger = logging.getLogger(__name__)

DEFAULT_MAX_ITERATION = 5  # Dify's default for agent apps
MAX_ITERATION = 99
TOOL_TIMEOUT = 120.0  # seconds one tool call may take before the model is told it timed out


@dataclass
class AgentTool:
    """One enabled tool of the app, as the model sees it and as the port invokes it."""

    provider_type: str
    provider_id: str
    tool_name: str
    fixed: dict[str, Any]
    function: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    @classmethod
    def from_config(cls, item: Mapping[str, Any]) -> AgentTool | None:
        if not item.get("enabled", True) or "dataset" in item:
            return None  # datasets of older configs are served as context, not as tools
        provider_id = str(item.get("provider_id") or item.get("provider_name") or "")
        tool_name = str(item.get("tool_name") or "")
        if not provider_id or not tool_name:
            return None
        fixed = {k: v for k, v in (item.get("tool_parameters") or {}).items() if v not in (None, "")}
        return cls(
            provider_type=str(item.get("provider_type") or "builtin"),
            provider_id=provider_id,
            tool_name=tool_name,
            fixed=fixed,
        )


@dataclass(frozen=True)
class AgentModel:
    """The model an agent calls, and on whose behalf (metering ``source``)."""

    tenant_id: str
    provider: str
    model: str
    parameters: dict[str, Any]
    stop: list[str] | None
    user: str | None
    source: dict[str, Any]

    async def stream(self, *, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Any:
        from providers.services.invocation import llm_stream

        return await llm_stream(
            tenant_id=self.tenant_id,
            provider=self.provider,
            model=self.model,
            messages=messages,
            parameters=self.parameters,
            tools=tools,
            stop=self.stop,
            user=self.user,
            source=self.source,
        )


@dataclass
class Thought:
    """One round, recorded as a ``MessageAgentThought`` row."""

    id: str
    position: int
    thought: str = ""
    tool: str = ""
    tool_input: str = ""
    tool_labels: dict[str, Any] = field(default_factory=dict)
    tool_meta: dict[str, Any] = field(default_factory=dict)
    observation: str = ""
    usage: Any = None
    latency: float = 0.0
    message_files: list[str] = field(default_factory=list)


FilesCallback = Callable[["Thought", list[Any]], None]
TOOL_CALL_FEATURES = frozenset({"tool-call", "multi-tool-call", "stream-tool-call"})
REACT_STRATEGIES = frozenset({"react", "cot", "chain-of-thought"})


@dataclass
class AgentOutcome:
    answer: str
    usage: Any
    thoughts: list[Thought]
    stopped: bool = False


def agent_tools_of(config: Mapping[str, Any]) -> list[AgentTool]:
    agent_mode = config.get("agent_mode") or {}
    if not agent_mode.get("enabled", True):
        return []
    tools = [
        AgentTool.from_config(item) for item in agent_mode.get("tools") or [] if isinstance(item, Mapping)
    ]
    return [tool for tool in tools if tool is not None]


async def model_calls_tools(*, tenant_id: str, provider: str, model: str) -> bool:
    """Whether the model's features include tool calling (Dify's ``tool-call`` / ``multi-tool-call`` /
    ``stream-tool-call``). A custom model's features come from its credentials, so they are resolved as
    a call resolves them (cached per workspace); a model that cannot be resolved counts as calling tools
    (the call itself will then report why it cannot run)."""
    from providers import selectors
    from providers.runtime.balancing import CredentialPool
    from providers.services.config_cache import cached
    from providers.services.runtime import model_runtime

    runtime = model_runtime()
    try:
        canonical = runtime.provider(provider).provider
        resolved = await cached(
            tenant_id,
            ("model", canonical, "llm", model),
            lambda: selectors.model_config_resolve(
                tenant=tenant_id, provider=canonical, model_type="llm", model=model
            ),
        )
        credentials = resolved.credentials
        if isinstance(credentials, CredentialPool):
            credentials = credentials.members[0].credentials
        schema = runtime.model_schema(canonical, "llm", model, credentials)
    except Exception:  # an unknown or unconfigured model: the model call reports it
        return True
    return bool(TOOL_CALL_FEATURES.intersection(schema.features or ()))


def uses_react(config: Mapping[str, Any], *, calls_tools: bool) -> bool:
    """ReAct (Dify's chain-of-thought runner) for a model without tool calling, or when the app's
    ``agent_mode.strategy`` asks for it (``react``/``cot``)."""
    strategy = str((config.get("agent_mode") or {}).get("strategy") or "").lower()
    return strategy in REACT_STRATEGIES or not calls_tools


def max_rounds(config: Mapping[str, Any]) -> int:
    value = (config.get("agent_mode") or {}).get("max_iteration") or DEFAULT_MAX_ITERATION
    return min(int(value), MAX_ITERATION) + 1  # Dify allows one answering round past the limit


def _label(tool: AgentTool) -> str:
    if tool.provider_type in ("builtin", "plugin"):
        provider = builtin_provider(tool.provider_id)
        found = provider.tool(tool.tool_name) if provider else None
        if found is not None:
            return found.spec.label.en_US
    return tool.tool_name


async def prepare_tools(port: Any, tools: list[AgentTool]) -> dict[str, AgentTool]:
    """The model-facing functions, by name. A tool that no longer exists is left out (and logged)."""
    ready: dict[str, AgentTool] = {}
    for tool in tools:
        try:
            spec = await port.tool_spec(
                provider_type=tool.provider_type, provider_id=tool.provider_id, tool_name=tool.tool_name
            )
        except ToolError as exc:
            logger.warning("agent tool %s/%s left out: %s", tool.provider_id, tool.tool_name, exc)
            continue
        parameters = dict(spec.parameters)
        properties = {k: v for k, v in (parameters.get("properties") or {}).items() if k not in tool.fixed}
        required = [name for name in parameters.get("required") or [] if name in properties]
        tool.function = {
            "name": spec.name,
            "description": spec.description,
            "parameters": {**parameters, "properties": properties, "required": required},
        }
        tool.label = _label(tool)
        ready[spec.name] = tool
    return ready


async def call_tool(
    port: Any, tool: AgentTool, arguments: dict[str, Any], user: str | None, files: list[Any] | None = None
) -> str:
    """The tool's answer as the text the model reads (Dify's wording for links, images and files). Files
    the tool returned are appended to ``files`` (the app sends them to the user as ``message_file``)."""
    request = ToolRequest(
        provider_type=tool.provider_type,
        provider_id=tool.provider_id,
        tool_name=tool.tool_name,
        parameters={**tool.fixed, **arguments},
        tenant_id=port.tenant_id,
        user=user,
    )
    parts: list[str] = []
    async for message in port.invoke(request):
        if message.type == "text":
            parts.append(message.text)
        elif message.type == "link":
            parts.append(f"result link: {message.text}. please tell user to check it.")
        elif message.type in ("image", "image_link", "file", "blob"):
            if message.file is not None and files is not None:
                files.append(message.file)
            parts.append(
                "image has been created and sent to user already, "
                "you do not need to create it, just tell the user to check it now."
            )
        elif message.type == "json":
            parts.append(json.dumps(message.data, ensure_ascii=False))
        elif message.type == "variable" and not message.stream:
            parts.append(message.text or json.dumps(message.data, ensure_ascii=False))
    return "\n".join(part for part in parts if part)


async def run_agent(
    *,
    model: AgentModel,
    port: Any,
    tools: dict[str, AgentTool],
    messages: list[dict[str, Any]],
    rounds: int,
    user: str | None,
    publish_text: Callable[[str], None],
    publish_thought: Callable[[Thought], None],
    stopped: asyncio.Event,
    publish_files: FilesCallback | None = None,
) -> AgentOutcome:
    """The loop: one model stream per round; events go out through the publish callbacks as they
    happen (``publish_files`` for the files a round's tools returned, before its observation)."""
    history = list(messages)
    thoughts: list[Thought] = []
    answers: list[str] = []
    usage = None
    for round_number in range(1, rounds + 1):
        offered = [tool.function for tool in tools.values()] if round_number < rounds else []
        thought = Thought(id=str(uuid.uuid4()), position=round_number)
        thoughts.append(thought)
        publish_thought(thought)
        started = time.perf_counter()
        stream = await model.stream(messages=history, tools=offered or None)
        text: list[str] = []
        async with stream:
            async for chunk in stream:
                if stopped.is_set():
                    break
                if chunk.text:
                    text.append(chunk.text)
                    publish_text(chunk.text)
        if stopped.is_set():
            answer = "\n".join([*answers, "".join(text)]).strip()
            return AgentOutcome(answer=answer, usage=usage, thoughts=thoughts, stopped=True)
        result = stream.result
        usage = result.usage if usage is None else usage.plus(result.usage)
        thought.usage, thought.latency = result.usage, time.perf_counter() - started
        response = "".join(text)
        calls = list(result.tool_calls)
        thought.thought = response
        answers.append(response)
        if calls:
            thought.tool = ";".join(call.name for call in calls)
            thought.tool_input = json.dumps(
                {call.name: _arguments_for_display(call) for call in calls}, ensure_ascii=False
            )
            thought.tool_labels = {
                call.name: {"en_US": tools[call.name].label, "zh_Hans": tools[call.name].label}
                for call in calls
                if call.name in tools
            }
        publish_thought(thought)
        if not calls:
            break
        history.append(
            {
                "role": "assistant",
                "content": response or None,
                "tool_calls": [call.to_dict() for call in calls],
            }
        )
        observations: dict[str, str] = {}
        produced: list[Any] = []
        for call in calls:
            began = time.perf_counter()
            answer, error = await _answer_of(port, tools.get(call.name), call, user, produced)
            observations[call.name] = answer
            thought.tool_meta[call.name] = {
                "time_cost": round(time.perf_counter() - began, 6),
                "error": error,
                "tool_config": {"tool_provider_type": tools[call.name].provider_type}
                if call.name in tools
                else {},
            }
            history.append({"role": "tool", "content": answer, "tool_call_id": call.id, "name": call.name})
        if produced and publish_files is not None:
            publish_files(thought, produced)
        thought.observation = json.dumps(observations, ensure_ascii=False)
        publish_thought(thought)
    return AgentOutcome(answer="\n".join(answers).strip(), usage=usage, thoughts=thoughts)


def _arguments_for_display(call: Any) -> Any:
    try:
        return call.parsed_arguments()
    except ValueError:
        return call.arguments


async def _answer_of(
    port: Any, tool: AgentTool | None, call: Any, user: str | None, files: list[Any] | None = None
) -> tuple[str, str | None]:
    """What the model reads back for one call, and the error if there was one."""
    if tool is None:
        message = f"there is not a tool named {call.name}"
        return message, message
    try:
        arguments = call.parsed_arguments()
    except ValueError as exc:
        message = f"tool parameters validation error: {exc}, please check your tool parameters"
        return message, message
    try:
        answer = await asyncio.wait_for(call_tool(port, tool, arguments, user, files), TOOL_TIMEOUT)
    except TimeoutError:
        message = f"tool invoke error: {call.name} did not answer within {TOOL_TIMEOUT:.0f} seconds"
        return message, message
    except ToolParameterValidationError as exc:
        message = f"tool parameters validation error: {exc}, please check your tool parameters"
        return message, message
    except ToolError as exc:
        message = f"tool invoke error: {exc}"
        return message, message
    except Exception as exc:  # a tool's own bug must not end the conversation
        logger.exception("agent tool %s failed", call.name)
        message = f"tool invoke error: {exc}"
        return message, message
    return answer, None
