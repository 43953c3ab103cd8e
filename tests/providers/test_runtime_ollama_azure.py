"""Ollama's native API (NDJSON streaming) and Azure OpenAI (deployments, api-version, api-key)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.runtime import (
    AssistantMessage,
    ImageContent,
    ModelRuntime,
    ParameterError,
    TextContent,
    Tool,
    ToolCall,
    ToolMessage,
    UnsupportedOperationError,
    UserMessage,
)
from tests.providers.credentials import azure_creds, ollama_creds
from tests.support.fake_llm import FakeLLMServer, FakeToolCall, Reply


async def test_ollama_streams_ndjson_with_usage_and_maps_options(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="Ollama says hi", usage=(9, 3)))
    stream = await model_runtime.invoke_llm(
        provider="ollama",
        model="llama3.2",
        credentials=ollama_creds(fake_llm, max_tokens="2048"),
        messages=[UserMessage("hi")],
        parameters={"temperature": 0.1, "max_tokens": 64, "num_ctx": 8192, "keep_alive": "10m"},
        stop=["<|eot|>"],
    )
    chunks = [c async for c in stream]
    assert "".join(c.text for c in chunks) == "Ollama says hi"
    assert chunks[-1].delta.finish_reason == "stop"
    assert chunks[-1].delta.usage is not None
    assert (chunks[-1].delta.usage.prompt_tokens, chunks[-1].delta.usage.completion_tokens) == (9, 3)
    sent = fake_llm.requests[-1]
    assert sent.path == "/api/chat"
    assert sent.json["options"] == {
        "temperature": 0.1,
        "num_predict": 64,
        "num_ctx": 8192,
        "stop": ["<|eot|>"],
    }
    assert sent.json["keep_alive"] == "10m"
    assert sent.json["stream"] is True


async def test_ollama_tool_calls_and_tool_results(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    tool = Tool("add", "Add numbers", {"type": "object", "properties": {"a": {"type": "number"}}})
    fake_llm.push(Reply.tools(FakeToolCall("add", {"a": 1, "b": 2})))
    stream = await model_runtime.invoke_llm(
        provider="ollama",
        model="qwen3",
        credentials=ollama_creds(fake_llm, function_call_support="true"),
        messages=[
            UserMessage("1+2?"),
            AssistantMessage(tool_calls=[ToolCall(id="c0", name="add", arguments='{"a": 5, "b": 5}')]),
            ToolMessage("10", tool_call_id="c0", name="add"),
        ],
        tools=[tool],
    )
    result = await stream.collect()
    assert [(c.name, c.parsed_arguments()) for c in result.tool_calls] == [("add", {"a": 1, "b": 2})]
    assert result.tool_calls[0].id  # Ollama sends none; one is made up so replies can refer to it
    assert result.finish_reason == "tool_calls"
    sent = fake_llm.requests[-1].json
    assert sent["messages"][1]["tool_calls"] == [{"function": {"name": "add", "arguments": {"a": 5, "b": 5}}}]
    assert sent["messages"][2] == {"role": "tool", "content": "10", "tool_name": "add"}
    assert sent["tools"][0]["function"]["name"] == "add"


async def test_ollama_images_go_inline_and_urls_are_refused(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.invoke_llm(
        provider="ollama",
        model="llava",
        credentials=ollama_creds(fake_llm, vision_support="true"),
        messages=[UserMessage([TextContent("what?"), ImageContent(base64_data="QUJD")])],
        stream=False,
    )
    assert fake_llm.requests[-1].json["messages"][0] == {
        "role": "user",
        "content": "what?",
        "images": ["QUJD"],
    }
    with pytest.raises(ParameterError, match="inline"):
        await model_runtime.invoke_llm(
            provider="ollama",
            model="llava",
            credentials=ollama_creds(fake_llm),
            messages=[UserMessage([ImageContent(url="https://example.com/a.png")])],
        )


async def test_ollama_json_format_and_blocking_call(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text='{"a": 1}', usage=(5, 5)))
    result = await model_runtime.invoke_llm(
        provider="ollama",
        model="llama3",
        credentials=ollama_creds(fake_llm),
        messages=[UserMessage("json")],
        parameters={"format": "json"},
        stream=False,
    )
    assert result.text == '{"a": 1}'
    assert result.usage.total_tokens == 10
    assert fake_llm.requests[-1].json["format"] == "json"
    assert fake_llm.requests[-1].json["stream"] is False


async def test_ollama_embeddings_and_models(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    result = await model_runtime.invoke_embedding(
        provider="ollama", model="nomic-embed-text", credentials=ollama_creds(fake_llm), texts=["a b c", "d"]
    )
    assert len(result.embeddings) == 2
    assert result.usage.tokens == 4
    assert fake_llm.requests[-1].path == "/api/embed"
    assert (
        await model_runtime.list_models(provider="ollama", credentials=ollama_creds(fake_llm))
        == fake_llm.models
    )
    # a customizable-only provider is validated by listing models when no model is given
    await model_runtime.validate_credentials(provider="ollama", credentials=ollama_creds(fake_llm))
    assert fake_llm.requests[-1].path == "/api/tags"


async def test_ollama_stream_cut_before_done_is_a_connection_error(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    from providers.runtime import InvokeConnectionError

    fake_llm.push(Reply(text="a b c d", drop_after=2))
    stream = await model_runtime.invoke_llm(
        provider="ollama", model="llama3", credentials=ollama_creds(fake_llm), messages=[UserMessage("x")]
    )
    with pytest.raises(InvokeConnectionError):
        async for _ in stream:
            pass


async def test_azure_calls_the_deployment_with_api_version_and_api_key(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="from azure", usage=(100, 10)))
    stream = await model_runtime.invoke_llm(
        provider="langgenius/azure_openai/azure_openai",
        model="my-gpt4o-mini",
        credentials=azure_creds(fake_llm),
        messages=[UserMessage("hi")],
        parameters={"max_tokens": 20},
    )
    result = await stream.collect()
    assert result.text == "from azure"
    sent = fake_llm.requests[-1]
    assert sent.path == "/openai/deployments/my-gpt4o-mini/chat/completions"
    assert sent.query == {"api-version": ["2024-10-21"]}
    assert sent.headers["api-key"] == "azure-test-key-0123456"
    assert "authorization" not in sent.headers
    # priced as the base model it deploys (gpt-4o-mini: 0.15 / 0.60 per million)
    assert result.usage.total_price == Decimal("0.0000150") + Decimal("0.0000060")


async def test_azure_embeddings_and_no_model_listing(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    result = await model_runtime.invoke_embedding(
        provider="azure_openai",
        model="embed-deploy",
        credentials=azure_creds(fake_llm, base_model_name="text-embedding-3-small"),
        texts=["x"],
    )
    assert len(result.embeddings) == 1
    assert fake_llm.requests[-1].path == "/openai/deployments/embed-deploy/embeddings"
    with pytest.raises(UnsupportedOperationError):
        await model_runtime.list_models(provider="azure_openai", credentials=azure_creds(fake_llm))
