"""The workflow engine's `ToolPort` for one workspace: builtin tools in process, custom API tools over
HTTP. The runner builds one per run::

    tools=TenantToolPort(tenant_id=tenant_id, user=user, files=files_port)

Parameters: the node's `tool_parameters` and `tool_configurations` are merged as Dify merges them (a
`form` parameter takes its configured value, an `llm` one the node's), then cast to the declared types
(Dify's `cast_value`: "3" -> 3 for a number, "false" -> False for a boolean, ...).

Messages: builtin and API tools yield the engine's `ToolMessage`s (text, json, file/image), which the
tool node turns into its `text`, `json` and `files` outputs exactly as Dify's node does. Tools of
installed Dify plugins (`author/plugin/provider`) go to the backend the plugins app registers. Failures raise
exceptions named as Dify's (`ToolProviderNotFoundError`, `ToolInvokeError`, ...), whose class name the
node reports as `error_type`. MCP tools are called on the workspace's MCP server (`mcp_tools`). Provider
types not available here (plugin, workflow, ...) fail with a message naming the type.

Database reads (the API provider row) run off the event loop and are cached for the port's lifetime, so
a loop over a tool does one query; no connection is held while a tool waits on the network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from asgiref.sync import sync_to_async

from providers.tools import api_tool, mcp_tools
from providers.tools.builtin import builtin_provider
from providers.tools.builtin.base import ToolContext
from providers.tools.builtin_credentials import builtin_credentials_for_call
from providers.tools.entities import ToolParameter
from providers.tools.exceptions import (
    ToolNotFoundError,
    ToolProviderCredentialValidationError,
    ToolProviderNotFoundError,
    ToolProviderNotInstalledError,
)
from providers.tools.mcp_client import McpServer
from providers.tools.openapi import ApiToolBundle
from providers.tools.selectors import api_tool_provider_find, bundles_of, mcp_provider_find, mcp_server_of
from workflows.engine.ports import FilePort, ToolMessage, ToolRequest, ToolSpec

NOT_INSTALLED = {
    "plugin": "plugin",
    "app": "app",
    "dataset-retrieval": "dataset-retrieval",
}


class WorkflowToolBackend(Protocol):
    """Workflow-as-tool lives with the apps (it runs a published workflow app); the apps layer registers
    its implementation at start-up (`register_workflow_tools`), so this module never imports it."""

    async def tool_spec(self, *, tenant_id: str, provider_id: str, tool_name: str) -> ToolSpec: ...

    def invoke(self, port: TenantToolPort, request: ToolRequest) -> AsyncIterator[ToolMessage]: ...


_workflow_tools: WorkflowToolBackend | None = None


def register_workflow_tools(backend: WorkflowToolBackend) -> None:
    global _workflow_tools
    _workflow_tools = backend


class PluginToolsBackend(Protocol):
    """Tools of installed Dify plugins (`author/plugin/provider` ids); the plugins app registers its
    implementation at start-up (`register_plugin_tools`), so this module never imports it."""

    def handles(self, provider_id: str) -> bool: ...

    async def tool_spec(
        self, *, tenant_id: str, provider_id: str, tool_name: str, provider_type: str = "builtin"
    ) -> ToolSpec: ...

    def invoke(self, port: TenantToolPort, request: ToolRequest) -> AsyncIterator[ToolMessage]: ...


_plugin_tools: PluginToolsBackend | None = None


def register_plugin_tools(backend: PluginToolsBackend) -> None:
    global _plugin_tools
    _plugin_tools = backend


def _plugin_backend(provider_id: str) -> PluginToolsBackend | None:
    """The plugin backend when `provider_id` is a plugin's and no builtin provider answers to it."""
    if (
        _plugin_tools is not None
        and builtin_provider(provider_id) is None
        and _plugin_tools.handles(provider_id)
    ):
        return _plugin_tools
    return None


def _workflow_backend(provider_id: str) -> WorkflowToolBackend:
    if _workflow_tools is None:
        raise ToolProviderNotInstalledError(
            f"Tool provider type workflow is not installed here: workflow-as-tool tools ({provider_id}) "
            "are not supported yet."
        )
    return _workflow_tools


def merge_parameters(
    schema: tuple[ToolParameter, ...] | list[ToolParameter],
    parameters: Mapping[str, Any],
    configurations: Mapping[str, Any],
) -> dict[str, Any]:
    """The values a tool receives: form parameters from the configuration (else the node's parameters),
    llm parameters from the node (else the configuration), extras passed through; each value cast."""
    merged: dict[str, Any] = {}
    declared = {parameter.name for parameter in schema}
    for parameter in schema:
        first, second = (
            (configurations, parameters) if parameter.form == "form" else (parameters, configurations)
        )
        if parameter.name in first and first[parameter.name] is not None:
            merged[parameter.name] = parameter.cast(first[parameter.name])
        elif parameter.name in second and second[parameter.name] is not None:
            merged[parameter.name] = parameter.cast(second[parameter.name])
    for source in (configurations, parameters):
        for name, value in source.items():
            if name not in declared:
                merged[name] = value
    return merged


_JSON_TYPES = {"number": "number", "boolean": "boolean", "array": "array", "object": "object"}


def function_parameters(schema: tuple[ToolParameter, ...] | list[ToolParameter]) -> dict[str, Any]:
    """The JSON Schema a model fills for a tool (Dify's `PromptMessageTool`): the `llm` parameters only,
    selects as enums, file parameters left out (a model cannot produce a file)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in schema:
        if parameter.form != "llm" or parameter.type in ("file", "files"):
            continue
        prop: dict[str, Any] = {
            "type": _JSON_TYPES.get(parameter.type, "string"),
            "description": parameter.llm_description or "",
        }
        if parameter.type == "select" and parameter.options:
            prop["enum"] = [option.value for option in parameter.options]
        properties[parameter.name] = prop
        if parameter.required:
            required.append(parameter.name)
    return {"type": "object", "properties": properties, "required": required}


class TenantToolPort:
    """`ToolPort` for one workspace. `files` (the run's `FilePort`) stores files tools produce and reads
    files passed to them; without it, a tool that answers a file fails with a clear message."""

    def __init__(self, *, tenant_id: str, user: str | None = None, files: FilePort | None = None) -> None:
        self.tenant_id = str(tenant_id)
        self.user = user
        self.files = files
        self._api_providers: dict[str, tuple[str, dict[str, Any], list[ApiToolBundle]] | None] = {}
        self._mcp_providers: dict[str, tuple[McpServer, list[dict[str, Any]]] | None] = {}
        self._builtin_keys: dict[str, dict[str, Any] | None] = {}

    async def tool_spec(self, *, provider_type: str, provider_id: str, tool_name: str) -> ToolSpec:
        """The function an agent's model may call for this tool: name, LLM description, JSON Schema."""
        if provider_type in ("builtin", "plugin"):
            plugins = _plugin_backend(provider_id)
            if plugins is not None:
                return await plugins.tool_spec(
                    tenant_id=self.tenant_id,
                    provider_id=provider_id,
                    tool_name=tool_name,
                    provider_type=provider_type,
                )
            provider = builtin_provider(provider_id)
            tool = provider.tool(tool_name) if provider else None
            if tool is None:
                raise ToolNotFoundError(f"builtin tool {tool_name} not found")
            description = tool.spec.llm_description or tool.spec.description.en_US
            return ToolSpec(
                name=tool.spec.name,
                description=description,
                parameters=function_parameters(tool.spec.parameters),
            )
        if provider_type == "api":
            found = await self._api_provider(provider_id)
            bundle = next((b for b in found[2] if b.operation_id == tool_name), None) if found else None
            if bundle is None:
                raise ToolNotFoundError(f"api tool {tool_name} not found")
            return ToolSpec(
                name=bundle.operation_id,
                description=bundle.summary or "",
                parameters=function_parameters(bundle.parameters),
            )
        if provider_type == "workflow":
            return await _workflow_backend(provider_id).tool_spec(
                tenant_id=self.tenant_id, provider_id=provider_id, tool_name=tool_name
            )
        if provider_type == "mcp":
            tool = await self._mcp_tool(provider_id, tool_name)
            return ToolSpec(
                name=str(tool["name"]),
                description=str(tool.get("description") or ""),
                parameters=mcp_tools.function_schema(tool),
            )
        raise ToolProviderNotInstalledError(f"Tool provider type {provider_type} is not installed here.")

    async def invoke(self, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        provider_type = (request.provider_type or "builtin").strip()
        if provider_type in ("builtin", "plugin"):
            messages = self._builtin(request)
        elif provider_type == "api":
            messages = self._api(request)
        elif provider_type == "mcp":
            messages = self._mcp(request)
        elif provider_type == "workflow":
            messages = _workflow_backend(request.provider_id).invoke(self, request)
        elif provider_type in NOT_INSTALLED:
            raise ToolProviderNotInstalledError(
                f"Tool provider type {provider_type} is not installed here: "
                f"{NOT_INSTALLED[provider_type]} tools ({request.provider_id}) are not supported yet."
            )
        else:
            raise ToolProviderNotFoundError(f"Unknown tool provider type {provider_type}")
        async for message in messages:
            yield message

    async def _builtin(self, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        plugins = _plugin_backend(request.provider_id)
        if plugins is not None:
            async for message in plugins.invoke(self, request):
                yield message
            return
        provider = builtin_provider(request.provider_id)
        if provider is None:
            if request.provider_type == "plugin":
                raise ToolProviderNotInstalledError(
                    f"Tool provider type plugin is not installed here: plugin {request.provider_id} is not available."
                )
            raise ToolProviderNotFoundError(f"builtin provider {request.provider_id} not found")
        tool = provider.tool(request.tool_name)
        if tool is None:
            raise ToolNotFoundError(f"builtin tool {request.tool_name} not found")
        parameters = merge_parameters(tool.spec.parameters, request.parameters, request.configurations)
        credentials: dict[str, Any] = {}
        if provider.needs_credentials:
            credentials = await self._builtin_credentials(provider.name)
        ctx = ToolContext(
            tenant_id=self.tenant_id,
            user=request.user or self.user,
            files=self.files,
            credentials=credentials,
        )
        async for message in tool.invoke(parameters, ctx):
            yield message

    async def _builtin_credentials(self, provider: str) -> dict[str, Any]:
        """The workspace's default credential for a provider that needs one (read once per port)."""
        if provider not in self._builtin_keys:

            def load() -> dict[str, Any] | None:
                return builtin_credentials_for_call(tenant=self.tenant_id, provider=provider)

            self._builtin_keys[provider] = await sync_to_async(load)()
        found = self._builtin_keys[provider]
        if found is None:
            raise ToolProviderCredentialValidationError(
                f"The tool provider {provider} needs credentials: add them under Tools > {provider} first."
            )
        return found

    async def _api_provider(self, provider_id: str) -> tuple[str, dict[str, Any], list[ApiToolBundle]] | None:
        if provider_id not in self._api_providers:

            def load() -> tuple[str, dict[str, Any], list[ApiToolBundle]] | None:
                row = api_tool_provider_find(tenant=self.tenant_id, provider_id=provider_id)
                return (row.name, row.credentials, bundles_of(row)) if row is not None else None

            self._api_providers[provider_id] = await sync_to_async(load)()
        return self._api_providers[provider_id]

    async def _api(self, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        found = await self._api_provider(request.provider_id)
        if found is None:
            raise ToolProviderNotFoundError(f"api provider {request.provider_id} not found")
        _name, credentials, bundles = found
        bundle = next((b for b in bundles if b.operation_id == request.tool_name), None)
        if bundle is None:
            raise ToolNotFoundError(f"api tool {request.tool_name} not found")
        parameters = merge_parameters(bundle.parameters, request.parameters, request.configurations)
        async for message in api_tool.invoke(
            bundle, credentials=credentials, parameters=parameters, files=self.files
        ):
            yield message

    async def _mcp_provider(self, provider_id: str) -> tuple[McpServer, list[dict[str, Any]]] | None:
        if provider_id not in self._mcp_providers:

            def load() -> tuple[McpServer, list[dict[str, Any]]] | None:
                row = mcp_provider_find(tenant=self.tenant_id, provider_id=provider_id)
                return (mcp_server_of(row), list(row.tools or [])) if row is not None else None

            self._mcp_providers[provider_id] = await sync_to_async(load)()
        return self._mcp_providers[provider_id]

    async def _mcp_tool(self, provider_id: str, tool_name: str) -> dict[str, Any]:
        found = await self._mcp_provider(provider_id)
        if found is None:
            raise ToolProviderNotFoundError(f"MCP provider {provider_id} not found")
        tool = next((t for t in found[1] if isinstance(t, dict) and t.get("name") == tool_name), None)
        if tool is None:
            raise ToolNotFoundError(f"MCP tool {tool_name} not found in provider {provider_id}")
        return tool

    async def _mcp(self, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        tool = await self._mcp_tool(request.provider_id, request.tool_name)
        server = self._mcp_providers[request.provider_id][0]  # type: ignore[index] - loaded just above
        values = {**dict(request.configurations), **dict(request.parameters)}
        async for message in mcp_tools.invoke(server, tool, values, files=self.files):
            yield message
