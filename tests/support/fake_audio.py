"""What the fake server answers on OpenAI's audio and moderation routes, kept out of `fake_llm` itself.

- `POST /v1/audio/transcriptions`: a multipart upload (`file`, `model`, `language`, `prompt`,
  `response_format`) answered with `{"text": ...}`. The text is derived from the upload so tests can
  check the bytes arrived: an upload that is UTF-8 text is "transcribed" to that text (send b"hello" as
  the audio); anything else to a line naming the file, its size and a digest of its bytes.
- `POST /v1/audio/speech`: JSON in, fake audio bytes streamed out. The audio is deterministic: a marker
  of the format, then `[voice]input text[/]`, then filler that grows with the text. `spoken()` reads the
  texts back out of a (possibly concatenated) answer, so a test can check what was said and in which order.
- `POST /v1/moderations`: each input is flagged when it contains one of the server's configured words
  (case-insensitive substring), in the category the word is mapped to.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# OpenAI's `response_format` values for speech, with the content type it answers each with.
AUDIO_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_MARKERS = {"mp3": b"ID3", "opus": b"OggS", "aac": b"ADTS", "flac": b"fLaC", "wav": b"RIFF", "pcm": b"PCM"}
_SPOKEN = re.compile(rb"\[([\w-]+)\](.*?)\[/\]", re.DOTALL)

MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
DEFAULT_MODERATION_WORDS: Mapping[str, str] = {"kill": "violence", "bomb": "illicit/violent"}


# --- multipart uploads ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes


def _header_param(header: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}="([^"]*)"', header) or re.search(
        rf"(?:^|;)\s*{name}=([^;\s]+)", header
    )
    return match.group(1) if match else None


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """(form fields, files) of a `multipart/form-data` body. Not a general parser: enough for what HTTP
    clients send (CRLF line ends, one part per field)."""
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise ValueError(f"no boundary in {content_type!r}")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name") or ""
        filename = _header_param(disposition, "filename")
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            files[name] = UploadedFile(name, filename, headers.get("content-type"), data)
    return fields, files


# --- transcriptions ------------------------------------------------------------------------------------------


def transcribe(upload: UploadedFile) -> str:
    try:
        text = upload.data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text.strip() and text.isprintable():
        return text.strip()
    digest = hashlib.sha256(upload.data).hexdigest()[:16]
    return f"{len(upload.data)} bytes of audio from {upload.filename} (sha256 {digest})"


def audio_seconds(data: bytes) -> float:
    """A stand-in duration: the bytes as 16 kHz 16-bit mono."""
    return round(len(data) / 32000, 3)


# --- speech --------------------------------------------------------------------------------------------------


def fake_audio(text: str, voice: str, audio_format: str) -> bytes:
    """Deterministic "audio": format marker, `[voice]text[/]`, then hex filler (8 bytes a character, so a
    longer text makes a longer answer; hex never contains the brackets `spoken()` looks for)."""
    head = _MARKERS.get(audio_format, b"") + f"[{voice}]{text}[/]".encode()
    seed = hashlib.sha256(f"{voice}:{audio_format}:{text}".encode()).hexdigest().encode()
    size = 8 * len(text)
    return head + (seed * (size // len(seed) + 1))[:size]


def spoken(audio: bytes) -> list[tuple[str, str]]:
    """(voice, text) of each piece of fake audio in `audio`, in order."""
    return [(v.decode(), t.decode()) for v, t in _SPOKEN.findall(audio)]


def split_bytes(data: bytes, pieces: int | None, size: int = 1024) -> list[bytes]:
    """`pieces` even parts, or parts of `size` bytes."""
    if not data:
        return []
    if pieces:
        size = max(1, -(-len(data) // pieces))
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- moderation ----------------------------------------------------------------------------------------------


def moderation_result(text: str, words: Mapping[str, str]) -> dict[str, Any]:
    lowered = text.lower()
    hits = {category for word, category in words.items() if word.lower() in lowered}
    return {
        "flagged": bool(hits),
        "categories": {c: c in hits for c in MODERATION_CATEGORIES},
        "category_scores": {c: 0.98 if c in hits else 0.0001 for c in MODERATION_CATEGORIES},
        "category_applied_input_types": {c: ["text"] if c in hits else [] for c in MODERATION_CATEGORIES},
    }


def moderation_inputs(value: Any) -> list[str]:
    """OpenAI's `input`: a string, a list of strings, or multi-modal parts (only the text ones count)."""
    if isinstance(value, str):
        return [value]
    items: Iterable[Any] = value if isinstance(value, Sequence) else []
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, Mapping) and item.get("type") == "text":
            texts.append(str(item.get("text", "")))
    return texts
