"""Text to speech over OpenAI's `POST /audio/speech`: long text in sentence pieces, streamed in order."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from providers.runtime import (
    AuthenticationError,
    BadRequestError,
    CredentialsValidationError,
    InvalidResponseError,
    ModelRuntime,
    ParameterError,
    TTSStream,
)
from tests.providers.credentials import azure_creds, openai_compatible, openai_creds
from tests.support.fake_audio import spoken
from tests.support.fake_llm import FakeLLMServer, Reply

SENTENCES = [f"Sentence number {i} is here." for i in range(12)]  # 27 or 28 characters each
LONG_TEXT = " ".join(SENTENCES)


async def speak(runtime: ModelRuntime, server: FakeLLMServer, text: str, **kwargs: object) -> TTSStream:
    options = {"provider": "openai", "model": "tts-1", "credentials": openai_creds(server), **kwargs}
    return await runtime.invoke_tts(text=text, **options)  # type: ignore[arg-type]


async def test_a_short_text_is_one_request_streamed_back(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    stream = await speak(model_runtime, fake_llm, "Hello there.", voice="nova")
    audio = await stream.collect()
    assert spoken(audio) == [("nova", "Hello there.")]
    assert audio.startswith(b"ID3")
    assert (stream.mime_type, stream.voice, stream.pieces, stream.completed) == (
        "audio/mpeg",
        "nova",
        1,
        True,
    )
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/audio/speech"
    assert sent.json == {"model": "tts-1", "input": "Hello there.", "voice": "nova", "response_format": "mp3"}
    assert sent.headers["authorization"] == "Bearer sk-test-openai-key-0123"


async def test_long_text_is_spoken_in_sentence_pieces_within_the_limit_in_order(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a text of 12 sentences and tts-1's limit of 120 characters per request
    fake_llm.speech_input_limit = 120  # the fake refuses anything longer, as OpenAI does past 4096
    stream = await speak(model_runtime, fake_llm, LONG_TEXT)
    audio = await stream.collect()
    # then every request held whole sentences, under the limit, and the audio is in the text's order
    inputs = [r.json["input"] for r in fake_llm.requests]
    assert len(inputs) == stream.pieces == 3
    assert all(len(text) <= 120 for text in inputs)
    # (pieces fetched ahead are requested together: the server may see them in either order)
    texts = [text for _, text in spoken(audio)]
    assert sorted(texts) == sorted(inputs)
    assert " ".join(texts) == LONG_TEXT
    # and the usage counts the characters sent, at tts-1's price per thousand characters
    usage = stream.usage
    assert usage.characters == sum(len(text) for text in inputs)
    assert usage.total_price == (Decimal(usage.characters) * Decimal("0.015") * Decimal("0.001")).quantize(
        Decimal("0.0000001")
    )
    assert usage.time_to_first_byte is not None
    assert usage.to_dict()["unit_price"] == "0.015"


async def test_the_next_pieces_are_requested_while_the_first_streams(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given a slow first piece (tts-1 declares max_workers 5: up to three requests in flight)
    fake_llm.push(Reply(chunks=10, chunk_delay=0.1, route="speech"))
    text = " ".join(SENTENCES * 2)
    stream = await speak(model_runtime, fake_llm, text)
    assert stream.pieces >= 4
    first = await stream.__anext__()
    # then the two pieces after it are asked for before it ends, and no more than that
    await asyncio.sleep(0.2)
    assert len(fake_llm.requests) == 3
    rest = b"".join([chunk async for chunk in stream])
    # and the audio still follows the text, whatever order the requests reached the server in
    assert " ".join(t for _, t in spoken(first + rest)) == text
    assert len(fake_llm.requests) == stream.pieces


async def test_a_model_with_one_worker_asks_for_one_piece_at_a_time(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(chunks=10, chunk_delay=0.05, route="speech"))
    stream = await model_runtime.invoke_tts(
        provider="openai_api_compatible",
        model="kokoro",
        credentials=openai_compatible(fake_llm, word_limit="60"),
        text=LONG_TEXT,
    )
    await stream.__anext__()
    await asyncio.sleep(0.2)
    assert len(fake_llm.requests) == 1
    await stream.collect()
    assert len(fake_llm.requests) == stream.pieces > 1


async def test_an_undeclared_voice_falls_back_to_the_models_default(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    stream = await speak(model_runtime, fake_llm, "Hi.", voice="someone-else")
    assert spoken(await stream.collect()) == [("alloy", "Hi.")]


async def test_the_audio_format_is_asked_for_and_reported(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    stream = await speak(model_runtime, fake_llm, "Hi.", audio_format="wav")
    audio = await stream.collect()
    assert audio.startswith(b"RIFF")
    assert stream.mime_type == "audio/wav"
    assert fake_llm.requests[-1].json["response_format"] == "wav"


async def test_blank_text_and_unknown_formats_are_refused_before_any_call(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    with pytest.raises(ParameterError, match="nothing to speak"):
        await speak(model_runtime, fake_llm, "  \n ")
    with pytest.raises(ParameterError, match="audio_format"):
        await speak(model_runtime, fake_llm, "Hi.", audio_format="ogg")
    assert fake_llm.requests == []


async def test_a_compatible_server_gets_its_model_name_voices_and_format_from_the_form(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    credentials = openai_compatible(
        fake_llm, endpoint_model_name="hexgrad/Kokoro-82M", voices="af_bella,am_adam", audio_type="opus"
    )
    assert model_runtime.tts_voices(
        provider="openai_api_compatible", model="kokoro", credentials=credentials
    ) == [
        {"name": "af_bella", "value": "af_bella"},
        {"name": "am_adam", "value": "am_adam"},
    ]
    stream = await model_runtime.invoke_tts(
        provider="openai_api_compatible", model="kokoro", credentials=credentials, text="Bonjour."
    )
    assert spoken(await stream.collect()) == [("af_bella", "Bonjour.")]
    assert stream.mime_type == "audio/ogg"
    assert fake_llm.requests[-1].json == {
        "model": "hexgrad/Kokoro-82M",
        "input": "Bonjour.",
        "voice": "af_bella",
        "response_format": "opus",
    }


async def test_azure_speaks_through_the_deployment(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    stream = await model_runtime.invoke_tts(
        provider="azure_openai",
        model="tts-prod",
        credentials=azure_creds(fake_llm, base_model_name="tts-1-hd"),
        text="From Azure.",
        voice="onyx",
    )
    assert spoken(await stream.collect()) == [("onyx", "From Azure.")]
    sent = fake_llm.requests[-1]
    assert sent.path == "/openai/deployments/tts-prod/audio/speech"
    assert sent.headers["api-key"] == "azure-test-key-0123456"
    assert stream.usage.unit_price == Decimal("0.03")  # priced as tts-1-hd, the model it deploys


async def test_voices_for_the_console(model_runtime: ModelRuntime) -> None:
    voices = model_runtime.tts_voices(provider="openai", model="tts-1", language="en-US")
    assert [v["value"] for v in voices] == ["alloy", "echo", "fable", "onyx", "nova", "shimmer"]
    assert model_runtime.tts_voices(provider="openai", model="tts-1", language="ja-JP") == []


# --- failures --------------------------------------------------------------------------------------------


async def test_an_auth_failure_raises_from_the_call_and_is_not_retried(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(401, "Incorrect API key provided"))
    with pytest.raises(AuthenticationError):
        await speak(model_runtime, fake_llm, "Hi.")
    assert len(fake_llm.requests) == 1


async def test_a_rate_limit_before_the_first_bytes_is_retried(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(429, "slow down", headers={"retry-after": "0"}))
    stream = await speak(model_runtime, fake_llm, "Hi.")
    assert spoken(await stream.collect()) == [("alloy", "Hi.")]
    assert len(fake_llm.requests) == 2


async def test_a_later_piece_is_retried_before_its_own_first_bytes(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given the second piece's first request fails with a server error
    fake_llm.push(Reply(route="speech"), Reply.error(500, "hiccup", route="speech"))
    stream = await model_runtime.invoke_tts(
        provider="openai_api_compatible",
        model="kokoro",
        credentials=openai_compatible(fake_llm, word_limit="60"),
        text=" ".join(SENTENCES[:4]),
    )
    audio = await stream.collect()
    # then it was asked again and the audio is whole and in order, with nothing spoken twice
    texts = [t for _, t in spoken(audio)]
    assert " ".join(texts) == " ".join(SENTENCES[:4])
    assert len(fake_llm.requests) == stream.pieces + 1


async def test_a_later_piece_refused_raises_from_iteration_after_the_audio_before_it(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(route="speech"), Reply.error(400, "Invalid voice", route="speech"))
    stream = await model_runtime.invoke_tts(
        provider="openai_api_compatible",
        model="kokoro",
        credentials=openai_compatible(fake_llm, word_limit="60"),
        text=" ".join(SENTENCES[:4]),
    )
    received = b""
    with pytest.raises(BadRequestError, match="Invalid voice"):
        async for chunk in stream:
            received += chunk
    assert [t for _, t in spoken(received)] == [fake_llm.requests[0].json["input"]]


async def test_a_drop_mid_piece_raises_and_is_not_retried(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    from providers.runtime import InvokeConnectionError

    fake_llm.push(Reply(chunks=6, drop_after=2, route="speech"))
    stream = await speak(model_runtime, fake_llm, "One piece only.")
    with pytest.raises(InvokeConnectionError):
        await stream.collect()
    assert len(fake_llm.requests) == 1


async def test_a_drop_before_the_first_bytes_is_retried(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(drop_after=0, route="speech"))
    stream = await speak(model_runtime, fake_llm, "Try again.")
    assert spoken(await stream.collect()) == [("alloy", "Try again.")]
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.html(200), "HTML page"),
        (Reply(body={"error": {"message": "quota"}}, content_type="application/json"), "application/json"),
        (Reply(audio=b""), "no audio"),
    ],
    ids=["html", "json", "empty"],
)
async def test_an_answer_that_is_not_audio_is_an_invalid_response(
    reply: Reply, message: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(reply)
    with pytest.raises(InvalidResponseError, match=message):
        await speak(model_runtime, fake_llm, "Hi.")
    assert len(fake_llm.requests) == 1


async def test_input_refused_as_too_long_is_a_bad_request(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(400, "Input is too long: at most 4096 characters."))
    with pytest.raises(BadRequestError) as excinfo:
        await speak(model_runtime, fake_llm, "Hi.")
    assert type(excinfo.value) is BadRequestError


async def test_credentials_are_validated_with_a_short_text_reading_only_the_first_bytes(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(chunks=20, chunk_delay=0.2, route="speech"))
    await asyncio.wait_for(
        model_runtime.validate_credentials(
            provider="openai", credentials=openai_creds(fake_llm), model="tts-1", model_type="tts"
        ),
        timeout=2,  # far less than the 4 s the whole answer takes
    )
    sent = fake_llm.requests[-1]
    assert sent.json["input"] == "Hello Dify!"
    assert sent.json["voice"] == "alloy"
    fake_llm.api_keys = {"another-key"}
    with pytest.raises(CredentialsValidationError, match="Incorrect model credentials"):
        await model_runtime.validate_credentials(
            provider="openai", credentials=openai_creds(fake_llm), model="tts-1-hd", model_type="tts"
        )


async def test_each_piece_goes_through_load_balancing(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    from providers.runtime import CredentialPool, PooledCredential

    # given a pool of two keys, the first one revoked
    keys = ["sk-tts-pool-aaaaaaaa", "sk-tts-pool-bbbbbbbb"]
    fake_llm.api_keys = {keys[1]}
    pool = CredentialPool(
        key="tenant-1:openai_api_compatible:tts:kokoro",
        members=tuple(
            PooledCredential(f"cfg-{i}", openai_compatible(fake_llm, api_key=key, word_limit="60"))
            for i, key in enumerate(keys)
        ),
    )
    # when a text of several pieces is spoken
    stream = await model_runtime.invoke_tts(
        provider="openai_api_compatible", model="kokoro", credentials=pool, text=" ".join(SENTENCES[:6])
    )
    audio = await stream.collect()
    # then the revoked key was tried once, cooled down, and every piece was spoken with the other one
    used = [r.headers["authorization"].removeprefix("Bearer ") for r in fake_llm.requests]
    assert used[0] == keys[0]
    assert used[1:] == [keys[1]] * stream.pieces
    assert " ".join(t for _, t in spoken(audio)) == " ".join(SENTENCES[:6])
