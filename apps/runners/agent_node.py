"""The engine's ``AgentPort``: agent nodes of workflows and chatflows, run in process.

Dify runs agent nodes through its agent-strategy plugin (``langgenius/agent/agent``); this port runs the
same node data here: ``agent_parameters`` ``model`` (a model selector), ``tools`` (each with ``auto``
parameters the model fills and fixed ones), ``instruction``, ``query`` and ``maximum_iterations``.
``function_calling`` runs the tool-calling loop of ``agent_chat``; ``ReAct`` the prompt-based loop of
``react`` (tools described in the prompt, Thought / Action / Observation parsed from the text), for
models without tool calling. The answer streams as the node's ``text``;
each round is also reported as an agent log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from apps.runners.agent_chat import AgentModel, AgentTool, Thought, prepare_tools, run_agent
from apps.runners.react import run_react
from providers.tools.port import TenantToolPort
from workflows.engine.ports import AgentRequest, ToolMessage

STRATEGIES = frozenset({"function_calling", "function_call", "ReAct", "react"})
REACT = frozenset({"ReAct", "react"})
DEFAULT_ITERATIONS = 3  # the agent plugin's default for maximum_iterations


class AgentStrategyError(Exception):
    """An agent node this port cannot run: unknown strategy, no model."""


def _tools(raw: Any) -> list[AgentTool]:
    tools: list[AgentTool] = []
    for item in raw or []:
        if not isinstance(item, Mapping) or not item.get("enabled", True):
            continue
        fixed: dict[str, Any] = {}
        for name, spec in (item.get("parameters") or {}).items():
            if isinstance(spec, Mapping):
                if not spec.get("auto") and spec.get("value") not in (None, ""):
                    fixed[name] = spec["value"]
            elif spec not in (None, ""):
                fixed[name] = spec
        for name, spec in (item.get("settings") or {}).items():
            value = spec.get("value") if isinstance(spec, Mapping) else spec
            if value not in (None, ""):
                fixed[name] = value
        provider = str(item.get("provider_name") or item.get("provider_id") or "")
        name = str(item.get("tool_name") or "")
        if provider and name:
            kind = str(item.get("type") or item.get("provider_type") or "builtin")
            tools.append(AgentTool(provider_type=kind, provider_id=provider, tool_name=name, fixed=fixed))
    return tools


class TenantAgentPort:
    """``AgentPort`` for one workspace: its models and tools, on behalf of the run's user."""

    def __init__(
        self, *, tenant_id: str, user: str | None, tools: TenantToolPort, source: dict[str, Any]
    ) -> None:
        self.tenant_id = str(tenant_id)
        self.user = user
        self.tools = tools
        self.source = source

    async def run(self, request: AgentRequest) -> AsyncIterator[ToolMessage]:
        if request.strategy not in STRATEGIES:
            raise AgentStrategyError(
                f"Agent strategy {request.strategy_provider}/{request.strategy} is not available here "
                f"(available: function_calling, ReAct)"
            )
        parameters = request.parameters
        model = parameters.get("model") or {}
        provider, name = model.get("provider"), model.get("model") or model.get("name")
        if not provider or not name:
            raise AgentStrategyError("The agent node has no model selected")
        ready = await prepare_tools(self.tools, _tools(parameters.get("tools")))
        messages: list[dict[str, Any]] = []
        if parameters.get("instruction"):
            messages.append({"role": "system", "content": str(parameters["instruction"])})
        messages.append({"role": "user", "content": str(parameters.get("query") or "")})
        iterations = parameters.get("maximum_iterations") or parameters.get("max_iterations")
        rounds = max(1, min(int(iterations or DEFAULT_ITERATIONS), 99))
        params = dict(model.get("completion_params") or {})
        stop = params.pop("stop", None) or None
        node_id = str(request.node_data.get("id") or "")

        agent_model = AgentModel(
            tenant_id=self.tenant_id,
            provider=provider,
            model=name,
            parameters=params,
            stop=stop,
            user=self.user,
            source={**self.source, "node_id": node_id},
        )

        queue: asyncio.Queue[ToolMessage | None] = asyncio.Queue()

        def on_thought(thought: Thought) -> None:
            queue.put_nowait(ToolMessage(type="log", data=_log(thought)))

        async def loop() -> Any:
            try:
                if request.strategy in REACT:
                    return await run_react(
                        model=agent_model,
                        port=self.tools,
                        tools=ready,
                        instruction=str(parameters.get("instruction") or ""),
                        query=str(parameters.get("query") or ""),
                        rounds=rounds + 1,
                        user=self.user,
                        publish_text=lambda text: queue.put_nowait(ToolMessage(type="text", text=text)),
                        publish_thought=on_thought,
                        stopped=asyncio.Event(),
                    )
                return await run_agent(
                    model=agent_model,
                    port=self.tools,
                    tools=ready,
                    messages=messages,
                    rounds=rounds + 1,  # as in agent apps: one answering round past the tool rounds
                    user=self.user,
                    publish_text=lambda text: queue.put_nowait(ToolMessage(type="text", text=text)),
                    publish_thought=on_thought,
                    stopped=asyncio.Event(),
                )
            finally:
                queue.put_nowait(None)

        task = asyncio.ensure_future(loop())
        try:
            while (message := await queue.get()) is not None:
                yield message
            await task  # raises the model's error, failing the node
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def _log(thought: Thought) -> dict[str, Any]:
    return {
        "id": thought.id,
        "label": f"ROUND {thought.position}",
        "status": "success",
        "data": {
            "thought": thought.thought,
            "tool": thought.tool,
            "tool_input": thought.tool_input,
            "observation": thought.observation,
        },
    }
