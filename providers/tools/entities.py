"""Tool and tool-provider descriptions in Dify's shapes (``ToolParameter``, ``ToolApiEntity``,
``ToolProviderApiEntity``), plus Dify's casting of parameter values to their declared types.

Plain dataclasses, no Django: the builtin registry, the OpenAPI parser and the console all share them.
``to_dict()`` gives exactly the keys Dify's console API returns, so the web UI renders our tools as its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from providers.tools.exceptions import ToolParameterValidationError

# ToolParameter.type values Dify knows; `file`/`files` parameters take engine File objects.
PARAMETER_TYPES = frozenset(
    {
        "string",
        "number",
        "boolean",
        "select",
        "secret-input",
        "file",
        "files",
        "array",
        "object",
        "checkbox",
        "model-selector",
        "app-selector",
        "dynamic-select",
    }
)
PARAMETER_FORMS = frozenset({"llm", "form", "schema"})


@dataclass(frozen=True, slots=True)
class I18n:
    """Dify's I18nObject: missing languages fall back to English, as Dify fills them."""

    en_US: str  # noqa: N815 - Dify's field names
    zh_Hans: str | None = None  # noqa: N815 - Dify's field names
    pt_BR: str | None = None  # noqa: N815 - Dify's field names
    ja_JP: str | None = None  # noqa: N815 - Dify's field names

    def to_dict(self) -> dict[str, str]:
        return {
            "en_US": self.en_US,
            "zh_Hans": self.zh_Hans or self.en_US,
            "pt_BR": self.pt_BR or self.en_US,
            "ja_JP": self.ja_JP or self.en_US,
        }

    @classmethod
    def plain(cls, text: str) -> I18n:
        return cls(en_US=text, zh_Hans=text)

    @classmethod
    def from_value(cls, value: Any) -> I18n:
        if isinstance(value, I18n):
            return value
        if isinstance(value, Mapping):
            return cls(
                en_US=str(value.get("en_US") or ""),
                zh_Hans=value.get("zh_Hans"),
                pt_BR=value.get("pt_BR"),
                ja_JP=value.get("ja_JP"),
            )
        return cls.plain("" if value is None else str(value))


@dataclass(frozen=True, slots=True)
class ParameterOption:
    value: str
    label: I18n

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label.to_dict(), "icon": None}


@dataclass(frozen=True, slots=True)
class ToolParameter:
    """One input of a tool. ``form``: ``llm`` (a model or the workflow fills it) or ``form`` (configured)."""

    name: str
    label: I18n
    type: str = "string"
    form: str = "llm"
    required: bool = False
    default: Any = None
    human_description: I18n | None = None
    llm_description: str | None = None
    options: tuple[ParameterOption, ...] = ()
    min: float | None = None
    max: float | None = None
    placeholder: I18n | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label.to_dict(),
            "placeholder": self.placeholder.to_dict() if self.placeholder else None,
            "scope": None,
            "auto_generate": None,
            "template": None,
            "required": self.required,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "precision": None,
            "options": [option.to_dict() for option in self.options],
            # Dify's console shows file parameters as `files` (its "temp fix" in ToolProviderApiEntity).
            "type": "files" if self.type == "file" else self.type,
            "human_description": self.human_description.to_dict() if self.human_description else None,
            "form": self.form,
            "llm_description": self.llm_description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolParameter:
        """Read back a stored parameter (the parsed bundles of an API tool provider)."""
        human = data.get("human_description")
        placeholder = data.get("placeholder")
        return cls(
            name=str(data["name"]),
            label=I18n.from_value(data.get("label") or data["name"]),
            type=str(data.get("type") or "string"),
            form=str(data.get("form") or "llm"),
            required=bool(data.get("required", False)),
            default=data.get("default"),
            human_description=I18n.from_value(human) if human is not None else None,
            llm_description=data.get("llm_description"),
            options=tuple(
                ParameterOption(value=str(option.get("value")), label=I18n.from_value(option.get("label")))
                for option in data.get("options") or []
                if isinstance(option, Mapping)
            ),
            min=data.get("min"),
            max=data.get("max"),
            placeholder=I18n.from_value(placeholder) if placeholder is not None else None,
        )

    def cast(self, value: Any) -> Any:
        """Dify's ``ToolParameterType.cast_value``: what a tool receives for a value of any shape."""
        try:
            return _cast(self.type, value)
        except ToolParameterValidationError:
            raise
        except (TypeError, ValueError):
            raise ToolParameterValidationError(
                f"The tool parameter value {value} is not in correct type of {_normal_type(self.type)}."
            ) from None


def _normal_type(kind: str) -> str:
    return {"secret-input": "string", "select": "string", "file": "file", "files": "files"}.get(kind, kind)


def _text(value: Any) -> str:
    # Dify uses str(); an object or list as JSON is what every JSON-reading tool expects instead of a repr.
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else str(value)


def _cast(kind: str, value: Any) -> Any:
    if kind in ("string", "secret-input", "select", "dynamic-select"):
        return "" if value is None else _text(value)
    if kind in ("boolean", "checkbox"):
        if value is None:
            return False
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "y", "1"):
                return True
            if lowered in ("false", "no", "n", "0", ""):
                return False
        return bool(value)
    if kind == "number":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int | float):
            return value
        if isinstance(value, str) and value.strip():
            text = value.strip()
            return float(text) if any(c in text for c in ".eE") else int(text)
        return None
    if kind == "files":
        if value is None:
            return []
        return list(value) if isinstance(value, list | tuple) else [value]
    if kind == "file":
        if isinstance(value, list | tuple):
            if len(value) != 1:
                raise ToolParameterValidationError(
                    "This parameter only accepts one file but got multiple files while invoking."
                )
            return value[0]
        return value
    if kind in ("array", "object"):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    return value


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool's identity, descriptions and parameters (Dify's ToolEntity)."""

    name: str
    author: str
    label: I18n
    description: I18n  # the human description
    llm_description: str = ""
    parameters: tuple[ToolParameter, ...] = ()
    output_schema: Mapping[str, Any] = field(default_factory=dict)

    def parameter(self, name: str) -> ToolParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def to_dict(self, labels: Sequence[str] = ()) -> dict[str, Any]:
        """Dify's ToolApiEntity (the tools of a provider in the console)."""
        return {
            "author": self.author,
            "name": self.name,
            "label": self.label.to_dict(),
            "description": self.description.to_dict(),
            "parameters": [parameter.to_dict() for parameter in self.parameters],
            "labels": list(labels),
            "output_schema": dict(self.output_schema),
        }


def provider_dict(
    *,
    id: str,
    author: str,
    name: str,
    label: I18n,
    description: I18n,
    icon: str | Mapping[str, Any],
    type: str,
    team_credentials: Mapping[str, Any] | None = None,
    is_team_authorization: bool = False,
    allow_delete: bool = True,
    tools: Sequence[Mapping[str, Any]] = (),
    labels: Sequence[str] = (),
    plugin_id: str = "",
) -> dict[str, Any]:
    """Dify's ToolProviderApiEntity.to_dict()."""
    return {
        "id": id,
        "author": author,
        "name": name,
        "plugin_id": plugin_id,
        "plugin_unique_identifier": "",
        "description": description.to_dict(),
        "icon": icon,
        "icon_dark": "",
        "label": label.to_dict(),
        "type": type,
        "team_credentials": dict(team_credentials or {}),
        "is_team_authorization": is_team_authorization,
        "allow_delete": allow_delete,
        "tools": list(tools),
        "labels": list(labels),
    }
