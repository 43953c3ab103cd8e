"""`ModelRuntime`'s speech-to-text, text-to-speech and moderation calls (a mixin, to keep runtime.py short).

Same call policy as the LLM, embedding and rerank calls: the provider and model schema are resolved (a
custom model's from its credentials), inputs are checked against the model's declared limits before any
request, credentials are picked (round robin with cooldowns for a pool), failures are retried with
backoff until output has started, and error messages never carry a credential.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from providers.runtime.adapters.base import AudioChunks, ModerationVerdict, Transcript
from providers.runtime.audio import (
    audio_format_for,
    check_upload,
    prefetch_depth,
    resolve_voice,
    split_for_speech,
    upload_filename,
    voices_for,
    word_limit,
)
from providers.runtime.balancing import CredentialPool
from providers.runtime.errors import InvalidResponseError, ParameterError
from providers.runtime.http import Timeouts
from providers.runtime.pricing import PriceConfig
from providers.runtime.results import ModerationResult, Speech2TextResult
from providers.runtime.retry import RetryPolicy
from providers.runtime.schema import ModelSchema
from providers.runtime.tts_stream import TTSStream

if TYPE_CHECKING:
    from providers.runtime.adapters import ModelAdapter

T = TypeVar("T")
Credentials = Mapping[str, Any] | CredentialPool

# Dify's defaults for a moderation model that declares no limits.
_MODERATION_CHARS_PER_CHUNK = 2000
_MODERATION_CHUNKS_PER_CALL = 1


class MediaCalls:
    if TYPE_CHECKING:
        timeouts: Timeouts
        retry: RetryPolicy

        def adapter(self, provider_id: str) -> ModelAdapter: ...

        def model_schema(
            self, provider: str, model_type: str, model: str, credentials: Mapping[str, Any] | None = None
        ) -> ModelSchema: ...

        async def _call(
            self,
            provider: str,
            credentials: Credentials,
            retry: RetryPolicy,
            operation: Callable[[Mapping[str, Any]], Awaitable[T]],
        ) -> T: ...

        @staticmethod
        def _first_credentials(credentials: Credentials) -> Mapping[str, Any]: ...

    # --- speech to text ----------------------------------------------------------------------------------

    async def invoke_speech2text(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        file: bytes,
        filename: str,
        mime_type: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        model_schema: ModelSchema | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> Speech2TextResult:
        """Transcribe an audio file. `filename` carries the format (speech APIs go by the extension; one
        is added from `mime_type` when missing); `language` is an ISO-639-1 hint (`en`), `prompt` a text
        to guide the style. A file the model's declared limits rule out (size, extension) or an empty one
        raises ParameterError naming `file` before any call; else the runtime's invocation errors."""
        adapter = self.adapter(provider)
        schema = model_schema or self.model_schema(
            provider, "speech2text", model, self._first_credentials(credentials)
        )
        name = upload_filename(filename, mime_type)
        check_upload(schema, file, name)
        call_timeouts = timeouts or self.timeouts
        started = time.perf_counter()

        async def once(values: Mapping[str, Any]) -> Transcript:
            return await adapter.invoke_speech2text(
                model=model,
                credentials=values,
                file=file,
                filename=name,
                mime_type=mime_type,
                language=language,
                prompt=prompt,
                schema=schema,
                timeouts=call_timeouts,
            )

        transcript = await self._call(provider, credentials, retry or self.retry, once)
        return Speech2TextResult(
            model=model,
            text=transcript.text,
            language=transcript.language,
            duration=transcript.duration,
            tokens=transcript.tokens,
            latency=time.perf_counter() - started,
        )

    # --- text to speech ----------------------------------------------------------------------------------

    def tts_voices(
        self,
        *,
        provider: str,
        model: str,
        credentials: Mapping[str, Any] | None = None,
        language: str | None = None,
    ) -> list[dict[str, str]]:
        """The model's voices in Dify's shape (`[{"name": "Alloy", "value": "alloy"}]`), those suited to
        `language` (e.g. `en-US`) when given. A custom model's voices come from its credentials."""
        return voices_for(self.model_schema(provider, "tts", model, credentials), language)

    async def invoke_tts(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        text: str,
        voice: str | None = None,
        audio_format: str | None = None,
        pricing: PriceConfig | None = None,
        model_schema: ModelSchema | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> TTSStream:
        """Speak `text`; returns a `TTSStream` (async iterator of audio bytes) once the first bytes have
        arrived, so failures before that are retried and raised here.

        Long text is split at sentence ends into pieces within the model's `word_limit` (characters),
        spoken in order, the next ones requested ahead while one streams (`max_workers`). `voice` falls
        back to the model's default when the model does not declare it (as Dify does); `audio_format` is
        the model's `audio_type` (mp3) unless given (`mp3`, `opus`, `aac`, `flac`, `wav`, `pcm`). `pricing`
        overrides the catalogue's price (per character). Raises ParameterError for blank text or an unknown
        format, else the runtime's invocation errors; failures after output started raise from iteration.
        """
        adapter = self.adapter(provider)
        schema = model_schema or self.model_schema(
            provider, "tts", model, self._first_credentials(credentials)
        )
        chosen_voice = resolve_voice(schema, voice)
        chosen_format = audio_format_for(schema, audio_format)
        pieces = split_for_speech(text or "", word_limit(schema))
        if not pieces:
            raise ParameterError("text", "is empty: there is nothing to speak")
        call_timeouts = timeouts or self.timeouts
        policy = retry or self.retry

        async def open_piece(piece: str) -> tuple[AudioChunks, bytes]:
            async def once(values: Mapping[str, Any]) -> tuple[AudioChunks, bytes]:
                chunks = await adapter.invoke_tts(
                    model=model,
                    credentials=values,
                    text=piece,
                    voice=chosen_voice,
                    audio_format=chosen_format,
                    schema=schema,
                    timeouts=call_timeouts,
                )
                # Wait for the first bytes inside the retry policy: none of this piece was handed out yet.
                try:
                    first = await chunks.__anext__()
                except StopAsyncIteration:
                    await chunks.aclose()
                    raise InvalidResponseError(
                        "The provider answered with no audio.", provider=adapter.provider
                    ) from None
                except BaseException:
                    await chunks.aclose()
                    raise
                return chunks, first

            return await self._call(provider, credentials, policy, once)

        stream = TTSStream(
            pieces=pieces,
            open_piece=open_piece,
            lookahead=prefetch_depth(schema),
            model=model,
            voice=chosen_voice,
            audio_format=chosen_format,
            pricing=pricing if pricing is not None else schema.pricing,
            started=time.perf_counter(),
        )
        await stream.start()
        return stream

    # --- moderation --------------------------------------------------------------------------------------

    async def invoke_moderation(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        text: str,
        model_schema: ModelSchema | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> ModerationResult:
        """Whether `text` is flagged, with the categories (truthy when flagged). As Dify does, the text is
        cut into `max_characters_per_chunk` parts sent `max_chunks` at a time, stopping at the first
        flagged request. Blank text is not flagged and costs no call."""
        adapter = self.adapter(provider)
        schema = model_schema or self.model_schema(
            provider, "moderation", model, self._first_credentials(credentials)
        )
        properties = schema.model_properties
        size = max(1, int(properties.get("max_characters_per_chunk") or _MODERATION_CHARS_PER_CHUNK))
        per_call = max(1, int(properties.get("max_chunks") or _MODERATION_CHUNKS_PER_CALL))
        parts = [text[i : i + size] for i in range(0, len(text), size)] if text.strip() else []
        call_timeouts = timeouts or self.timeouts
        started = time.perf_counter()
        result = ModerationResult(model=model, flagged=False)
        for offset in range(0, len(parts), per_call):
            group = parts[offset : offset + per_call]

            async def once(values: Mapping[str, Any], group: list[str] = group) -> list[ModerationVerdict]:
                return await adapter.invoke_moderation(
                    model=model, credentials=values, texts=group, schema=schema, timeouts=call_timeouts
                )

            for verdict in await self._call(provider, credentials, retry or self.retry, once):
                result.flagged = result.flagged or verdict.flagged
                for name, hit in verdict.categories.items():
                    result.categories[name] = result.categories.get(name, False) or hit
                for name, score in verdict.category_scores.items():
                    result.category_scores[name] = max(score, result.category_scores.get(name, score))
            if result.flagged:
                break
        result.latency = time.perf_counter() - started
        return result
