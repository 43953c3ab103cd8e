"""Speech-to-text and text-to-speech through the Service API, against the loopback model server."""

from __future__ import annotations

import httpx
import pytest

from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.support.fake_audio import spoken

SPEECH_CONFIG = {
    "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
    "pre_prompt": "",
    "user_input_form": [],
    "speech_to_text": {"enabled": True},
    "text_to_speech": {"enabled": True, "voice": "nova", "language": "en-US"},
}


@pytest.fixture
def client(live_asgi, fake_llm):
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))

    def make(config: dict) -> httpx.Client:
        app = factories.app_factory(tenant=tenant, mode="chat", config=config)
        key = factories.api_key_factory(app=app)
        return httpx.Client(
            base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
        )

    return make


def test_audio_to_text(client, fake_llm):
    http = client(SPEECH_CONFIG)
    response = http.post(
        "/audio-to-text", files={"file": ("hello.txt.mp3", b"hello world", "audio/mpeg")}, data={"user": "u"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"]
    upload = fake_llm.requests_on("transcriptions")[-1]
    assert upload.files and upload.form.get("model") == "whisper-1"


def test_audio_to_text_errors(client):
    http = client(SPEECH_CONFIG)
    none = http.post("/audio-to-text", data={"user": "u"})
    assert none.status_code == 400 and none.json()["code"] == "no_audio_uploaded"
    wrong = http.post(
        "/audio-to-text", files={"file": ("notes.pdf", b"%PDF", "application/pdf")}, data={"user": "u"}
    )
    assert wrong.status_code == 415 and wrong.json()["code"] == "unsupported_audio_type"
    off = client({**SPEECH_CONFIG, "speech_to_text": {"enabled": False}})
    disabled = off.post("/audio-to-text", files={"file": ("a.mp3", b"x", "audio/mpeg")}, data={"user": "u"})
    assert disabled.status_code == 400 and disabled.json()["code"] == "speech_to_text_disabled"


def test_text_to_audio_streams_speech(client):
    http = client(SPEECH_CONFIG)
    response = http.post("/text-to-audio", json={"text": "Good morning. Have a nice day.", "user": "u"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("audio/")
    pieces = spoken(response.content)
    assert "".join(text for _, text in pieces).replace(" ", "") == "Goodmorning.Haveaniceday."
    assert {voice for voice, _ in pieces} == {"nova"}  # the app's configured voice
    off = client({**SPEECH_CONFIG, "text_to_speech": {"enabled": False}})
    assert off.post("/text-to-audio", json={"text": "hi", "user": "u"}).status_code == 400
    assert http.post("/text-to-audio", json={"text": "", "user": "u"}).status_code == 400
