"""The provider catalogue: ids, Dify shapes, predefined and customizable model schemas."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from providers.runtime import UnknownModelError, UnknownProviderError, default_catalogue, resolve_provider_id
from providers.runtime.adapters import ADAPTER_CLASSES
from providers.runtime.catalogue.loader import CatalogueFileError, load_directory
from providers.runtime.schema import MODEL_FEATURES, MODEL_TYPES


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("openai", "openai"),
        ("langgenius/openai/openai", "openai"),
        ("langgenius/openai_api_compatible/openai_api_compatible", "openai_api_compatible"),
        ("langgenius/anthropic", "anthropic"),
        (" langgenius/ollama/ollama ", "ollama"),
        ("langgenius/azure_openai/azure_openai", "azure_openai"),
        ("jina", "jina"),
    ],
)
def test_provider_ids_resolve_in_short_and_plugin_form(given: str, expected: str) -> None:
    assert resolve_provider_id(given) == expected


@pytest.mark.parametrize(
    "given", ["", "nonexistent", "langgenius/nonexistent/nonexistent", "someone/openai/gpt"]
)
def test_unknown_provider_ids_raise_naming_the_id(given: str) -> None:
    with pytest.raises(UnknownProviderError) as excinfo:
        resolve_provider_id(given)
    assert excinfo.value.provider_id == given
    assert excinfo.value.to_dict()["code"] == "provider_not_initialize"


def test_every_provider_is_served_by_a_known_adapter_and_declares_valid_entries() -> None:
    providers = default_catalogue().providers()
    assert {p.provider for p in providers} >= {
        "openai",
        "anthropic",
        "openai_api_compatible",
        "ollama",
        "azure_openai",
        "jina",
        "cohere",
        "local",
    }
    for provider in providers:
        assert provider.adapter in ADAPTER_CLASSES, provider.provider
        assert set(provider.supported_model_types) <= set(MODEL_TYPES)
        for model in provider.models:
            assert model.model_type in provider.supported_model_types, (provider.provider, model.model)
            assert set(model.features) <= set(MODEL_FEATURES)


def test_provider_schema_serializes_in_difys_shape() -> None:
    data = default_catalogue().provider("openai").to_dict()
    assert data["provider"] == "openai"
    assert data["configurate_methods"] == ["predefined-model", "customizable-model"]
    forms = data["provider_credential_schema"]["credential_form_schemas"]
    key_form = next(f for f in forms if f["variable"] == "openai_api_key")
    assert key_form["type"] == "secret-input"
    assert key_form["required"] is True
    gpt4o = next(m for m in data["models"] if m["model"] == "gpt-4o")
    assert gpt4o["model_properties"] == {"mode": "chat", "context_size": 128000}
    assert {"tool-call", "stream-tool-call", "vision"} <= set(gpt4o["features"])
    assert gpt4o["pricing"] == {"input": "2.50", "output": "10.00", "unit": "0.000001", "currency": "USD"}
    rule_names = [r["name"] for r in gpt4o["parameter_rules"]]
    assert rule_names[:5] == ["temperature", "top_p", "presence_penalty", "frequency_penalty", "max_tokens"]


def test_parameter_rules_take_difys_template_values_and_override_them() -> None:
    schema = default_catalogue().model_schema("openai", "llm", "gpt-4o")
    top_p = schema.rule("top_p")
    max_tokens = schema.rule("max_tokens")
    assert top_p is not None
    assert max_tokens is not None
    assert (top_p.use_template, top_p.min, top_p.max, top_p.precision) == ("top_p", 0.0, 1.0, 2)
    assert (max_tokens.min, max_tokens.max, max_tokens.default) == (1, 16384, 512)
    assert max_tokens.label["en_US"] == "Max Tokens"


def test_secret_variables_are_the_secret_inputs() -> None:
    assert default_catalogue().provider("azure_openai").secret_variables() == {"openai_api_key"}
    assert default_catalogue().provider("openai_api_compatible").secret_variables() == {"api_key"}


def test_customizable_model_schema_comes_from_its_credentials() -> None:
    credentials = {
        "endpoint_url": "http://localhost:8000/v1",
        "context_size": "32768",
        "max_tokens_to_sample": "2048",
        "function_calling_type": "tool_call",
        "vision_support": "support",
        "input_price": "0.5",
        "output_price": "1.5",
        "unit": "0.000001",
        "currency": "EUR",
    }
    schema = default_catalogue().model_schema("openai_api_compatible", "llm", "qwen2.5-7b", credentials)
    assert schema.fetch_from == "customizable-model"
    assert schema.context_size == 32768
    assert {"tool-call", "stream-tool-call", "vision"} <= set(schema.features)
    max_tokens = schema.rule("max_tokens")
    assert max_tokens is not None
    assert max_tokens.max == 2048
    assert schema.pricing is not None
    assert (schema.pricing.input, schema.pricing.output, schema.pricing.currency) == (
        Decimal("0.5"),
        Decimal("1.5"),
        "EUR",
    )


def test_customizable_model_without_prices_is_free_and_without_tools() -> None:
    schema = default_catalogue().model_schema(
        "ollama", "llm", "llama3", {"base_url": "http://x", "context_size": "4096"}
    )
    assert schema.pricing is None
    assert "tool-call" not in schema.features
    assert schema.rule("num_predict") is not None


def test_azure_deployment_borrows_its_base_models_schema() -> None:
    schema = default_catalogue().model_schema(
        "azure_openai", "llm", "prod-gpt", {"base_model_name": "gpt-4o"}
    )
    gpt4o = default_catalogue().model_schema("openai", "llm", "gpt-4o")
    assert schema.model == "prod-gpt"
    assert schema.features == gpt4o.features
    assert schema.pricing == gpt4o.pricing
    assert schema.fetch_from == "customizable-model"


def test_predefined_only_provider_refuses_unknown_models() -> None:
    with pytest.raises(UnknownModelError) as excinfo:
        default_catalogue().model_schema("cohere", "rerank", "not-a-model", {})
    assert excinfo.value.model == "not-a-model"
    with pytest.raises(UnknownModelError):
        default_catalogue().model_schema("anthropic", "text-embedding", "whatever", {})


def test_model_type_aliases_from_older_dify_files_are_accepted() -> None:
    schema = default_catalogue().model_schema("openai", "embeddings", "text-embedding-3-small")
    assert schema.model_type == "text-embedding"


def test_a_broken_catalogue_file_is_reported_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "provider: broken\nadapter: openai\nsupported_model_types: [llm]\nconfigurate_methods: [magic]\n"
    )
    with pytest.raises(CatalogueFileError, match=r"broken\.yaml: configurate_methods"):
        load_directory(tmp_path)


def test_an_unknown_template_is_reported(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "provider: p\nadapter: openai\nsupported_model_types: [llm]\nconfigurate_methods: [predefined-model]\n"
        "models:\n  - model: m\n    model_type: llm\n    parameter_rules:\n      - {name: x, use_template: nope}\n"
    )
    with pytest.raises(CatalogueFileError, match="unknown parameter template 'nope'"):
        load_directory(tmp_path)
