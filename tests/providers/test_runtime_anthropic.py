"""Anthropic Messages API: system prompt, streaming, tool use, tool results, usage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.runtime import (
    AssistantMessage,
    CredentialsValidationError,
    ImageContent,
    ModelRuntime,
    SystemMessage,
    TextContent,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from tests.providers.credentials import anthropic_creds
from tests.support.fake_llm import FakeLLMServer, FakeToolCall, Reply

MODEL = "claude-3-5-haiku-20241022"
SEARCH = Tool("search", "Search the web", {"type": "object", "properties": {"q": {"type": "string"}}})


async def test_streams_text_with_usage_and_sends_the_system_prompt_apart(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="Bonjour tout le monde", chunks=3, usage=(20, 4)))
    stream = await model_runtime.invoke_llm(
        provider="langgenius/anthropic/anthropic",
        model=MODEL,
        credentials=anthropic_creds(fake_llm),
        messages=[SystemMessage("Answer in French."), UserMessage("Hello everyone")],
        parameters={"temperature": 0.4, "top_k": 40},
        stop=["\n\nHuman:"],
    )
    chunks = [chunk async for chunk in stream]
    assert [c.text for c in chunks[:-1]] == ["Bonjour tout ", "le ", "monde"]
    last = chunks[-1]
    assert last.delta.finish_reason == "end_turn"
    assert last.delta.usage is not None
    assert (last.delta.usage.prompt_tokens, last.delta.usage.completion_tokens) == (20, 4)
    # 20 * 0.80 / 1M + 4 * 4.00 / 1M
    assert last.delta.usage.total_price == Decimal("0.0000160") + Decimal("0.0000160")
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/messages"
    # the key both ways: as the current SDK sends it (bearer) and as older SDKs and proxies read it
    assert sent.headers["x-api-key"] == "sk-ant-test-key-0123"
    assert sent.headers["authorization"] == "Bearer sk-ant-test-key-0123"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    body = sent.json
    assert body["system"] == "Answer in French."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello everyone"}]}]
    assert body["max_tokens"] == 4096  # required by the API: the rule's default
    assert (body["temperature"], body["top_k"]) == (0.4, 40)
    assert body["stop_sequences"] == ["\n\nHuman:"]
    assert body["stream"] is True


async def test_streamed_tool_use_is_assembled_from_input_json_deltas(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(
        Reply.tools(
            FakeToolCall("search", {"q": "weather in Lyon", "limit": 3}, id="toolu_1"),
            FakeToolCall("search", {"q": "weather in Nice"}, id="toolu_2"),
            text="Let me look.",
            tool_call_chunks=4,
        )
    )
    stream = await model_runtime.invoke_llm(
        provider="anthropic",
        model=MODEL,
        credentials=anthropic_creds(fake_llm),
        messages=[UserMessage("Weather in Lyon and Nice?")],
        tools=[SEARCH],
    )
    result = await stream.collect()
    assert result.text == "Let me look."
    assert [(c.id, c.name, c.parsed_arguments()) for c in result.tool_calls] == [
        ("toolu_1", "search", {"q": "weather in Lyon", "limit": 3}),
        ("toolu_2", "search", {"q": "weather in Nice"}),
    ]
    assert result.finish_reason == "tool_use"
    assert fake_llm.requests[-1].json["tools"] == [
        {"name": "search", "description": "Search the web", "input_schema": dict(SEARCH.parameters)}
    ]


async def test_tool_results_and_images_are_sent_as_content_blocks(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.invoke_llm(
        provider="anthropic",
        model=MODEL,
        credentials=anthropic_creds(fake_llm),
        messages=[
            UserMessage([TextContent("Look:"), ImageContent(base64_data="AAAA", mime_type="image/jpeg")]),
            AssistantMessage(
                "Searching.", tool_calls=[ToolCall(id="toolu_7", name="search", arguments='{"q": "x"}')]
            ),
            ToolMessage("result one", tool_call_id="toolu_7"),
            UserMessage("Thanks, summarise."),
        ],
        tools=[SEARCH],
        stream=False,
    )
    messages = fake_llm.requests[-1].json["messages"]
    assert messages[0] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Look:"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
        ],
    }
    assert messages[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Searching."},
            {"type": "tool_use", "id": "toolu_7", "name": "search", "input": {"q": "x"}},
        ],
    }
    # the tool result and the next user turn merge into one user turn, as the API wants turns to alternate
    assert messages[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_7", "content": "result one"},
            {"type": "text", "text": "Thanks, summarise."},
        ],
    }
    assert len(messages) == 3


async def test_blocking_call_returns_text_tool_calls_and_usage(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(
        Reply.tools(FakeToolCall("search", {"q": "news"}, id="toolu_9"), text="Searching", usage=(11, 7))
    )
    result = await model_runtime.invoke_llm(
        provider="anthropic",
        model=MODEL,
        credentials=anthropic_creds(fake_llm),
        messages=[UserMessage("news?")],
        tools=[SEARCH],
        stream=False,
    )
    assert result.text == "Searching"
    assert result.tool_calls == [ToolCall(id="toolu_9", name="search", arguments='{"q": "news"}')]
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 7)
    assert result.finish_reason == "tool_use"


async def test_structured_output_goes_in_output_config(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    await model_runtime.invoke_llm(
        provider="anthropic",
        model=MODEL,
        credentials=anthropic_creds(fake_llm),
        messages=[UserMessage("ok?")],
        parameters={"json_schema": {"name": "r", "schema": schema}},
        stream=False,
    )
    assert fake_llm.requests[-1].json["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}
    }


async def test_list_models_and_validate_credentials(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    assert (
        await model_runtime.list_models(provider="anthropic", credentials=anthropic_creds(fake_llm))
        == fake_llm.models
    )
    await model_runtime.validate_credentials(provider="anthropic", credentials=anthropic_creds(fake_llm))
    fake_llm.api_keys = {"sk-ant-the-real-key"}
    with pytest.raises(CredentialsValidationError) as excinfo:
        await model_runtime.validate_credentials(provider="anthropic", credentials=anthropic_creds(fake_llm))
    assert excinfo.value.cause is not None
    assert excinfo.value.cause.kind == "auth"
