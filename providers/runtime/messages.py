"""Prompt messages, content parts, tool definitions and tool calls.

Shapes follow Dify's model-runtime entities (`role`, `content` as a string or a list of typed parts,
`tool_calls` with `id`/`type`/`function{name, arguments}`), so prompt messages stored or exchanged in
Dify's JSON form convert both ways with `to_dict()` / `prompt_message_from_dict()`. Plain dataclasses with
slots rather than pydantic: one is built per streamed token, and they must stay cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True, frozen=True)
class TextContent:
    data: str
    type: Literal["text"] = "text"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "text", "data": self.data}


@dataclass(slots=True, frozen=True)
class ImageContent:
    """An image for vision models: a URL, or inline base64 data with its MIME type."""

    url: str = ""
    base64_data: str = ""
    mime_type: str = "image/png"
    detail: Literal["low", "high"] = "low"
    type: Literal["image"] = "image"

    @property
    def data_url(self) -> str:
        """What OpenAI-style APIs take: the URL, or a `data:` URL built from the inline bytes."""
        return self.url or f"data:{self.mime_type};base64,{self.base64_data}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "image",
            "url": self.url,
            "base64_data": self.base64_data,
            "mime_type": self.mime_type,
            "detail": self.detail,
            "format": self.mime_type.rsplit("/", 1)[-1],
        }


ContentPart = TextContent | ImageContent


@dataclass(slots=True)
class ToolCall:
    """A complete call of a tool (function) by the model. `arguments` is the JSON text the model wrote."""

    id: str
    name: str
    arguments: str
    type: str = "function"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as an object; `{}` when the model wrote nothing. Raises ValueError on bad JSON."""
        if not self.arguments.strip():
            return {}
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError(f"tool call {self.name!r} arguments are not a JSON object")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(slots=True, frozen=True)
class Tool:
    """A tool the model may call: name, description and a JSON Schema of its parameters."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": dict(self.parameters)}


@dataclass(slots=True)
class PromptMessage:
    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None

    def text(self) -> str:
        """The text of the message, parts joined; images contribute nothing."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(part.data for part in self.content if isinstance(part, TextContent))

    def parts(self) -> list[ContentPart]:
        """The content as a list of parts (a plain string becomes one text part)."""
        if isinstance(self.content, str):
            return [TextContent(self.content)] if self.content else []
        return list(self.content or [])

    def images(self) -> list[ImageContent]:
        return [part for part in self.parts() if isinstance(part, ImageContent)]

    def to_dict(self) -> dict[str, Any]:
        content: Any = self.content
        if isinstance(content, list):
            content = [part.to_dict() for part in content]
        out: dict[str, Any] = {"role": self.role, "content": content}
        if self.name:
            out["name"] = self.name
        if self.role == "assistant":
            out["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id or ""
        return out


def SystemMessage(content: str) -> PromptMessage:  # noqa: N802 - reads like the Dify class it mirrors
    return PromptMessage(role="system", content=content)


def UserMessage(content: str | list[ContentPart], name: str | None = None) -> PromptMessage:  # noqa: N802
    return PromptMessage(role="user", content=content, name=name)


def AssistantMessage(  # noqa: N802
    content: str | None = None, tool_calls: Iterable[ToolCall] = ()
) -> PromptMessage:
    return PromptMessage(role="assistant", content=content, tool_calls=list(tool_calls))


def ToolMessage(content: str, tool_call_id: str, name: str | None = None) -> PromptMessage:  # noqa: N802
    return PromptMessage(role="tool", content=content, tool_call_id=tool_call_id, name=name)


def _part_from_dict(data: Mapping[str, Any]) -> ContentPart:
    kind = data.get("type")
    if kind == "text":
        return TextContent(str(data.get("data", data.get("text", ""))))
    if kind in ("image", "image_url"):
        if kind == "image_url":  # OpenAI's own shape, accepted for convenience
            image = data.get("image_url") or {}
            url = image.get("url", "") if isinstance(image, Mapping) else str(image)
            return _image_from_url(url, detail=(image.get("detail") if isinstance(image, Mapping) else None))
        mime = str(data.get("mime_type") or f"image/{data.get('format') or 'png'}")
        url = str(data.get("url") or "")
        if url.startswith("data:"):
            return _image_from_url(url, detail=data.get("detail"))
        return ImageContent(
            url=url,
            base64_data=str(data.get("base64_data") or ""),
            mime_type=mime,
            detail="high" if data.get("detail") == "high" else "low",
        )
    raise ValueError(f"unsupported prompt content type {kind!r}")


def _image_from_url(url: str, detail: Any = None) -> ImageContent:
    level: Literal["low", "high"] = "high" if detail == "high" else "low"
    if url.startswith("data:") and ";base64," in url:
        header, data = url.split(";base64,", 1)
        return ImageContent(base64_data=data, mime_type=header[5:] or "image/png", detail=level)
    return ImageContent(url=url, detail=level)


def _tool_call_from_dict(data: Mapping[str, Any]) -> ToolCall:
    function = data.get("function") or {}
    arguments = function.get("arguments", "")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return ToolCall(id=str(data.get("id", "")), name=str(function.get("name", "")), arguments=arguments)


def prompt_message_from_dict(data: Mapping[str, Any]) -> PromptMessage:
    """Build a message from Dify's JSON form (or OpenAI's, which differs only in image parts)."""
    role = data.get("role")
    if role not in ("system", "user", "assistant", "tool"):
        raise ValueError(f"invalid prompt message role {role!r}")
    content = data.get("content")
    if isinstance(content, list):
        content = [_part_from_dict(part) for part in content]
    elif content is not None and not isinstance(content, str):
        raise ValueError("prompt message content must be a string or a list of parts")
    return PromptMessage(
        role=role,
        content=content,
        name=data.get("name") or None,
        tool_calls=[_tool_call_from_dict(call) for call in data.get("tool_calls") or []],
        tool_call_id=data.get("tool_call_id"),
    )


def prompt_messages_from_dicts(items: Sequence[Mapping[str, Any]]) -> list[PromptMessage]:
    return [prompt_message_from_dict(item) for item in items]


def tool_from_dict(data: Mapping[str, Any]) -> Tool:
    """Accepts Dify's `{name, description, parameters}` and OpenAI's `{type: function, function: {...}}`."""
    if "function" in data and isinstance(data["function"], Mapping):
        data = data["function"]
    return Tool(
        name=str(data["name"]),
        description=str(data.get("description") or ""),
        parameters=dict(data.get("parameters") or {"type": "object", "properties": {}}),
    )
