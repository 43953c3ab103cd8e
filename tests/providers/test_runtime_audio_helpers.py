"""Speech helpers and the catalogue's speech and moderation models, in Dify's shapes."""

from __future__ import annotations

import io
import wave

import pytest

from providers.runtime import ParameterError, UnknownModelError, default_catalogue
from providers.runtime.audio import (
    audio_format_for,
    check_upload,
    prefetch_depth,
    resolve_voice,
    silent_wav,
    split_for_speech,
    upload_filename,
    voices_for,
    word_limit,
)

DIFY_VOICES = ["alloy", "echo", "fable", "onyx", "nova", "shimmer"]


def test_short_text_is_one_piece() -> None:
    assert split_for_speech("  Hello there. How are you?  ", 120) == ["Hello there. How are you?"]


def test_long_text_is_cut_at_sentence_ends_packing_sentences_under_the_limit() -> None:
    text = "One two three. Four five six! Seven eight nine? Ten eleven."
    pieces = split_for_speech(text, 30)
    assert pieces == ["One two three. Four five six!", "Seven eight nine? Ten eleven."]
    assert all(len(p) <= 30 for p in pieces)


def test_decimal_points_are_not_sentence_ends() -> None:
    assert split_for_speech("Pi is 3.14159 roughly. Next.", 22) == ["Pi is 3.14159 roughly.", "Next."]


def test_cjk_punctuation_and_line_breaks_end_sentences() -> None:
    # full-width punctuation is the point here
    text = "你好。今天天气很好！\n第二行"  # noqa: RUF001
    assert split_for_speech(text, 7) == ["你好。", "今天天气很好！", "第二行"]  # noqa: RUF001


def test_a_sentence_longer_than_the_limit_is_cut_at_clauses_then_words_then_mid_word() -> None:
    pieces = split_for_speech("alpha beta, gamma delta epsilon, zeta", 12)
    assert all(len(p) <= 12 for p in pieces)
    assert " ".join(pieces).replace("  ", " ") == "alpha beta, gamma delta epsilon, zeta"
    assert split_for_speech("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_blank_text_gives_no_pieces() -> None:
    assert split_for_speech(" \n\t ", 10) == []


def test_dify_voice_lists_filter_by_language() -> None:
    schema = default_catalogue().model_schema("openai", "tts", "tts-1")
    assert [v["value"] for v in voices_for(schema)] == DIFY_VOICES
    assert voices_for(schema)[0] == {"name": "Alloy", "value": "alloy"}
    assert [v["value"] for v in voices_for(schema, "en-US")] == DIFY_VOICES
    assert voices_for(schema, "ja-JP") == []


def test_an_undeclared_voice_falls_back_to_the_default_as_in_dify() -> None:
    schema = default_catalogue().model_schema("openai", "tts", "tts-1-hd")
    assert resolve_voice(schema, "nova") == "nova"
    assert resolve_voice(schema, "not-a-voice") == "alloy"
    assert resolve_voice(schema, None) == "alloy"


def test_speech_model_properties_come_from_the_catalogue() -> None:
    catalogue = default_catalogue()
    tts = catalogue.model_schema("openai", "tts", "tts-1")
    assert (word_limit(tts), prefetch_depth(tts), audio_format_for(tts, None)) == (120, 2, "mp3")
    assert tts.pricing is not None
    assert (str(tts.pricing.input), str(tts.pricing.unit)) == ("0.015", "0.001")
    whisper = catalogue.model_schema("openai", "speech2text", "whisper-1")
    assert whisper.model_properties["file_upload_limit"] == 25
    moderation = catalogue.model_schema("openai", "moderation", "omni-moderation-latest")
    assert moderation.model_properties == {"max_chunks": 32, "max_characters_per_chunk": 2000}
    assert catalogue.model_schema("openai", "moderation", "text-moderation-stable").pricing is None
    with pytest.raises(ParameterError, match="audio_format"):
        audio_format_for(tts, "ogg")


def test_provider_schema_lists_the_new_model_types_in_difys_shape() -> None:
    data = default_catalogue().provider("openai").to_dict()
    assert data["supported_model_types"] == ["llm", "text-embedding", "speech2text", "tts", "moderation"]
    tts = next(m for m in data["models"] if m["model"] == "tts-1")
    assert tts["model_type"] == "tts"
    assert tts["model_properties"]["default_voice"] == "alloy"
    assert tts["model_properties"]["voices"][1] == {
        "mode": "echo",
        "name": "Echo",
        "language": ["zh-Hans", "en-US", "de-DE", "fr-FR", "es-ES", "it-IT", "th-TH", "id-ID"],
    }
    compatible = default_catalogue().provider("openai_api_compatible").to_dict()
    assert {"speech2text", "tts"} <= set(compatible["supported_model_types"])
    forms = compatible["model_credential_schema"]["credential_form_schemas"]
    voices = next(f for f in forms if f["variable"] == "voices")
    assert voices["show_on"] == [{"variable": "__model_type", "value": "tts"}]


def test_custom_tts_models_take_their_voices_and_limits_from_the_credentials() -> None:
    schema = default_catalogue().model_schema(
        "openai_api_compatible",
        "tts",
        "kokoro",
        {"voices": "af_bella, am_adam", "word_limit": "500", "audio_type": "wav"},
    )
    assert schema.fetch_from == "customizable-model"
    assert [v["value"] for v in voices_for(schema)] == ["af_bella", "am_adam"]
    assert resolve_voice(schema, None) == "af_bella"
    assert (word_limit(schema), audio_format_for(schema, None), prefetch_depth(schema)) == (500, "wav", 0)
    plain = default_catalogue().model_schema("openai_api_compatible", "tts", "piper", {})
    assert [v["value"] for v in voices_for(plain)] == ["alloy"]
    assert word_limit(plain) == 4096


def test_azure_speech_deployments_borrow_the_openai_models_schema() -> None:
    schema = default_catalogue().model_schema(
        "azure_openai", "tts", "voice-prod", {"base_model_name": "tts-1-hd"}
    )
    assert schema.model == "voice-prod"
    assert [v["value"] for v in voices_for(schema)] == DIFY_VOICES
    assert schema.pricing == default_catalogue().model_schema("openai", "tts", "tts-1-hd").pricing


def test_moderation_is_not_offered_where_dify_does_not_offer_it() -> None:
    with pytest.raises(UnknownModelError):
        default_catalogue().model_schema("azure_openai", "moderation", "mod", {})
    with pytest.raises(UnknownModelError):
        default_catalogue().model_schema("openai_api_compatible", "moderation", "mod", {})


@pytest.mark.parametrize(
    ("filename", "mime_type", "expected"),
    [
        ("speech.mp3", None, "speech.mp3"),
        ("blob", "audio/webm;codecs=opus", "blob.webm"),
        ("recording", "audio/x-m4a", "recording.m4a"),
        ("", "audio/wav", "audio.wav"),
        ("dir/voice", "application/x-unknown", "voice"),
    ],
)
def test_the_upload_name_carries_the_format(filename: str, mime_type: str | None, expected: str) -> None:
    assert upload_filename(filename, mime_type) == expected


def test_uploads_the_model_cannot_take_are_refused_naming_the_file() -> None:
    whisper = default_catalogue().model_schema("openai", "speech2text", "whisper-1")
    check_upload(whisper, b"abc", "a.m4a")
    with pytest.raises(ParameterError, match="is empty") as excinfo:
        check_upload(whisper, b"", "a.mp3")
    assert excinfo.value.parameter == "file"
    with pytest.raises(ParameterError, match="up to 25 MB"):
        check_upload(whisper, b"\x00" * (25 * 1024 * 1024 + 1), "a.mp3")
    with pytest.raises(ParameterError, match=r"\.amr is not supported by whisper-1"):
        check_upload(whisper, b"abc", "a.amr")
    custom = default_catalogue().model_schema("openai_api_compatible", "speech2text", "whisper-large", {})
    check_upload(custom, b"abc", "a.amr")  # a custom model declares no limits: the server decides


def test_the_validation_audio_is_a_valid_wav_file() -> None:
    with wave.open(io.BytesIO(silent_wav()), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 16000)
        assert audio.getnframes() == 8000
