"""The catalogue's entities, in Dify's shapes: providers, credential forms, models, parameter rules.

`to_dict()` on each gives the JSON Dify's console API returns for it, so the Django side can serve them
as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from providers.runtime.pricing import PriceConfig

MODEL_TYPES = ("llm", "text-embedding", "rerank", "speech2text", "tts", "moderation")
CONFIGURATE_METHODS = ("predefined-model", "customizable-model", "fetch-from-remote")
FORM_TYPES = ("text-input", "secret-input", "select", "radio", "switch")
PARAMETER_TYPES = ("float", "int", "string", "boolean", "text")
MODEL_FEATURES = (
    "tool-call",
    "multi-tool-call",
    "stream-tool-call",
    "agent-thought",
    "vision",
    "document",
    "video",
    "audio",
    "structured-output",
)

# Dify's older names for model types, still found in plugin manifests and some DSL files.
_MODEL_TYPE_ALIASES = {"text-generation": "llm", "embeddings": "text-embedding", "reranking": "rerank"}


def normalize_model_type(value: str) -> str:
    model_type = _MODEL_TYPE_ALIASES.get(value, value)
    if model_type not in MODEL_TYPES:
        raise ValueError(f"invalid model type {value!r}; expected one of {', '.join(MODEL_TYPES)}")
    return model_type


I18n = Mapping[str, str]


def i18n(value: Any) -> dict[str, str]:
    """Dify labels are `{en_US, zh_Hans, ...}`; a bare string becomes the English label."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"en_US": value}
    return {str(k): str(v) for k, v in dict(value).items()}


@dataclass(slots=True, frozen=True)
class FormShowOn:
    variable: str
    value: str


@dataclass(slots=True, frozen=True)
class FormOption:
    value: str
    label: I18n
    show_on: tuple[FormShowOn, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "label": dict(self.label),
            "show_on": [{"variable": s.variable, "value": s.value} for s in self.show_on],
        }


@dataclass(slots=True, frozen=True)
class CredentialFormSchema:
    variable: str
    label: I18n
    type: str
    required: bool = False
    default: str | None = None
    options: tuple[FormOption, ...] = ()
    placeholder: I18n | None = None
    help: I18n | None = None
    max_length: int = 0
    show_on: tuple[FormShowOn, ...] = ()

    @property
    def secret(self) -> bool:
        return self.type == "secret-input"

    def to_dict(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "label": dict(self.label),
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "options": [option.to_dict() for option in self.options] or None,
            "placeholder": dict(self.placeholder) if self.placeholder else None,
            "help": dict(self.help) if self.help else None,
            "max_length": self.max_length,
            "show_on": [{"variable": s.variable, "value": s.value} for s in self.show_on],
        }


@dataclass(slots=True, frozen=True)
class ModelCredentialSchema:
    """The form for a customizable model: the model-name field, then the credential fields."""

    model_label: I18n
    model_placeholder: I18n
    credential_form_schemas: tuple[CredentialFormSchema, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": {"label": dict(self.model_label), "placeholder": dict(self.model_placeholder)},
            "credential_form_schemas": [form.to_dict() for form in self.credential_form_schemas],
        }


@dataclass(slots=True, frozen=True)
class ParameterRule:
    """One model parameter: its API name, the Dify template it follows, type, range, default, options."""

    name: str
    type: str
    label: I18n
    use_template: str | None = None
    help: I18n | None = None
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    precision: int | None = None
    options: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "use_template": self.use_template,
            "label": dict(self.label),
            "type": self.type,
            "help": dict(self.help) if self.help else None,
            "required": self.required,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "precision": self.precision,
            "options": list(self.options),
        }


@dataclass(slots=True, frozen=True)
class ModelSchema:
    """Dify's AIModelEntity: one model of one type, its features, properties, parameter rules and price."""

    model: str
    label: I18n
    model_type: str
    fetch_from: str = "predefined-model"
    features: tuple[str, ...] = ()
    model_properties: Mapping[str, Any] = field(default_factory=dict)
    parameter_rules: tuple[ParameterRule, ...] = ()
    pricing: PriceConfig | None = None
    deprecated: bool = False

    @property
    def mode(self) -> str:
        return str(self.model_properties.get("mode", "chat"))

    @property
    def context_size(self) -> int | None:
        value = self.model_properties.get("context_size")
        return int(value) if value not in (None, "") else None

    def has_feature(self, feature: str) -> bool:
        return feature in self.features

    def rule(self, name: str) -> ParameterRule | None:
        return next((rule for rule in self.parameter_rules if rule.name == name), None)

    def with_pricing(self, pricing: PriceConfig | None) -> ModelSchema:
        return replace(self, pricing=pricing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "label": dict(self.label),
            "model_type": self.model_type,
            "features": list(self.features) or None,
            "fetch_from": self.fetch_from,
            "model_properties": dict(self.model_properties),
            "deprecated": self.deprecated,
            "parameter_rules": [rule.to_dict() for rule in self.parameter_rules],
            "pricing": self.pricing.to_dict() if self.pricing else None,
        }


@dataclass(slots=True, frozen=True)
class ProviderSchema:
    """Dify's ProviderEntity, plus `adapter` (which protocol implementation serves it)."""

    provider: str
    label: I18n
    adapter: str
    supported_model_types: tuple[str, ...]
    configurate_methods: tuple[str, ...]
    description: I18n | None = None
    icon_small: I18n | None = None
    icon_large: I18n | None = None
    background: str | None = None
    help: Mapping[str, I18n] | None = None
    provider_credential_schema: tuple[CredentialFormSchema, ...] = ()
    model_credential_schema: ModelCredentialSchema | None = None
    models: tuple[ModelSchema, ...] = ()
    # Parameter rules for customizable models of each type (the user names the model).
    custom_parameter_rules: Mapping[str, tuple[ParameterRule, ...]] = field(default_factory=dict)
    # Fixed settings the adapter needs (e.g. a default base URL); not shown to users.
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def plugin_id(self) -> str:
        """Dify's plugin-style id, as found in DSL files exported by Dify 1.x."""
        return f"langgenius/{self.provider}/{self.provider}"

    def predefined_model(self, model: str, model_type: str) -> ModelSchema | None:
        return next((m for m in self.models if m.model == model and m.model_type == model_type), None)

    def models_of_type(self, model_type: str) -> list[ModelSchema]:
        return [m for m in self.models if m.model_type == model_type]

    def secret_variables(self) -> set[str]:
        """Names of credential fields to encrypt at rest and mask in responses."""
        forms: Sequence[CredentialFormSchema] = self.provider_credential_schema
        if self.model_credential_schema:
            forms = [*forms, *self.model_credential_schema.credential_form_schemas]
        return {form.variable for form in forms if form.secret}

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "label": dict(self.label),
            "description": dict(self.description) if self.description else None,
            "icon_small": dict(self.icon_small) if self.icon_small else None,
            "icon_large": dict(self.icon_large) if self.icon_large else None,
            "background": self.background,
            "help": {k: dict(v) for k, v in self.help.items()} if self.help else None,
            "supported_model_types": list(self.supported_model_types),
            "configurate_methods": list(self.configurate_methods),
            "provider_credential_schema": (
                {"credential_form_schemas": [form.to_dict() for form in self.provider_credential_schema]}
                if self.provider_credential_schema
                else None
            ),
            "model_credential_schema": (
                self.model_credential_schema.to_dict() if self.model_credential_schema else None
            ),
            "models": [m.to_dict() for m in self.models],
        }
