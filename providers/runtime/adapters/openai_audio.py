"""Speech to text, text to speech and moderation over OpenAI's API, through the official `openai` SDK: for
OpenAI, any OpenAI-compatible server and Azure OpenAI (whose SDK client puts the deployment in the path).

    POST /audio/transcriptions  multipart: file, model, language, prompt, response_format=json -> {"text"}
    POST /audio/speech          JSON {model, input, voice, response_format} -> audio bytes, streamed
    POST /moderations           JSON {model, input: [texts]} -> {"results": [{flagged, categories, ...}]}

A mixin: the adapter classes in `openai_chat` provide the client, the model name sent on the wire and the
error mapping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from providers.runtime.adapters.base import AudioChunks, ModerationVerdict, Transcript, expect
from providers.runtime.adapters.errors import describe_body, looks_like_html, map_exception
from providers.runtime.adapters.http_json import httpx_timeout
from providers.runtime.errors import BadRequestError, ContextTooLongError, InvalidResponseError, InvokeError
from providers.runtime.http import Timeouts
from providers.runtime.results import TokenCounts
from providers.runtime.schema import ModelSchema

if TYPE_CHECKING:
    import openai


def _not_audio(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or any(word in kind for word in ("json", "xml", "html"))


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if hasattr(value, "to_dict"):  # an SDK model: keep the API's names (`self-harm`, `hate/threatening`)
        return dict(value.to_dict(use_api_names=True))
    return dict(value) if isinstance(value, Mapping) else {}


def _transcript_usage(usage: Any) -> tuple[float | None, TokenCounts | None]:
    """OpenAI reports `{"type": "duration", "seconds"}` for whisper-1, `{"type": "tokens", ...}` for the
    gpt-4o transcribe models."""
    seconds = getattr(usage, "seconds", None)
    if isinstance(seconds, int | float):
        return float(seconds), None
    prompt = getattr(usage, "input_tokens", None)
    completion = getattr(usage, "output_tokens", None)
    if isinstance(prompt, int) or isinstance(completion, int):
        return None, TokenCounts(prompt_tokens=int(prompt or 0), completion_tokens=int(completion or 0))
    return None, None


class OpenAIAudioMixin:
    """Audio and moderation for the OpenAI-family adapters."""

    if TYPE_CHECKING:
        provider: str

        def client(self, credentials: Mapping[str, Any]) -> openai.AsyncOpenAI: ...

        def wire_model(self, model: str, credentials: Mapping[str, Any]) -> str: ...

    def _media_error(self, exc: BaseException) -> BaseException:
        """The runtime error for a failed audio or moderation call. There is no context window here: a
        size refusal (413, "input is too long") is a bad request, not ContextTooLongError."""
        error = map_exception(exc, provider=self.provider) or exc
        if isinstance(error, ContextTooLongError):
            detail = error.message.partition("): ")[2] or error.message
            return BadRequestError(
                f"The provider refused the request as too large (HTTP {error.status_code}): {detail}",
                provider=self.provider,
                status_code=error.status_code,
            )
        return error

    # --- speech to text ----------------------------------------------------------------------------------

    async def invoke_speech2text(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        file: bytes,
        filename: str,
        mime_type: str | None,
        language: str | None,
        prompt: str | None,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> Transcript:
        # A custom model's form may fix the language and an initial prompt (Dify's compatible provider).
        options: dict[str, Any] = {}
        language = language or str(credentials.get("language") or "").strip() or None
        prompt = prompt or str(credentials.get("initial_prompt") or "").strip() or None
        if language:
            options["language"] = language
        if prompt:
            options["prompt"] = prompt
        try:
            response = await self.client(credentials).audio.transcriptions.create(
                model=self.wire_model(model, credentials),
                file=(filename, file, mime_type or "application/octet-stream"),
                response_format="json",
                timeout=httpx_timeout(timeouts),
                **options,
            )
        except Exception as exc:
            raise self._media_error(exc) from exc
        if isinstance(response, str):
            # The SDK hands back the body as text when it is not JSON. A server that ignores
            # response_format and answers plain text is fine; an HTML page is a wrong base URL.
            if looks_like_html(response) or not response.strip():
                what = "an HTML page" if response.strip() else "an empty body"
                raise InvalidResponseError(
                    f"The server answered with {what} instead of a transcription; check the base URL.",
                    provider=self.provider,
                )
            return Transcript(text=response.strip())
        text = getattr(response, "text", None)
        expect(isinstance(text, str), "no `text` in the transcription", self.provider)
        duration, tokens = _transcript_usage(getattr(response, "usage", None))
        return Transcript(
            text=text.strip(),
            language=getattr(response, "language", None),
            duration=duration if duration is not None else getattr(response, "duration", None),
            tokens=tokens,
        )

    # --- text to speech ----------------------------------------------------------------------------------

    async def invoke_tts(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        text: str,
        voice: str,
        audio_format: str,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> AudioChunks:
        manager = self.client(credentials).audio.speech.with_streaming_response.create(
            model=self.wire_model(model, credentials),
            input=text,
            voice=voice,
            response_format=audio_format,  # type: ignore[arg-type]
            timeout=httpx_timeout(timeouts),
        )
        try:
            response = await manager.__aenter__()  # sends the request; raises on an error status
        except Exception as exc:
            raise self._media_error(exc) from exc
        content_type = response.headers.get("content-type", "")
        if _not_audio(content_type):
            try:
                body = (await response.http_response.aread())[:2000].decode("utf-8", "replace")
            except Exception:
                body = ""
            finally:
                await response.close()
            if looks_like_html(body):
                what = "an HTML page"
            else:
                message, _, _ = describe_body(body)
                what = f"{content_type.split(';')[0]} ({message[:120]!r})"
            raise InvalidResponseError(
                f"The server answered with {what} instead of audio; check the base URL.",
                provider=self.provider,
            )
        return AudioChunks(self._audio_bytes(response), response.close, content_type or None)

    async def _audio_bytes(self, response: Any) -> AsyncIterator[bytes]:
        try:
            async for data in response.iter_bytes():
                if data:
                    yield data
        except InvokeError:
            raise
        except Exception as exc:
            raise self._media_error(exc) from exc

    # --- moderation --------------------------------------------------------------------------------------

    async def invoke_moderation(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        texts: Sequence[str],
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> list[ModerationVerdict]:
        try:
            response = await self.client(credentials).moderations.create(
                model=self.wire_model(model, credentials),
                input=list(texts),
                timeout=httpx_timeout(timeouts),
            )
        except Exception as exc:
            raise self._media_error(exc) from exc
        if isinstance(response, str):
            what = "an HTML page" if looks_like_html(response) else f"non-JSON text ({response[:80]!r})"
            raise InvalidResponseError(
                f"The server answered with {what} instead of a moderation result.", provider=self.provider
            )
        results = getattr(response, "results", None)
        expect(
            isinstance(results, list) and len(results) == len(texts),
            "the moderation results do not match the inputs",
            self.provider,
        )
        verdicts = []
        for result in results:
            flagged = getattr(result, "flagged", None)
            expect(isinstance(flagged, bool), "a moderation result has no `flagged`", self.provider)
            categories = _as_dict(getattr(result, "categories", None))
            scores = _as_dict(getattr(result, "category_scores", None))
            verdicts.append(
                ModerationVerdict(
                    flagged=flagged,
                    categories={k: bool(v) for k, v in categories.items() if v is not None},
                    category_scores={k: float(v) for k, v in scores.items() if isinstance(v, int | float)},
                )
            )
        return verdicts
