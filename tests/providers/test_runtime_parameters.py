"""Parameter rules: checked and coerced before any request leaves the process."""

from __future__ import annotations

import pytest

from providers.runtime import (
    ModelRuntime,
    ParameterError,
    UserMessage,
    default_catalogue,
    validate_parameters,
)
from providers.runtime.parameters import normalize_stop
from tests.providers.credentials import openai_compatible
from tests.support.fake_llm import FakeLLMServer

GPT4O = default_catalogue().model_schema("openai", "llm", "gpt-4o")
CLAUDE = default_catalogue().model_schema("anthropic", "llm", "claude-3-5-haiku-20241022")
OLLAMA = default_catalogue().model_schema(
    "ollama", "llm", "llama3", {"base_url": "http://x", "max_tokens": "1000"}
)


def test_valid_parameters_pass_and_unknown_ones_are_dropped() -> None:
    result = validate_parameters(GPT4O, {"temperature": 0.7, "max_tokens": 100, "not_a_rule": 1})
    assert result == {"temperature": 0.7, "max_tokens": 100}


def test_unambiguous_values_are_coerced() -> None:
    result = validate_parameters(
        GPT4O, {"temperature": "0.5", "max_tokens": 256.0, "top_p": 0.123, "response_format": "JSON_OBJECT"}
    )
    assert result == {"temperature": 0.5, "max_tokens": 256, "top_p": 0.12, "response_format": "json_object"}


def test_a_value_under_the_template_name_fills_the_rule() -> None:
    # Ollama's rule is `num_predict`, declared with Dify's `max_tokens` template.
    assert validate_parameters(OLLAMA, {"max_tokens": 300}) == {"num_predict": 300}


def test_required_rules_fall_back_to_their_default() -> None:
    assert validate_parameters(CLAUDE, {}) == {"max_tokens": 4096}


@pytest.mark.parametrize(
    ("parameters", "name", "fragment"),
    [
        ({"temperature": 3}, "temperature", "less than or equal to 2"),
        ({"temperature": -0.1}, "temperature", "greater than or equal to 0"),
        ({"max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
        ({"max_tokens": 2.5}, "max_tokens", "must be an integer"),
        ({"max_tokens": "many"}, "max_tokens", "must be a number"),
        ({"temperature": True}, "temperature", "must be a number"),
        ({"temperature": float("nan")}, "temperature", "finite"),
        ({"response_format": "yaml"}, "response_format", "must be one of text, json_object, json_schema"),
        ({"seed": [1]}, "seed", "must be a number"),
    ],
)
def test_invalid_values_raise_naming_the_parameter(parameters: dict, name: str, fragment: str) -> None:
    with pytest.raises(ParameterError) as excinfo:
        validate_parameters(GPT4O, parameters)
    assert excinfo.value.parameter == name
    assert name in str(excinfo.value)
    assert fragment in str(excinfo.value)
    assert excinfo.value.to_dict()["code"] == "invalid_param"


def test_max_tokens_cap_of_a_custom_model_is_enforced() -> None:
    with pytest.raises(ParameterError, match="less than or equal to 1000"):
        validate_parameters(OLLAMA, {"num_predict": 5000})


def test_json_schema_given_as_an_object_becomes_text() -> None:
    result = validate_parameters(GPT4O, {"json_schema": {"type": "object"}})
    assert result == {"json_schema": '{"type": "object"}'}


def test_stop_sequences_merge_and_dedupe() -> None:
    assert normalize_stop(["\n\n", "END"], "END") == ["\n\n", "END"]
    assert normalize_stop(None, None) == []
    with pytest.raises(ParameterError, match="stop"):
        normalize_stop([1])


async def test_an_invalid_parameter_fails_before_any_request(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a custom model capped at 100 output tokens
    credentials = openai_compatible(fake_llm, max_tokens_to_sample="100")
    # when a call asks for more
    with pytest.raises(ParameterError) as excinfo:
        await model_runtime.invoke_llm(
            provider="openai_api_compatible",
            model="echo",
            credentials=credentials,
            messages=[UserMessage("hi")],
            parameters={"max_tokens": 101},
        )
    # then it is refused, naming the parameter, and the server never heard of it
    assert excinfo.value.parameter == "max_tokens"
    assert fake_llm.requests == []


async def test_validated_parameters_and_stop_reach_the_server(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.invoke_llm(
        provider="openai_api_compatible",
        model="echo",
        credentials=openai_compatible(fake_llm),
        messages=[UserMessage("hi")],
        parameters={"temperature": "0.3", "max_tokens": 50, "stop": ["###"], "ignored": True},
        stop=["END"],
        stream=False,
    )
    sent = fake_llm.requests[-1].json
    assert sent["temperature"] == 0.3
    assert sent["max_tokens"] == 50
    assert sent["stop"] == ["END", "###"]
    assert "ignored" not in sent
