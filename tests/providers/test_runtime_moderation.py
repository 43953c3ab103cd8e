"""Moderation over OpenAI's `POST /moderations`: a flag with categories, long texts checked in parts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from providers.runtime import (
    AuthenticationError,
    CredentialsValidationError,
    InvalidResponseError,
    ModelRuntime,
    ModerationResult,
    UnknownModelError,
    default_catalogue,
)
from tests.providers.credentials import azure_creds, openai_compatible, openai_creds
from tests.support.fake_llm import FakeLLMServer, Reply


async def moderate(
    runtime: ModelRuntime, server: FakeLLMServer, text: str, **kwargs: object
) -> ModerationResult:
    options = {"provider": "openai", "model": "omni-moderation-latest", "credentials": openai_creds(server)}
    return await runtime.invoke_moderation(text=text, **{**options, **kwargs})  # type: ignore[arg-type]


async def test_a_harmless_text_is_not_flagged(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    result = await moderate(model_runtime, fake_llm, "What a lovely day.")
    assert not result
    assert result.flagged is False
    assert result.flagged_categories == []
    assert set(result.categories) >= {"violence", "self-harm", "hate/threatening"}
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/moderations"
    assert sent.json == {"model": "omni-moderation-latest", "input": ["What a lovely day."]}
    assert sent.headers["authorization"] == "Bearer sk-test-openai-key-0123"


async def test_a_text_with_a_flagged_word_is_flagged_in_its_category(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.moderation_words = {"stab": "violence", "slur": "hate"}
    result = await moderate(model_runtime, fake_llm, "I will STAB you with this slur.")
    assert result
    assert result.flagged_categories == ["hate", "violence"]
    assert result.category_scores["violence"] == pytest.approx(0.98)
    assert result.category_scores["sexual"] < 0.01
    assert result.model == "omni-moderation-latest"
    assert result.latency > 0


async def test_a_long_text_is_sent_in_parts_many_per_request(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given 5000 characters and text-moderation-stable's 2000-character parts, 32 parts a request
    result = await moderate(model_runtime, fake_llm, "a" * 4990 + " kill it", model="text-moderation-stable")
    assert result.flagged
    assert len(fake_llm.requests) == 1
    parts = fake_llm.requests[0].json["input"]
    assert [len(p) for p in parts] == [2000, 2000, 998]


async def test_checking_stops_at_the_first_flagged_request(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a model that takes one 10-character part per request, and a bad word in the second part
    schema = default_catalogue().model_schema("openai", "moderation", "omni-moderation-latest")
    small = replace(schema, model_properties={"max_chunks": 1, "max_characters_per_chunk": 10})
    result = await moderate(
        model_runtime, fake_llm, "all fine. bomb here and more text after", model_schema=small
    )
    assert result.flagged
    assert result.flagged_categories == ["illicit/violent"]
    assert [r.json["input"] for r in fake_llm.requests] == [["all fine. "], ["bomb here "]]


async def test_blank_text_is_not_flagged_and_costs_no_call(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    assert not await moderate(model_runtime, fake_llm, "   ")
    assert fake_llm.requests == []


async def test_an_answer_not_matching_the_inputs_is_an_invalid_response(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(body={"id": "x", "model": "m", "results": []}, content_type="application/json"))
    with pytest.raises(InvalidResponseError, match="do not match the inputs"):
        await moderate(model_runtime, fake_llm, "hello")


async def test_an_auth_failure_is_mapped_and_the_key_never_shows(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(401, "Incorrect API key provided: sk-test-openai-key-0123"))
    with pytest.raises(AuthenticationError) as excinfo:
        await moderate(model_runtime, fake_llm, "hello")
    assert "sk-test-openai-key-0123" not in str(excinfo.value)


async def test_rate_limits_are_retried(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    fake_llm.push(Reply.error(429, "slow down", headers={"retry-after": "0"}))
    assert await moderate(model_runtime, fake_llm, "kill")
    assert len(fake_llm.requests) == 2


async def test_providers_without_moderation_refuse_it(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    with pytest.raises(UnknownModelError):
        await model_runtime.invoke_moderation(
            provider="azure_openai", model="mod", credentials=azure_creds(fake_llm), text="x"
        )
    with pytest.raises(UnknownModelError):
        await model_runtime.invoke_moderation(
            provider="openai_api_compatible", model="mod", credentials=openai_compatible(fake_llm), text="x"
        )
    assert fake_llm.requests == []


async def test_credentials_are_validated_with_one_word(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.validate_credentials(
        provider="openai",
        credentials=openai_creds(fake_llm),
        model="omni-moderation-latest",
        model_type="moderation",
    )
    assert fake_llm.requests[-1].json == {"model": "omni-moderation-latest", "input": ["ping"]}
    fake_llm.api_keys = {"the-right-key"}
    with pytest.raises(CredentialsValidationError):
        await model_runtime.validate_credentials(
            provider="openai",
            credentials=openai_creds(fake_llm),
            model="text-moderation-stable",
            model_type="moderation",
        )
