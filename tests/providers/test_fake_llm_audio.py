"""The fake server's audio and moderation routes, spoken to with a plain HTTP client (no SDK, no runtime)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from tests.support.fake_audio import fake_audio, spoken
from tests.support.fake_llm import FakeLLMServer, Reply


@pytest.fixture
async def http(fake_llm: FakeLLMServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=fake_llm.url, timeout=5) as client:
        yield client


async def test_transcription_parses_the_multipart_upload(
    fake_llm: FakeLLMServer, http: httpx2.AsyncClient
) -> None:
    audio = b"\x00\x01binary\r\n--not-the-boundary\r\n\xff" * 100
    response = await http.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "language": "en"},
        files={"file": ("clip.wav", audio, "audio/wav")},
    )
    assert response.status_code == 200
    assert response.json()["text"].startswith(f"{len(audio)} bytes of audio from clip.wav")
    assert response.json()["usage"]["type"] == "duration"
    record = fake_llm.requests[-1]
    assert record.route == "openai.transcriptions"
    assert record.form == {"model": "whisper-1", "language": "en"}
    assert (record.files["file"].filename, record.files["file"].data) == ("clip.wav", audio)


@pytest.mark.parametrize(
    ("response_format", "check"),
    [
        ("text", lambda r: r.text == "hello world" and r.headers["content-type"].startswith("text/plain")),
        ("verbose_json", lambda r: r.json()["language"] == "english" and "duration" in r.json()),
    ],
)
async def test_transcription_answers_in_the_format_asked(
    response_format: str, check: object, http: httpx2.AsyncClient
) -> None:
    response = await http.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "response_format": response_format},
        files={"file": ("a.mp3", b"hello world", "audio/mpeg")},
    )
    assert check(response)  # type: ignore[operator]


async def test_transcription_without_a_file_or_not_multipart_is_a_400(http: httpx2.AsyncClient) -> None:
    no_file = await http.post(
        "/v1/audio/transcriptions", data={"model": "whisper-1"}, files={"x": ("a", b"1")}
    )
    assert no_file.status_code == 400
    not_multipart = await http.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
    assert not_multipart.status_code == 400
    assert not_multipart.json()["error"]["type"] == "invalid_request_error"


async def test_speech_streams_deterministic_audio_in_the_scripted_number_of_pieces(
    fake_llm: FakeLLMServer, http: httpx2.AsyncClient
) -> None:
    fake_llm.push(Reply(chunks=5, route="speech"))
    body = {"model": "tts-1", "input": "Hello.", "voice": "echo", "response_format": "flac"}
    async with http.stream("POST", "/v1/audio/speech", json=body) as response:
        assert response.headers["content-type"] == "audio/flac"
        audio = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert audio == fake_audio("Hello.", "echo", "flac")
    assert spoken(audio) == [("echo", "Hello.")]
    assert fake_llm.requests[-1].chunks_sent == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "tts-1", "voice": "alloy"}, "'input' is required"),
        ({"model": "tts-1", "input": "x" * 4097, "voice": "alloy"}, "too long"),
        ({"model": "tts-1", "input": "hi"}, "'voice' is required"),
        ({"model": "tts-1", "input": "hi", "voice": "alloy", "response_format": "ogg"}, "response_format"),
    ],
)
async def test_speech_refuses_what_openai_refuses(body: dict, message: str, http: httpx2.AsyncClient) -> None:
    response = await http.post("/v1/audio/speech", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


async def test_speech_can_be_scripted_with_raw_audio_and_a_drop(
    fake_llm: FakeLLMServer, http: httpx2.AsyncClient
) -> None:
    fake_llm.push(Reply(audio=b"A" * 4096, chunks=4, drop_after=2, route="speech"))
    received = b""
    with pytest.raises(httpx2.RemoteProtocolError):
        async with http.stream(
            "POST", "/v1/audio/speech", json={"model": "tts-1", "input": "hi", "voice": "alloy"}
        ) as response:
            async for chunk in response.aiter_bytes():
                received += chunk
    assert received == b"A" * 2048


async def test_moderation_flags_the_configured_words_per_input(
    fake_llm: FakeLLMServer, http: httpx2.AsyncClient
) -> None:
    fake_llm.moderation_words = {"darn": "harassment"}
    response = await http.post("/v1/moderations", json={"model": "m", "input": ["fine", "oh DARN it"]})
    results = response.json()["results"]
    assert [r["flagged"] for r in results] == [False, True]
    assert results[1]["categories"]["harassment"] is True
    assert results[1]["category_applied_input_types"]["harassment"] == ["text"]
    fake_llm.reset()
    assert fake_llm.moderation_words == {"kill": "violence", "bomb": "illicit/violent"}


async def test_audio_routes_require_the_key_when_keys_are_set(
    fake_llm: FakeLLMServer, http: httpx2.AsyncClient
) -> None:
    fake_llm.api_keys = {"sk-right"}
    refused = await http.post(
        "/v1/moderations", json={"input": "x"}, headers={"authorization": "Bearer sk-wrong"}
    )
    assert refused.status_code == 401
    allowed = await http.post(
        "/v1/moderations", json={"input": "x"}, headers={"authorization": "Bearer sk-right"}
    )
    assert allowed.status_code == 200


async def test_azure_deployment_paths_are_audio_routes_too(
    fake_llm: FakeLLMServer, http: httpx2.AsyncClient
) -> None:
    response = await http.post(
        "/openai/deployments/tts/audio/speech?api-version=2024-10-21",
        json={"model": "tts-1", "input": "hi", "voice": "alloy"},
    )
    assert response.status_code == 200
    assert fake_llm.requests[-1].route == "azure.speech"
