"""The schema of a customizable model, derived from what the user entered in its credential form.

Dify does this per provider (`get_customizable_model_schema`); the credential variables it reads are the
same ones: `context_size`, `max_tokens_to_sample`/`max_tokens`, `mode`, `vision_support`,
`function_calling_type`, `stream_function_calling`, `structured_output_support`, prices, for TTS models
`voices` (comma-separated), `word_limit` and `audio_type`, and for Azure `base_model_name`, which borrows
the schema of the OpenAI model the deployment runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import InvalidOperation
from typing import Any

from providers.runtime.audio import DEFAULT_WORD_LIMIT, parse_voice_list
from providers.runtime.errors import UnknownModelError
from providers.runtime.pricing import PriceConfig
from providers.runtime.schema import ModelSchema, ParameterRule, ProviderSchema

_TRUE = {"true", "support", "supported", "yes", "1", "tool_call", "function_call"}


def _int(value: Any, default: int | None) -> int | None:
    try:
        return int(str(value).strip()) if value not in (None, "") else default
    except ValueError:
        return default


def _flag(credentials: Mapping[str, Any], key: str) -> bool:
    return str(credentials.get(key, "")).strip().lower() in _TRUE


def pricing_from_credentials(credentials: Mapping[str, Any]) -> PriceConfig | None:
    """Prices typed into a custom model's form; none (a free model) when the input price is empty."""
    if credentials.get("input_price") in (None, ""):
        return None
    try:
        return PriceConfig.from_dict(
            {
                "input": credentials["input_price"],
                "output": credentials.get("output_price") or credentials["input_price"],
                "unit": credentials.get("unit") or "0.000001",
                "currency": credentials.get("currency") or "USD",
            }
        )
    except (ValueError, InvalidOperation):
        return None


def _cap_max_tokens(rules: tuple[ParameterRule, ...], upper: int | None) -> tuple[ParameterRule, ...]:
    if not upper:
        return rules
    capped = []
    for rule in rules:
        if rule.use_template == "max_tokens":
            default = rule.default if rule.default is None or rule.default <= upper else upper
            rule = replace(rule, max=upper, default=default)
        capped.append(rule)
    return tuple(capped)


def customizable_model_schema(
    provider: ProviderSchema,
    *,
    model: str,
    model_type: str,
    credentials: Mapping[str, Any],
    base_models: Mapping[str, ProviderSchema] | None = None,
) -> ModelSchema:
    if (
        "customizable-model" not in provider.configurate_methods
        or model_type not in provider.supported_model_types
    ):
        raise UnknownModelError(provider.provider, model, model_type)

    base_name = credentials.get("base_model_name")
    if base_name and base_models and "openai" in base_models:
        base = base_models["openai"].predefined_model(str(base_name), model_type)
        if base is not None:
            # An Azure deployment is the OpenAI model it runs, under the deployment's name.
            return replace(base, model=model, label={"en_US": model}, fetch_from="customizable-model")

    features: list[str] = []
    properties: dict[str, Any] = {}
    context_size = _int(credentials.get("context_size"), None)
    if context_size:
        properties["context_size"] = context_size
    if model_type == "llm":
        properties["mode"] = str(credentials.get("mode") or "chat")
        if _flag(credentials, "function_calling_type") or _flag(credentials, "function_call_support"):
            features += ["tool-call", "multi-tool-call", "agent-thought"]
            if str(credentials.get("stream_function_calling", "supported")) == "supported":
                features.append("stream-tool-call")
        if _flag(credentials, "vision_support"):
            features.append("vision")
        if _flag(credentials, "structured_output_support"):
            features.append("structured-output")
    elif model_type == "text-embedding":
        properties["max_chunks"] = _int(credentials.get("max_chunks"), 32)
    elif model_type == "tts":
        # Dify's OpenAI-compatible TTS: voices typed in the form, the first one the default.
        voices = parse_voice_list(credentials.get("voices"))
        properties.update(
            default_voice=voices[0]["mode"],
            voices=voices,
            word_limit=_int(credentials.get("word_limit"), DEFAULT_WORD_LIMIT),
            audio_type=str(credentials.get("audio_type") or "mp3"),
        )

    rules = provider.custom_parameter_rules.get(model_type, ())
    upper = _int(credentials.get("max_tokens_to_sample") or credentials.get("max_tokens"), None)
    return ModelSchema(
        model=model,
        label={"en_US": model},
        model_type=model_type,
        fetch_from="customizable-model",
        features=tuple(features),
        model_properties=properties,
        parameter_rules=_cap_max_tokens(rules, upper),
        pricing=pricing_from_credentials(credentials),
    )
