"""Speech helpers shared by the runtime and the adapters: voices, splitting text for TTS, audio uploads.

The model properties are Dify's (`model_properties` of speech2text and tts models):

    tts:          default_voice, voices [{mode, name, language[]}], word_limit, audio_type, max_workers
    speech2text:  file_upload_limit (MB), supported_file_extensions ("mp3,mp4,...")
"""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterator
from typing import Any

from providers.runtime.errors import ParameterError
from providers.runtime.schema import ModelSchema

# What a credentials check says aloud (Dify validates TTS with the same words).
VALIDATION_TEXT = "Hello Dify!"

# OpenAI's speech `response_format`s (every provider here speaks OpenAI's API), and their content types.
AUDIO_MIME_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
DEFAULT_WORD_LIMIT = 4096  # OpenAI's cap on one speech request's input, in characters
_MIME_EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mpga": "mpga",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/amr": "amr",
    "video/mp4": "mp4",
    "video/mpeg": "mpeg",
}


# --- voices --------------------------------------------------------------------------------------------------


def _declared_voices(schema: ModelSchema) -> list[dict[str, Any]]:
    voices = schema.model_properties.get("voices") or []
    return [v for v in voices if isinstance(v, dict) and v.get("mode")]


def default_voice(schema: ModelSchema) -> str:
    declared = _declared_voices(schema)
    return str(schema.model_properties.get("default_voice") or (declared[0]["mode"] if declared else "alloy"))


def resolve_voice(schema: ModelSchema, voice: str | None) -> str:
    """The voice to speak with. As Dify does, a voice the model does not declare falls back to the
    model's default: an app keeps its stored voice when its TTS model changes, and must keep working."""
    declared = {str(v["mode"]) for v in _declared_voices(schema)}
    if voice and (not declared or voice in declared):
        return voice
    return default_voice(schema)


def voices_for(schema: ModelSchema, language: str | None = None) -> list[dict[str, str]]:
    """Dify's voice list (`[{name, value}]`), filtered by `language` (e.g. `en-US`) when given; a voice
    that lists no languages suits every language."""
    return [
        {"name": str(v.get("name") or v["mode"]), "value": str(v["mode"])}
        for v in _declared_voices(schema)
        if not language or not v.get("language") or language in v["language"]
    ]


def parse_voice_list(value: Any) -> list[dict[str, Any]]:
    """Voices typed into a custom TTS model's form, comma-separated (Dify's `voices` credential)."""
    names = [name.strip() for name in str(value or "").split(",") if name.strip()]
    return [{"mode": name, "name": name} for name in names or ["alloy"]]


# --- splitting text for TTS ----------------------------------------------------------------------------------

# A sentence ends at .!?; followed by a space or the end (not "3.14"), at CJK stops, or at a line break.
# The full-width and curly characters are meant (Chinese and Japanese punctuation, closing quotes).
_SENTENCE_END = re.compile(r"(?:[.!?;…]+[\"'”’)\]]*(?=\s|$)|[。！？；]+[”’」』）]*|\n)\s*")  # noqa: RUF001
_CLAUSE_END = re.compile(r"(?:[,，、:：]\s*|\s+)")  # noqa: RUF001


def _pieces(text: str, boundary: re.Pattern[str]) -> Iterator[str]:
    start = 0
    for match in boundary.finditer(text):
        if match.end() > start:
            yield text[start : match.end()]
            start = match.end()
    if start < len(text):
        yield text[start:]


def _pack(pieces: Iterator[str], limit: int) -> Iterator[str]:
    # Lengths without the spaces at the ends: pieces are stripped before they are sent.
    buffer = ""
    for piece in pieces:
        if buffer and len((buffer + piece).strip()) > limit:
            yield buffer
            buffer = ""
        buffer += piece
    if buffer:
        yield buffer


def split_for_speech(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at sentence ends (packing several short
    sentences into one piece), else at clause ends or spaces, and only as a last resort mid-word.

    Dify's `word_limit` counts characters, not words, and so does this. Pieces are stripped; blank ones
    are dropped (the APIs refuse empty input)."""
    limit = max(1, limit)
    pieces: list[str] = []
    for sentence in _pieces(text, _SENTENCE_END):
        if len(sentence.strip()) <= limit:
            pieces.append(sentence)
            continue
        for clause in _pieces(sentence, _CLAUSE_END):
            pieces.extend(clause[i : i + limit] for i in range(0, len(clause), limit))
    return [chunk.strip() for chunk in _pack(iter(pieces), limit) if chunk.strip()]


def word_limit(schema: ModelSchema) -> int:
    try:
        value = int(schema.model_properties.get("word_limit") or DEFAULT_WORD_LIMIT)
    except (TypeError, ValueError):
        value = DEFAULT_WORD_LIMIT
    return max(1, min(value, DEFAULT_WORD_LIMIT))


def prefetch_depth(schema: ModelSchema) -> int:
    """How many pieces to request ahead of the one being streamed. Dify's `max_workers` is the number of
    requests in flight; like Dify's streaming path we allow at most three, to stay clear of rate limits."""
    try:
        workers = int(schema.model_properties.get("max_workers") or 1)
    except (TypeError, ValueError):
        workers = 1
    return max(0, min(workers, 3) - 1)


def audio_format_for(schema: ModelSchema, audio_format: str | None) -> str:
    chosen = (audio_format or str(schema.model_properties.get("audio_type") or "mp3")).lower()
    if chosen not in AUDIO_MIME_TYPES:
        raise ParameterError("audio_format", f"must be one of {', '.join(AUDIO_MIME_TYPES)}, not {chosen!r}")
    return chosen


# --- audio uploads -------------------------------------------------------------------------------------------


def extension_of(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else ""


def upload_filename(filename: str, mime_type: str | None) -> str:
    """The name to upload under. Speech APIs tell the format by the file's extension, and browsers record
    to files named `blob` or `recording`: add the extension the MIME type implies when there is none."""
    name = (filename or "").strip().rsplit("/", 1)[-1] or "audio"
    if extension_of(name):
        return name
    extension = _MIME_EXTENSIONS.get((mime_type or "").split(";", 1)[0].strip().lower())
    return f"{name}.{extension}" if extension else name


def check_upload(schema: ModelSchema, file: bytes, filename: str) -> None:
    """Refuse, before any call, an audio file the model's declared limits rule out."""
    if not file:
        raise ParameterError("file", "is empty: no audio was uploaded")
    limit_mb = schema.model_properties.get("file_upload_limit")
    if limit_mb and len(file) > float(limit_mb) * 1024 * 1024:
        raise ParameterError(
            "file",
            f"is {len(file) / 1024 / 1024:.1f} MB; {schema.model} accepts audio files up to {limit_mb} MB",
        )
    supported = str(schema.model_properties.get("supported_file_extensions") or "")
    allowed = [e.strip().lower() for e in supported.split(",") if e.strip()]
    extension = extension_of(filename)
    if allowed and extension not in allowed:
        raise ParameterError(
            "file",
            f"type {('.' + extension) if extension else '(no extension)'} is not supported by "
            f"{schema.model}; use one of: {', '.join(allowed)}",
        )


def silent_wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    """A valid WAV file of silence (16-bit mono), for checking speech-to-text credentials."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(rate * seconds))
    return buffer.getvalue()
