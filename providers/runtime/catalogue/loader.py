"""Reads the provider YAML files beside this module into `ProviderSchema`s.

The YAML follows Dify's provider/model declarations (`provider`, `label`, `supported_model_types`,
`configurate_methods`, credential form schemas, models with `features`, `model_properties`,
`parameter_rules` using `use_template`, `pricing`). Keys starting with `x-` are YAML anchors for sharing
blocks and are ignored. A mistake in a file raises at load time naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from providers.runtime.pricing import PriceConfig
from providers.runtime.schema import (
    CONFIGURATE_METHODS,
    FORM_TYPES,
    MODEL_FEATURES,
    PARAMETER_TYPES,
    CredentialFormSchema,
    FormOption,
    FormShowOn,
    ModelCredentialSchema,
    ModelSchema,
    ParameterRule,
    ProviderSchema,
    i18n,
    normalize_model_type,
)
from providers.runtime.templates import PARAMETER_TEMPLATES

CATALOGUE_DIR = Path(__file__).resolve().parent


class CatalogueFileError(ValueError):
    pass


def parse_parameter_rule(data: Mapping[str, Any]) -> ParameterRule:
    """A rule with `use_template` starts from Dify's template; its own keys win."""
    template_name = data.get("use_template")
    merged: dict[str, Any] = {}
    if template_name:
        template = PARAMETER_TEMPLATES.get(template_name)
        if template is None:
            raise ValueError(f"unknown parameter template {template_name!r}")
        merged.update(template)
    merged.update({k: v for k, v in data.items() if v is not None})
    name = merged.get("name")
    rule_type = merged.get("type")
    if not name or rule_type not in PARAMETER_TYPES:
        raise ValueError(f"parameter rule {dict(data)!r} needs a name and a type in {PARAMETER_TYPES}")
    return ParameterRule(
        name=str(name),
        type=str(rule_type),
        label=i18n(merged.get("label") or name),
        use_template=template_name,
        help=i18n(merged["help"]) if merged.get("help") else None,
        required=bool(merged.get("required", False)),
        default=merged.get("default"),
        min=merged.get("min"),
        max=merged.get("max"),
        precision=merged.get("precision"),
        options=tuple(str(o) for o in merged.get("options") or ()),
    )


def _show_on(items: Sequence[Mapping[str, Any]] | None) -> tuple[FormShowOn, ...]:
    return tuple(FormShowOn(variable=str(i["variable"]), value=str(i["value"])) for i in items or ())


def _form(data: Mapping[str, Any]) -> CredentialFormSchema:
    form_type = data.get("type", "text-input")
    if form_type not in FORM_TYPES:
        raise ValueError(f"credential field {data.get('variable')!r} has unknown type {form_type!r}")
    return CredentialFormSchema(
        variable=str(data["variable"]),
        label=i18n(data.get("label") or data["variable"]),
        type=form_type,
        required=bool(data.get("required", False)),
        default=None if data.get("default") is None else str(data["default"]),
        options=tuple(
            FormOption(
                value=str(o["value"]),
                label=i18n(o.get("label") or o["value"]),
                show_on=_show_on(o.get("show_on")),
            )
            for o in data.get("options") or ()
        ),
        placeholder=i18n(data["placeholder"]) if data.get("placeholder") else None,
        help=i18n(data["help"]) if data.get("help") else None,
        max_length=int(data.get("max_length", 0)),
        show_on=_show_on(data.get("show_on")),
    )


def _model(data: Mapping[str, Any]) -> ModelSchema:
    features = tuple(data.get("features") or ())
    unknown = [f for f in features if f not in MODEL_FEATURES]
    if unknown:
        raise ValueError(f"model {data.get('model')!r} has unknown features {unknown}")
    return ModelSchema(
        model=str(data["model"]),
        label=i18n(data.get("label") or data["model"]),
        model_type=normalize_model_type(str(data["model_type"])),
        fetch_from="predefined-model",
        features=features,
        model_properties=dict(data.get("model_properties") or {}),
        parameter_rules=tuple(parse_parameter_rule(r) for r in data.get("parameter_rules") or ()),
        pricing=PriceConfig.from_dict(data["pricing"]) if data.get("pricing") else None,
        deprecated=bool(data.get("deprecated", False)),
    )


def parse_provider(data: Mapping[str, Any]) -> ProviderSchema:
    methods = tuple(data.get("configurate_methods") or ())
    if not methods or any(m not in CONFIGURATE_METHODS for m in methods):
        raise ValueError(f"configurate_methods must be a non-empty subset of {CONFIGURATE_METHODS}")
    model_forms = data.get("model_credential_schema")
    return ProviderSchema(
        provider=str(data["provider"]),
        label=i18n(data.get("label") or data["provider"]),
        adapter=str(data["adapter"]),
        supported_model_types=tuple(normalize_model_type(t) for t in data["supported_model_types"]),
        configurate_methods=methods,
        description=i18n(data["description"]) if data.get("description") else None,
        icon_small=i18n(data["icon_small"]) if data.get("icon_small") else None,
        icon_large=i18n(data["icon_large"]) if data.get("icon_large") else None,
        background=data.get("background"),
        help={k: i18n(v) for k, v in data["help"].items()} if data.get("help") else None,
        provider_credential_schema=tuple(
            _form(f)
            for f in (data.get("provider_credential_schema") or {}).get("credential_form_schemas") or ()
        ),
        model_credential_schema=(
            ModelCredentialSchema(
                model_label=i18n(model_forms["model"]["label"]),
                model_placeholder=i18n(model_forms["model"].get("placeholder") or {}),
                credential_form_schemas=tuple(
                    _form(f) for f in model_forms.get("credential_form_schemas") or ()
                ),
            )
            if model_forms
            else None
        ),
        models=tuple(_model(m) for m in data.get("models") or ()),
        custom_parameter_rules={
            normalize_model_type(t): tuple(parse_parameter_rule(r) for r in rules or ())
            for t, rules in (data.get("customizable") or {}).items()
        },
        defaults=dict(data.get("defaults") or {}),
    )


def load_provider_file(path: Path) -> ProviderSchema:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return parse_provider(data)
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise CatalogueFileError(f"{path.name}: {exc}") from exc


def load_directory(directory: Path = CATALOGUE_DIR) -> dict[str, ProviderSchema]:
    providers: dict[str, ProviderSchema] = {}
    for path in sorted(directory.glob("*.yaml")):
        schema = load_provider_file(path)
        if schema.provider in providers:
            raise CatalogueFileError(f"{path.name}: provider {schema.provider!r} is declared twice")
        providers[schema.provider] = schema
    return providers
