"""Every failure maps to one of the runtime's error classes, with retries where they can help."""

from __future__ import annotations

import time

import pytest

from providers.runtime import (
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    InvalidResponseError,
    InvokeConnectionError,
    InvokeTimeoutError,
    ModelRuntime,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Timeouts,
    UserMessage,
)
from tests.providers.credentials import anthropic_creds, ollama_creds, openai_compatible
from tests.support.fake_llm import FakeLLMServer, Reply

PROVIDER = "openai_api_compatible"


async def _stream_text(runtime: ModelRuntime, server: FakeLLMServer, **kwargs: object) -> str:
    stream = await runtime.invoke_llm(
        provider=PROVIDER,
        model="echo",
        credentials=openai_compatible(server),
        messages=[UserMessage("hello")],
        **kwargs,  # type: ignore[arg-type]
    )
    result = await stream.collect()
    return result.text


async def _blocking(runtime: ModelRuntime, server: FakeLLMServer, **kwargs: object) -> str:
    result = await runtime.invoke_llm(
        provider=PROVIDER,
        model="echo",
        credentials=openai_compatible(server),
        messages=[UserMessage("hello")],
        stream=False,
        **kwargs,  # type: ignore[arg-type]
    )
    return result.text


async def test_401_is_an_auth_error_and_is_not_retried(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(401, "Incorrect API key provided: sk-te*******-key."))
    with pytest.raises(AuthenticationError) as excinfo:
        await _stream_text(model_runtime, fake_llm)
    assert excinfo.value.status_code == 401
    assert "Incorrect model credentials" in str(excinfo.value)
    assert excinfo.value.to_dict() == {
        "code": "completion_request_error",
        "message": str(excinfo.value),
        "status": 400,
    }
    assert len(fake_llm.requests) == 1


async def test_429_is_retried_after_retry_after_and_then_succeeds(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a rate limit asking us to come back in 0.3 s, then a normal answer
    fake_llm.push(Reply.error(429, "Rate limit reached", headers={"retry-after": "0.3"}))
    started = time.perf_counter()
    text = await _stream_text(model_runtime, fake_llm)
    # then the call waited as told, tried again, and got the answer
    assert text == "You said: hello"
    assert len(fake_llm.requests) == 2
    assert time.perf_counter() - started >= 0.3


async def test_retry_after_ms_is_honoured(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    fake_llm.push(Reply.error(429, "slow down", headers={"retry-after-ms": "150"}))
    started = time.perf_counter()
    assert await _blocking(model_runtime, fake_llm) == "You said: hello"
    assert time.perf_counter() - started >= 0.15


async def test_rate_limit_gives_up_after_the_policys_attempts(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(*[Reply.error(429, "Rate limit reached", headers={"retry-after": "0"}) for _ in range(5)])
    with pytest.raises(RateLimitError) as excinfo:
        await _blocking(model_runtime, fake_llm)
    assert excinfo.value.retry_after == 0
    assert len(fake_llm.requests) == 3


async def test_a_retry_after_beyond_the_cap_fails_at_once(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(429, "come back tomorrow", headers={"retry-after": "86400"}))
    with pytest.raises(RateLimitError):
        await _blocking(model_runtime, fake_llm)
    assert len(fake_llm.requests) == 1


async def test_an_exhausted_quota_is_not_retried(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(429, "You exceeded your current quota", code="insufficient_quota"))
    with pytest.raises(RateLimitError, match="quota"):
        await _blocking(model_runtime, fake_llm)
    assert len(fake_llm.requests) == 1


async def test_context_too_long_is_its_own_bad_request(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(
        Reply.error(
            400,
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
            code="context_length_exceeded",
        )
    )
    with pytest.raises(ContextTooLongError) as excinfo:
        await _stream_text(model_runtime, fake_llm)
    assert isinstance(excinfo.value, BadRequestError)
    assert "maximum context length is 8192" in str(excinfo.value)
    assert len(fake_llm.requests) == 1


async def test_other_400s_are_bad_requests(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    fake_llm.push(Reply.error(400, "Invalid value for 'top_p'", type="invalid_request_error"))
    with pytest.raises(BadRequestError) as excinfo:
        await _blocking(model_runtime, fake_llm)
    assert not isinstance(excinfo.value, ContextTooLongError)
    assert "Invalid value for 'top_p'" in str(excinfo.value)


async def test_500_is_retried_then_succeeds(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    fake_llm.push(Reply.error(500, "boom"), Reply.error(503, "busy"))
    assert await _stream_text(model_runtime, fake_llm) == "You said: hello"
    assert [r.reply.status if r.reply else 200 for r in fake_llm.requests] == [500, 503, 200]


async def test_persistent_server_errors_surface_as_server_errors(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(*[Reply.error(500, "The server had an error") for _ in range(3)])
    with pytest.raises(ServerError, match="HTTP 500"):
        await _blocking(model_runtime, fake_llm)
    assert len(fake_llm.requests) == 3


async def test_a_slow_first_byte_times_out(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    fake_llm.push(*[Reply(text="late", delay=1.0) for _ in range(2)])
    started = time.perf_counter()
    with pytest.raises(InvokeTimeoutError):
        await _stream_text(
            model_runtime,
            fake_llm,
            timeouts=Timeouts(connect=1, read=0.2, write=1, pool=1),
            retry=RetryPolicy(max_attempts=2, base_delay=0.01),
        )
    assert time.perf_counter() - started < 1.5  # two attempts of 0.2 s, not two of 1 s
    assert len(fake_llm.requests) == 2


async def test_a_stall_mid_stream_times_out_without_retry(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="one two three four", chunk_delay=1.0))
    stream = await model_runtime.invoke_llm(
        provider=PROVIDER,
        model="echo",
        credentials=openai_compatible(fake_llm),
        messages=[UserMessage("hello")],
        timeouts=Timeouts(connect=1, read=0.3, write=1, pool=1),
    )
    received = []
    with pytest.raises(InvokeTimeoutError):
        async for chunk in stream:
            received.append(chunk.text)
    assert received == ["one "]
    assert len(fake_llm.requests) == 1


async def test_connection_refused_is_a_connection_error_after_retries(
    closed_port: int, model_runtime: ModelRuntime
) -> None:
    with pytest.raises(InvokeConnectionError, match="Could not reach the provider"):
        await model_runtime.invoke_llm(
            provider=PROVIDER,
            model="echo",
            credentials={"endpoint_url": f"http://127.0.0.1:{closed_port}/v1"},
            messages=[UserMessage("hello")],
        )


async def test_an_html_page_instead_of_a_stream_is_an_invalid_response(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.html(200))
    with pytest.raises(InvalidResponseError, match="HTML page"):
        await _stream_text(model_runtime, fake_llm)
    assert len(fake_llm.requests) == 1


async def test_an_html_page_instead_of_a_completion_is_an_invalid_response(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.html(200))
    with pytest.raises(InvalidResponseError, match="HTML page"):
        await _blocking(model_runtime, fake_llm)


async def test_an_html_error_page_from_a_proxy_is_a_server_error_saying_so(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(*[Reply.html(502) for _ in range(3)])
    with pytest.raises(ServerError, match="HTML page"):
        await _blocking(model_runtime, fake_llm)


async def test_garbage_bytes_are_an_invalid_response(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.garbage())
    with pytest.raises(InvalidResponseError):
        await _blocking(model_runtime, fake_llm)


async def test_garbage_inside_an_event_stream_is_an_invalid_response(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(body=b"data: {not json\n\n", content_type="text/event-stream"))
    with pytest.raises(InvalidResponseError):
        await _stream_text(model_runtime, fake_llm)


async def test_a_connection_dropped_mid_stream_raises_and_is_not_retried(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a server that dies after three pieces of the answer
    fake_llm.push(Reply(text="one two three four five six", drop_after=3))
    stream = await model_runtime.invoke_llm(
        provider=PROVIDER,
        model="echo",
        credentials=openai_compatible(fake_llm),
        messages=[UserMessage("hello")],
    )
    received = []
    with pytest.raises(InvokeConnectionError, match="closed before the answer was complete"):
        async for chunk in stream:
            received.append(chunk.text)
    # then what arrived was delivered, and nothing was asked again (output had started)
    assert received == ["one ", "two ", "three "]
    assert len(fake_llm.requests) == 1


async def test_a_connection_dropped_before_the_first_token_is_retried(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="lost", drop_after=0))
    assert await _stream_text(model_runtime, fake_llm) == "You said: hello"
    assert len(fake_llm.requests) == 2


async def test_an_error_event_inside_the_stream_is_mapped(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="partial answer", stream_error=("server_error", "The model crashed")))
    stream = await model_runtime.invoke_llm(
        provider=PROVIDER,
        model="echo",
        credentials=openai_compatible(fake_llm),
        messages=[UserMessage("hello")],
    )
    with pytest.raises(ServerError, match="The model crashed"):
        async for _ in stream:
            pass


async def test_a_key_echoed_by_the_provider_never_appears_in_the_error(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(400, "Bad request for key sk-test-compatible-key on this endpoint"))
    with pytest.raises(BadRequestError) as excinfo:
        await _blocking(model_runtime, fake_llm)
    assert "sk-test-compatible-key" not in str(excinfo.value)
    assert "***" in str(excinfo.value)


async def test_anthropic_overloaded_529_is_a_retried_server_error(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(529, "Overloaded"))
    result = await model_runtime.invoke_llm(
        provider="anthropic",
        model="claude-3-5-haiku-20241022",
        credentials=anthropic_creds(fake_llm),
        messages=[UserMessage("hello")],
        stream=False,
    )
    assert result.text == "You said: hello"
    assert len(fake_llm.requests) == 2


async def test_anthropic_error_event_mid_stream_is_classified_by_its_type(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="half", stream_error=("overloaded_error", "Overloaded")))
    stream = await model_runtime.invoke_llm(
        provider="anthropic",
        model="claude-3-5-haiku-20241022",
        credentials=anthropic_creds(fake_llm),
        messages=[UserMessage("hello")],
    )
    with pytest.raises(ServerError, match="overloaded_error"):
        async for _ in stream:
            pass


async def test_anthropic_prompt_too_long(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    fake_llm.push(Reply.error(400, "prompt is too long: 210000 tokens > 200000 maximum"))
    with pytest.raises(ContextTooLongError):
        await model_runtime.invoke_llm(
            provider="anthropic",
            model="claude-3-5-haiku-20241022",
            credentials=anthropic_creds(fake_llm),
            messages=[UserMessage("hello")],
        )


async def test_ollama_unknown_model_is_a_bad_request(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(404, "model 'nope' not found, try pulling it first"))
    with pytest.raises(BadRequestError, match="model 'nope' not found"):
        await model_runtime.invoke_llm(
            provider="ollama",
            model="nope",
            credentials=ollama_creds(fake_llm),
            messages=[UserMessage("hello")],
        )


async def test_ollama_error_line_mid_stream(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    fake_llm.push(Reply(text="some words", stream_error=("error", "llama runner process has terminated")))
    stream = await model_runtime.invoke_llm(
        provider="ollama", model="llama3", credentials=ollama_creds(fake_llm), messages=[UserMessage("hello")]
    )
    with pytest.raises(ServerError, match="llama runner process has terminated"):
        async for _ in stream:
            pass


async def test_only_secret_credentials_are_hidden_from_errors(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # a non-secret credential value ("support") that happens to appear in the message stays readable
    fake_llm.push(Reply.error(400, "vision is not supported by this endpoint"))
    with pytest.raises(BadRequestError) as excinfo:
        await model_runtime.invoke_llm(
            provider=PROVIDER,
            model="echo",
            credentials=openai_compatible(fake_llm, vision_support="support"),
            messages=[UserMessage("hello")],
            stream=False,
        )
    assert "vision is not supported by this endpoint" in str(excinfo.value)


async def test_an_html_page_instead_of_the_model_list_is_an_invalid_response(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.html(200, route="models"))
    with pytest.raises(InvalidResponseError, match="model list"):
        await model_runtime.list_models(
            provider="openai", credentials={"openai_api_key": "sk-x", "openai_api_base": fake_llm.url}
        )
