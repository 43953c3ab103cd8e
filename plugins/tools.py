"""Plugin tools behind the tool port: `TenantToolPort` hands a `builtin`/`plugin` tool whose provider id
is a plugin's (`author/plugin/provider`, as Dify 1.x DSL names them) to this backend, which runs it on
the workspace's installed version of that plugin (the SDK's `invoke_tool` request) and turns the
plugin's `ToolInvokeMessage`s into the engine's `ToolMessage`s.

A plugin's failure (its exception, a crash, a timeout, a plugin not installed in the workspace) raises
`ToolInvokeError`/`ToolProviderNotInstalledError` with a message naming the plugin, which the tool node
reports as its error event; the next call to a crashed plugin starts it again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from plugins import registry
from plugins.backwards import ReverseCalls
from plugins.runtime.process import PluginRuntimeError
from plugins.selectors import installed_plugin
from providers.tools.entities import I18n, ParameterOption, ToolParameter
from providers.tools.exceptions import (
    ToolInvokeError,
    ToolNotFoundError,
    ToolProviderNotFoundError,
    ToolProviderNotInstalledError,
)
from providers.tools.port import TenantToolPort, function_parameters, merge_parameters
from workflows.engine.ports import ToolMessage, ToolRequest, ToolSpec

_TYPES = {"string", "number", "boolean", "select", "secret-input", "file", "files"}


def _i18n(value: Any, fallback: str = "") -> I18n:
    if isinstance(value, dict) and value.get("en_US"):
        return I18n(
            en_US=str(value["en_US"]),
            zh_Hans=value.get("zh_Hans"),
            pt_BR=value.get("pt_BR"),
            ja_JP=value.get("ja_JP"),
        )
    return I18n(en_US=str(value or fallback))


def tool_parameters(tool: dict[str, Any]) -> tuple[ToolParameter, ...]:
    """A plugin tool's YAML parameters as the port's `ToolParameter`s (merging, casting, JSON Schema)."""
    out: list[ToolParameter] = []
    for item in tool.get("parameters") or []:
        kind = str(item.get("type") or "string")
        out.append(
            ToolParameter(
                name=str(item["name"]),
                label=_i18n(item.get("label"), str(item["name"])),
                type=kind if kind in _TYPES else "string",
                form=str(item.get("form") or "llm"),
                required=bool(item.get("required", False)),
                default=item.get("default"),
                human_description=_i18n(item.get("human_description"))
                if item.get("human_description")
                else None,
                llm_description=item.get("llm_description"),
                options=tuple(
                    ParameterOption(value=str(o["value"]), label=_i18n(o.get("label"), str(o["value"])))
                    for o in item.get("options") or []
                ),
                min=item.get("min"),
                max=item.get("max"),
            )
        )
    return tuple(out)


def plugin_id_of(provider_id: str) -> str | None:
    """`author/plugin/provider` -> `author/plugin`; a bare builtin name is not a plugin's."""
    parts = (provider_id or "").strip("/").split("/")
    return "/".join(parts[:2]) if len(parts) == 3 else None


def _message(item: Any) -> ToolMessage | None:
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    message = item.get("message") or {}
    if kind == "text":
        return ToolMessage(type="text", text=str(message.get("text") or ""))
    if kind == "json":
        return ToolMessage(type="json", data=message.get("json_object"))
    if kind in ("link", "image", "image_link"):
        return ToolMessage(type="link", text=str(message.get("text") or ""))
    if kind == "variable":
        return ToolMessage(
            type="variable",
            name=str(message.get("variable_name") or ""),
            data=message.get("variable_value"),
            text=str(message.get("variable_value") or "") if message.get("stream") else "",
            stream=bool(message.get("stream")),
        )
    if kind == "log":
        return ToolMessage(type="log", data=message)
    return None  # blobs and files from plugins are not carried yet (see the README)


class PluginToolBackend:
    """Registered with `providers.tools.port.register_plugin_tools` at start-up."""

    def handles(self, provider_id: str) -> bool:
        return plugin_id_of(provider_id) is not None

    async def _resolve(
        self, tenant_id: str, provider_id: str, tool_name: str, provider_type: str
    ) -> tuple[registry.ReadyPlugin, dict, dict]:
        plugin_id = plugin_id_of(provider_id)
        try:
            installation = await sync_to_async(installed_plugin)(
                tenant_id=tenant_id, plugin_id=plugin_id or ""
            )
        except (ValidationError, ValueError):  # not a workspace id at all: nothing is installed for it
            installation = None
        if installation is None:
            if provider_type == "plugin":
                raise ToolProviderNotInstalledError(
                    f"Tool provider type plugin is not installed here: plugin {provider_id} is not available "
                    "(install its .difypkg in this workspace)."
                )
            raise ToolProviderNotFoundError(f"builtin provider {provider_id} not found")
        ready = registry.ready_plugin(installation.package.unique_identifier)
        if ready is None:
            raise ToolProviderNotInstalledError(
                f"Plugin {plugin_id} is installed but not ready on this machine yet."
            )
        provider = registry.tool_provider(ready, provider_id)
        if provider is None:
            raise ToolProviderNotInstalledError(f"Plugin {plugin_id} has no tool provider {provider_id}.")
        tool = next((t for t in provider["tools"] if t["identity"]["name"] == tool_name), None)
        if tool is None:
            raise ToolNotFoundError(f"tool {tool_name} not found in plugin {plugin_id}")
        return ready, provider, tool

    async def tool_spec(
        self, *, tenant_id: str, provider_id: str, tool_name: str, provider_type: str = "builtin"
    ) -> ToolSpec:
        _ready, _provider, tool = await self._resolve(tenant_id, provider_id, tool_name, provider_type)
        description = tool.get("description") or {}
        return ToolSpec(
            name=tool_name,
            description=str(description.get("llm") or _i18n(description.get("human")).en_US),
            parameters=function_parameters(tool_parameters(tool)),
        )

    async def invoke(self, port: TenantToolPort, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        ready, provider, tool = await self._resolve(
            port.tenant_id,
            request.provider_id,
            request.tool_name,
            (request.provider_type or "builtin").strip(),
        )
        parameters = merge_parameters(tool_parameters(tool), request.parameters, request.configurations)
        user = request.user or port.user
        data = {
            "type": "tool",
            "action": "invoke_tool",
            "user_id": user or "",
            "provider": provider["identity"]["name"],
            "tool": request.tool_name,
            "credentials": {},
            "credential_type": "api-key",
            "tool_parameters": parameters,
        }
        reverse = ReverseCalls(tenant_id=port.tenant_id, user=user, tools=port)
        try:
            process = await registry.pool.aprocess(registry.launch_spec(ready))
            async for item in process.request(data, timeout=settings.PLUGIN_CALL_TIMEOUT, backwards=reverse):
                message = _message(item)
                if message is not None:
                    yield message
        except PluginRuntimeError as error:
            raise ToolInvokeError(
                f"plugin {ready.declaration.plugin_id}: {error.error_type}: {error.message}"
            ) from error
