"""Speech to text over OpenAI's `POST /audio/transcriptions` (multipart): OpenAI, compatible servers, Azure."""

from __future__ import annotations

import hashlib
import os

import pytest

from providers.runtime import (
    AuthenticationError,
    BadRequestError,
    CredentialsValidationError,
    InvalidResponseError,
    ModelRuntime,
    ParameterError,
    ServerError,
    UnknownModelError,
)
from providers.runtime.audio import silent_wav
from tests.providers.credentials import azure_creds, openai_compatible, openai_creds
from tests.support.fake_llm import FakeLLMServer, Reply


async def test_openai_transcribes_the_uploaded_file(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    # given an upload (text bytes, which the fake server "transcribes" to themselves)
    result = await model_runtime.invoke_speech2text(
        provider="langgenius/openai/openai",
        model="whisper-1",
        credentials=openai_creds(fake_llm),
        file=b"Turn the lights off, please.",
        filename="speech.mp3",
        mime_type="audio/mpeg",
        language="en",
        prompt="Home automation.",
    )
    # then the text comes back, with the duration the provider reports
    assert result.text == "Turn the lights off, please."
    assert result.model == "whisper-1"
    assert result.duration is not None
    assert result.latency > 0
    # and the request was OpenAI's multipart upload, with the key as a bearer token
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.headers["authorization"] == "Bearer sk-test-openai-key-0123"
    assert sent.form == {
        "model": "whisper-1",
        "language": "en",
        "prompt": "Home automation.",
        "response_format": "json",
    }
    upload = sent.files["file"]
    assert (upload.filename, upload.content_type, upload.data) == (
        "speech.mp3",
        "audio/mpeg",
        b"Turn the lights off, please.",
    )


async def test_binary_audio_arrives_byte_for_byte(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    audio = os.urandom(200_000) + b"\r\n--boundary-lookalike\r\n" + silent_wav()
    result = await model_runtime.invoke_speech2text(
        provider="openai",
        model="whisper-1",
        credentials=openai_creds(fake_llm),
        file=audio,
        filename="take.wav",
    )
    digest = hashlib.sha256(audio).hexdigest()[:16]
    assert result.text == f"{len(audio)} bytes of audio from take.wav (sha256 {digest})"
    assert fake_llm.requests[-1].files["file"].data == audio


async def test_a_browser_recording_without_extension_gets_one_from_its_mime_type(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.invoke_speech2text(
        provider="openai",
        model="whisper-1",
        credentials=openai_creds(fake_llm),
        file=b"hi",
        filename="blob",
        mime_type="audio/webm;codecs=opus",
    )
    assert fake_llm.requests[-1].files["file"].filename == "blob.webm"


@pytest.mark.parametrize(
    ("file", "filename", "message"),
    [
        (b"", "a.mp3", "is empty"),
        (b"x" * (25 * 1024 * 1024 + 1), "a.mp3", "up to 25 MB"),
        (b"x", "voice.amr", "not supported by whisper-1"),
    ],
)
async def test_files_the_model_rules_out_are_refused_before_any_call(
    file: bytes, filename: str, message: str, fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    with pytest.raises(ParameterError, match=message) as excinfo:
        await model_runtime.invoke_speech2text(
            provider="openai",
            model="whisper-1",
            credentials=openai_creds(fake_llm),
            file=file,
            filename=filename,
        )
    assert excinfo.value.to_dict()["code"] == "invalid_param"
    assert fake_llm.requests == []


async def test_a_compatible_server_gets_the_endpoint_model_name_and_the_forms_language_and_prompt(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="bonjour tout le monde"))
    result = await model_runtime.invoke_speech2text(
        provider="openai_api_compatible",
        model="Whisper large",
        credentials=openai_compatible(
            fake_llm,
            endpoint_model_name="Systran/faster-whisper-large-v3",
            language="fr",
            initial_prompt="Salut.",
        ),
        file=b"...",
        filename="a.wav",
    )
    assert result.text == "bonjour tout le monde"
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.form["model"] == "Systran/faster-whisper-large-v3"
    assert (sent.form["language"], sent.form["prompt"]) == ("fr", "Salut.")


async def test_the_call_s_language_wins_over_the_forms(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.invoke_speech2text(
        provider="openai_api_compatible",
        model="whisper",
        credentials=openai_compatible(fake_llm, language="fr"),
        file=b"x",
        filename="a.wav",
        language="de",
    )
    assert fake_llm.requests[-1].form["language"] == "de"


async def test_azure_posts_to_the_deployment(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    result = await model_runtime.invoke_speech2text(
        provider="azure_openai",
        model="whisper-prod",
        credentials=azure_creds(fake_llm, base_model_name="whisper-1"),
        file=b"from azure",
        filename="a.m4a",
    )
    assert result.text == "from azure"
    sent = fake_llm.requests[-1]
    assert sent.path == "/openai/deployments/whisper-prod/audio/transcriptions"
    assert sent.query == {"api-version": ["2024-10-21"]}
    assert sent.headers["api-key"] == "azure-test-key-0123456"


async def test_a_server_answering_plain_text_is_read_as_the_transcription(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(body="hello from a plain server\n", content_type="text/plain"))
    result = await model_runtime.invoke_speech2text(
        provider="openai_api_compatible",
        model="whisper",
        credentials=openai_compatible(fake_llm),
        file=b"x",
        filename="a.wav",
    )
    assert result.text == "hello from a plain server"


async def test_an_answer_without_text_is_an_invalid_response(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(body={"transcript": "wrong field"}, content_type="application/json"))
    with pytest.raises(InvalidResponseError, match="no `text`"):
        await model_runtime.invoke_speech2text(
            provider="openai",
            model="whisper-1",
            credentials=openai_creds(fake_llm),
            file=b"x",
            filename="a.wav",
        )


async def test_a_413_is_a_bad_request_about_size_not_a_context_window(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(413, "Maximum content size limit (26214400) exceeded."))
    with pytest.raises(BadRequestError, match="too large") as excinfo:
        await model_runtime.invoke_speech2text(
            provider="openai",
            model="whisper-1",
            credentials=openai_creds(fake_llm),
            file=b"x",
            filename="a.wav",
        )
    assert type(excinfo.value) is BadRequestError
    assert "context window" not in str(excinfo.value)


async def test_server_errors_are_retried_and_the_same_file_is_sent_again(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(503, "busy"))
    result = await model_runtime.invoke_speech2text(
        provider="openai",
        model="whisper-1",
        credentials=openai_creds(fake_llm),
        file=b"again",
        filename="a.wav",
    )
    assert result.text == "again"
    assert [r.files["file"].data for r in fake_llm.requests] == [b"again", b"again"]


async def test_speech2text_is_refused_by_providers_without_it(model_runtime: ModelRuntime) -> None:
    with pytest.raises(UnknownModelError):
        await model_runtime.invoke_speech2text(
            provider="anthropic",
            model="claude-3-5-haiku-20241022",
            credentials={"anthropic_api_key": "k"},
            file=b"x",
            filename="a.wav",
        )


async def test_credentials_are_validated_with_half_a_second_of_silence(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.validate_credentials(
        provider="openai", credentials=openai_creds(fake_llm), model="whisper-1", model_type="speech2text"
    )
    upload = fake_llm.requests[-1].files["file"]
    assert (upload.filename, upload.data) == ("ping.wav", silent_wav())
    # a custom model is validated the same way, with its own credentials
    await model_runtime.validate_credentials(
        provider="openai_api_compatible",
        credentials=openai_compatible(fake_llm),
        model="whisper-large",
        model_type="speech2text",
    )
    assert fake_llm.requests[-1].form["model"] == "whisper-large"


async def test_wrong_credentials_fail_validation_saying_why(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.api_keys = {"the-right-key"}
    with pytest.raises(CredentialsValidationError, match="Incorrect model credentials") as excinfo:
        await model_runtime.validate_credentials(
            provider="openai_api_compatible",
            credentials=openai_compatible(fake_llm),
            model="whisper-large",
            model_type="speech2text",
        )
    assert isinstance(excinfo.value.cause, AuthenticationError)
    assert "sk-test-compatible-key" not in str(excinfo.value)


async def test_persistent_server_errors_surface_after_the_retries(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(*[Reply.error(500, "down") for _ in range(3)])
    with pytest.raises(ServerError, match="HTTP 500"):
        await model_runtime.invoke_speech2text(
            provider="openai",
            model="whisper-1",
            credentials=openai_creds(fake_llm),
            file=b"x",
            filename="a.wav",
        )
    assert len(fake_llm.requests) == 3
