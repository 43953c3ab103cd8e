"""The shape of a builtin tool: a `ToolSpec` (Dify's YAML, as data) and an async `invoke` yielding the
engine's `ToolMessage`s, the same messages the tool node turns into its `text`, `json` and `files`."""

from __future__ import annotations

import importlib.resources
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from providers.tools.entities import I18n, ToolSpec
from workflows.engine.ports import FilePort, ToolMessage


@dataclass(slots=True)
class ToolContext:
    """What a tool may use besides its parameters: the workspace (for its models) and file storage."""

    tenant_id: str | None = None
    user: str | None = None
    files: FilePort | None = None
    credentials: Mapping[str, Any] = field(default_factory=dict)  # the provider's, decrypted


class BuiltinTool:
    """One tool. Subclasses set `spec` and implement `invoke` as an async generator."""

    spec: ClassVar[ToolSpec]

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        raise NotImplementedError


def text_message(text: str) -> ToolMessage:
    return ToolMessage(type="text", text=text)


def json_message(data: Any) -> ToolMessage:
    return ToolMessage(type="json", data=data)


@dataclass(frozen=True, slots=True)
class BuiltinProvider:
    """A provider of builtin tools (Dify's hard-coded providers and its official plugins, in-process)."""

    name: str
    author: str
    label: I18n
    description: I18n
    icon: str  # a file name under providers/tools/builtin/icons
    tools: tuple[BuiltinTool, ...]
    tags: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)  # older tool names -> current ones
    # Dify's `credentials_for_provider` form (ProviderConfig dicts); empty for providers needing none.
    credentials_schema: tuple[Mapping[str, Any], ...] = ()
    # A real call with the credentials; raises ToolProviderCredentialValidationError when they fail.
    validate_credentials: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None

    @property
    def needs_credentials(self) -> bool:
        return bool(self.credentials_schema)

    def secret_names(self) -> frozenset[str]:
        return frozenset(str(f["name"]) for f in self.credentials_schema if f.get("type") == "secret-input")

    @property
    def plugin_id(self) -> str:
        return f"langgenius/{self.name}"

    def tool(self, name: str) -> BuiltinTool | None:
        name = self.aliases.get(name, name)
        return next((tool for tool in self.tools if tool.spec.name == name), None)

    def icon_bytes(self) -> tuple[bytes, str]:
        data = importlib.resources.files("providers.tools.builtin").joinpath("icons", self.icon).read_bytes()
        return data, "image/svg+xml" if self.icon.endswith(".svg") else "image/png"
