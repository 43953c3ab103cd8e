"""OpenAI and OpenAI-compatible servers: streaming, tool calls, structured output, vision, embeddings."""

from __future__ import annotations

import json

import numpy
import pytest

from providers.runtime import (
    AssistantMessage,
    CredentialsValidationError,
    ImageContent,
    InvalidResponseError,
    LLMResult,
    LLMStream,
    ModelRuntime,
    SystemMessage,
    TextContent,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from tests.providers.credentials import openai_compatible, openai_creds
from tests.support.fake_llm import FakeLLMServer, FakeToolCall, Reply
from tests.support.fake_llm.script import fake_vector

WEATHER = Tool(
    name="get_weather",
    description="Current weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


async def test_text_streams_in_the_servers_chunks_then_a_final_usage_chunk(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a server that streams a sentence in four pieces
    fake_llm.push(Reply(text="The sky is blue today.", chunks=4, usage=(12, 6)))
    # when we stream it
    stream = await model_runtime.invoke_llm(
        provider="openai",
        model="gpt-4o-mini",
        credentials=openai_creds(fake_llm),
        messages=[SystemMessage("Be brief."), UserMessage("Colour of the sky?")],
        parameters={"temperature": 0.2},
    )
    assert isinstance(stream, LLMStream)
    chunks = [chunk async for chunk in stream]
    # then the text arrives piece by piece, in order, and the last chunk finishes with usage
    texts = [c.text for c in chunks[:-1]]
    assert len(texts) == 4
    assert "".join(texts) == "The sky is blue today."
    assert [c.delta.index for c in chunks] == list(range(5))
    assert chunks[-1].text == ""
    assert chunks[-1].delta.finish_reason == "stop"
    assert chunks[-1].delta.usage is not None
    assert chunks[-1].delta.usage.prompt_tokens == 12
    assert stream.result is not None
    assert stream.result.text == "The sky is blue today."
    # and the request was a real streamed chat completion asking for usage
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-openai-key-0123"
    assert sent.json["stream"] is True
    assert sent.json["stream_options"] == {"include_usage": True}
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.json["temperature"] == 0.2
    assert sent.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Colour of the sky?"},
    ]
    assert sent.completed


async def test_streamed_tool_calls_are_assembled_into_complete_calls(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a server streaming two tool calls, each one's arguments cut into five fragments
    fake_llm.push(
        Reply.tools(
            FakeToolCall("get_weather", {"city": "Paris", "unit": "celsius"}, id="call_a"),
            FakeToolCall("get_weather", {"city": "Tokyo"}, id="call_b"),
            text="Checking both.",
            tool_call_chunks=5,
        )
    )
    stream = await model_runtime.invoke_llm(
        provider="openai_api_compatible",
        model="echo",
        credentials=openai_compatible(fake_llm, function_calling_type="tool_call"),
        messages=[UserMessage("Weather in Paris and Tokyo?")],
        tools=[WEATHER],
    )
    chunks = [chunk async for chunk in stream]
    # then the tool calls come out whole, in order, with valid JSON arguments
    calls = [call for chunk in chunks for call in chunk.delta.message.tool_calls]
    assert [(c.id, c.name) for c in calls] == [("call_a", "get_weather"), ("call_b", "get_weather")]
    assert calls[0].parsed_arguments() == {"city": "Paris", "unit": "celsius"}
    assert calls[1].parsed_arguments() == {"city": "Tokyo"}
    assert chunks[-1].delta.finish_reason == "tool_calls"
    assert stream.result is not None
    assert stream.result.text == "Checking both."
    assert stream.result.tool_calls == calls
    # and the tools went out in OpenAI's function format
    assert fake_llm.requests[-1].json["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city",
                "parameters": dict(WEATHER.parameters),
            },
        }
    ]


async def test_blocking_call_returns_the_whole_result_with_tool_calls(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.tools(FakeToolCall("get_weather", {"city": "Oslo"}, id="call_1"), usage=(30, 8)))
    result = await model_runtime.invoke_llm(
        provider="openai",
        model="gpt-4o",
        credentials=openai_creds(fake_llm),
        messages=[UserMessage("Weather in Oslo?")],
        tools=[WEATHER],
        stream=False,
    )
    assert isinstance(result, LLMResult)
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [ToolCall(id="call_1", name="get_weather", arguments='{"city": "Oslo"}')]
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (30, 8)
    assert result.system_fingerprint == "fp_fake"
    assert fake_llm.requests[-1].json["stream"] is False


async def test_tool_results_go_back_in_openais_message_format(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    call = ToolCall(id="call_9", name="get_weather", arguments='{"city": "Rome"}')
    await model_runtime.invoke_llm(
        provider="openai",
        model="gpt-4o",
        credentials=openai_creds(fake_llm),
        messages=[
            UserMessage("Weather in Rome?"),
            AssistantMessage(tool_calls=[call]),
            ToolMessage('{"temp": 21}', tool_call_id="call_9"),
        ],
        tools=[WEATHER],
        stream=False,
    )
    sent = fake_llm.requests[-1].json["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_9",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "call_9", "content": '{"temp": 21}'}


async def test_vision_parts_become_image_url_parts(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.invoke_llm(
        provider="openai",
        model="gpt-4o",
        credentials=openai_creds(fake_llm),
        messages=[
            UserMessage(
                [
                    TextContent("What is in these?"),
                    ImageContent(url="https://example.com/cat.png", detail="high"),
                    ImageContent(base64_data="iVBORw0KGgo=", mime_type="image/png"),
                ]
            )
        ],
        stream=False,
    )
    parts = fake_llm.requests[-1].json["messages"][0]["content"]
    assert parts == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
    ]


async def test_structured_output_sends_a_json_schema_response_format(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text='{"answer": 42}'))
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    result = await model_runtime.invoke_llm(
        provider="openai",
        model="gpt-4o",
        credentials=openai_creds(fake_llm),
        messages=[UserMessage("The answer?")],
        # what Dify's LLM node sends for structured output
        parameters={
            "response_format": "json_schema",
            "json_schema": json.dumps({"name": "llm_response", "schema": schema}),
        },
        stream=False,
    )
    assert json.loads(result.text) == {"answer": 42}
    assert fake_llm.requests[-1].json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "llm_response", "schema": schema},
    }


async def test_json_object_mode(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    await model_runtime.invoke_llm(
        provider="openai",
        model="gpt-4o-mini",
        credentials=openai_creds(fake_llm),
        messages=[UserMessage("json please")],
        parameters={"response_format": "json_object"},
        stream=False,
    )
    assert fake_llm.requests[-1].json["response_format"] == {"type": "json_object"}


async def test_reasoning_models_get_max_completion_tokens(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.invoke_llm(
        provider="openai",
        model="o3-mini",
        credentials=openai_creds(fake_llm),
        messages=[UserMessage("think")],
        parameters={"max_tokens": 1000, "temperature": 0.5, "reasoning_effort": "low"},
        stream=False,
    )
    sent = fake_llm.requests[-1].json
    assert sent["max_completion_tokens"] == 1000
    assert sent["reasoning_effort"] == "low"
    assert "max_tokens" not in sent
    assert "temperature" not in sent  # o-series models take none


async def test_compatible_server_gets_its_own_model_name_and_no_key_when_none_is_set(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.invoke_llm(
        provider="openai_api_compatible",
        model="my-llama",
        credentials={
            "endpoint_url": fake_llm.openai_base_url + "/",
            "endpoint_model_name": "llama-3.1-8b-instruct",
        },
        messages=[UserMessage("hi")],
        stream=False,
    )
    sent = fake_llm.requests[-1]
    assert sent.json["model"] == "llama-3.1-8b-instruct"
    assert sent.path == "/v1/chat/completions"


async def test_stream_usage_request_can_be_switched_off_for_strict_servers(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    stream = await model_runtime.invoke_llm(
        provider="openai_api_compatible",
        model="echo",
        credentials=openai_compatible(fake_llm, stream_include_usage="false"),
        messages=[UserMessage("hi")],
    )
    result = await stream.collect()
    assert "stream_options" not in fake_llm.requests[-1].json
    assert result.usage.estimated is True
    assert result.text == "You said: hi"


async def test_calls_reuse_one_keep_alive_connection(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    for _ in range(3):
        stream = await model_runtime.invoke_llm(
            provider="openai_api_compatible",
            model="echo",
            credentials=openai_compatible(fake_llm),
            messages=[UserMessage("again")],
        )
        await stream.collect()
    ports = {r.client_port for r in fake_llm.requests}
    assert len(fake_llm.requests) == 3
    assert len(ports) == 1


async def test_embeddings_are_batched_by_max_chunks_and_priced(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a custom embedding model taking two texts per request, priced per thousand tokens
    texts = [f"document number {i}" for i in range(5)]
    result = await model_runtime.invoke_embedding(
        provider="openai_api_compatible",
        model="embedder",
        credentials=openai_compatible(fake_llm, max_chunks="2", input_price="0.1", unit="0.001"),
        texts=texts,
    )
    assert len(result.embeddings) == 5
    assert all(len(v) == fake_llm.embedding_dimensions for v in result.embeddings)
    # the same text gets the same vector from the fake, so order is checkable
    assert result.embeddings[3] == (await _embed_one(model_runtime, fake_llm, texts[3]))
    batches = [r.json["input"] for r in fake_llm.requests_on("embeddings")][:3]
    assert batches == [texts[0:2], texts[2:4], texts[4:5]]
    assert result.usage.tokens == 15
    assert result.usage.to_dict()["total_price"] == "0.0015000"


async def _embed_one(runtime: ModelRuntime, server: FakeLLMServer, text: str) -> list[float]:
    result = await runtime.invoke_embedding(
        provider="openai", model="text-embedding-3-small", credentials=openai_creds(server), texts=[text]
    )
    return result.embeddings[0]


async def test_openai_embeddings_use_the_catalogue_price(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(usage=(1000, 0), route="embeddings"))
    result = await model_runtime.invoke_embedding(
        provider="langgenius/openai/openai",
        model="text-embedding-3-small",
        credentials=openai_creds(fake_llm),
        texts=["hello"],
    )
    assert result.usage.tokens == 1000
    assert str(result.usage.total_price) == "0.0000200"
    assert fake_llm.requests[-1].json["encoding_format"] == "base64"


async def test_embeddings_come_as_base64_float32_or_as_numbers(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # What was asked: base64 of little-endian float32 (the fake packs what it would send as numbers).
    packed = await _embed_one(model_runtime, fake_llm, "base64 please")
    assert fake_llm.requests[-1].json["encoding_format"] == "base64"
    reference = fake_vector("base64 please", fake_llm.embedding_dimensions)
    assert packed == [float(numpy.float32(v)) for v in reference]
    # A server that ignores encoding_format and sends numbers is read as well.
    fake_llm.push(Reply(body={"data": [{"index": 0, "embedding": [0.5, -0.25, 1e-3]}]}, route="embeddings"))
    assert await _embed_one(model_runtime, fake_llm, "numbers") == [0.5, -0.25, 1e-3]


@pytest.mark.parametrize("embedding", ["not base64!", "AAAA=A", "AAA=", ""])
async def test_an_embedding_that_is_not_base64_float32_is_an_invalid_answer(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime, embedding: str
) -> None:
    fake_llm.push(Reply(body={"data": [{"index": 0, "embedding": embedding}]}, route="embeddings"))
    with pytest.raises(InvalidResponseError, match="not base64 float32"):
        await _embed_one(model_runtime, fake_llm, "broken")


async def test_list_models(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    models = await model_runtime.list_models(provider="openai", credentials=openai_creds(fake_llm))
    assert models == fake_llm.models
    assert fake_llm.requests[-1].path == "/v1/models"


async def test_valid_credentials_pass_validation_with_a_models_listing(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.api_keys = {"sk-test-openai-key-0123"}
    await model_runtime.validate_credentials(provider="openai", credentials=openai_creds(fake_llm))
    assert [r.route for r in fake_llm.requests] == ["openai.models"]


async def test_a_wrong_key_fails_validation_without_showing_the_key(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.api_keys = {"sk-the-right-key-000000"}
    with pytest.raises(CredentialsValidationError) as excinfo:
        await model_runtime.validate_credentials(provider="openai", credentials=openai_creds(fake_llm))
    assert excinfo.value.cause is not None
    assert excinfo.value.cause.kind == "auth"
    assert "credentials" in str(excinfo.value).lower()
    assert "sk-test-openai-key-0123" not in str(excinfo.value)
    assert len(fake_llm.requests) == 1  # validation does not retry


async def test_a_custom_model_is_validated_by_a_one_token_call(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.validate_credentials(
        provider="openai_api_compatible",
        credentials=openai_compatible(fake_llm),
        model="echo",
        model_type="llm",
    )
    sent = fake_llm.requests[-1].json
    assert sent["max_tokens"] == 1
    assert sent["stream"] is False


async def test_missing_required_credentials_fail_validation_before_any_call(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    with pytest.raises(CredentialsValidationError, match="endpoint_url"):
        await model_runtime.validate_credentials(
            provider="openai_api_compatible", credentials={"api_key": "x"}, model="echo", model_type="llm"
        )
    assert fake_llm.requests == []
