"""The interface every provider adapter implements, and the stream object adapters hand back.

An adapter speaks one provider protocol and nothing else: it converts our messages and tools into the
provider's request, sends it, and converts the answer back, mapping failures onto the runtime's errors.
Parameter validation, retries, load balancing, prices and token estimates are the `ModelRuntime`'s job,
so adapters stay small and are exercised directly by their tests.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from providers.runtime.audio import VALIDATION_TEXT, audio_format_for, default_voice, silent_wav
from providers.runtime.errors import InvalidResponseError, MissingCredentialError, UnsupportedOperationError
from providers.runtime.http import HttpPool, Timeouts
from providers.runtime.messages import PromptMessage, Tool, ToolCall
from providers.runtime.results import LLMResultChunk, LLMResultChunkDelta, RerankDocument, TokenCounts
from providers.runtime.schema import ModelSchema


@dataclass(slots=True)
class Completion:
    """A whole (non-streamed) answer as the provider gave it. `tokens` is None when it reported none."""

    message: PromptMessage
    finish_reason: str | None
    tokens: TokenCounts | None
    model: str | None = None
    system_fingerprint: str | None = None


@dataclass(slots=True)
class EmbeddingVectors:
    embeddings: list[list[float]]
    tokens: int | None


@dataclass(slots=True)
class Transcript:
    """A speech-to-text answer. `duration` (seconds of audio) and `tokens` when the provider reports them."""

    text: str
    language: str | None = None
    duration: float | None = None
    tokens: TokenCounts | None = None


@dataclass(slots=True)
class ModerationVerdict:
    """The provider's verdict on one input text."""

    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]


@dataclass(slots=True)
class StreamState:
    """What an adapter learns while streaming, read by the runtime once the stream ends."""

    finish_reason: str | None = None
    tokens: TokenCounts | None = None
    system_fingerprint: str | None = None
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class AdapterStream:
    """An adapter's stream of content chunks (text, complete tool calls); finish reason and token counts
    arrive in `state`. `aclose()` closes the upstream HTTP response even if iteration never started."""

    __slots__ = ("_closed", "_closer", "_iterator", "state")

    def __init__(
        self,
        iterator: AsyncIterator[LLMResultChunk],
        state: StreamState,
        closer: Callable[[], Awaitable[None]],
    ) -> None:
        self._iterator = iterator
        self.state = state
        self._closer = closer
        self._closed = False

    def __aiter__(self) -> AdapterStream:
        return self

    def __anext__(self) -> Awaitable[LLMResultChunk]:
        return self._iterator.__anext__()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            aclose = getattr(self._iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        except RuntimeError:
            # Closed from another task while a reader is inside the generator ("already running"):
            # closing the response below makes that reader fail, which ends the generator.
            pass
        finally:
            await self._closer()


class AudioChunks:
    """An adapter's audio answer to one request, as byte chunks in arrival order. `aclose()` closes the
    upstream HTTP response, whether or not iteration started."""

    __slots__ = ("_closed", "_closer", "_iterator", "content_type")

    def __init__(
        self,
        iterator: AsyncIterator[bytes],
        closer: Callable[[], Awaitable[None]],
        content_type: str | None = None,
    ) -> None:
        self._iterator = iterator
        self._closer = closer
        self._closed = False
        self.content_type = content_type

    def __aiter__(self) -> AudioChunks:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        return self._iterator.__anext__()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            aclose = getattr(self._iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        except RuntimeError:  # closed from another task while a reader is inside the generator
            pass
        finally:
            await self._closer()


def content_chunk(
    model: str,
    prompt_messages: list[PromptMessage],
    text: str | None = None,
    tool_calls: list[ToolCall] | None = None,
    index: int = 0,
) -> LLMResultChunk:
    return LLMResultChunk(
        model=model,
        prompt_messages=prompt_messages,
        delta=LLMResultChunkDelta(
            index=index,
            message=PromptMessage(role="assistant", content=text or "", tool_calls=tool_calls or []),
        ),
    )


def require(credentials: Mapping[str, Any], variable: str, provider: str) -> str:
    value = credentials.get(variable)
    if value is None or str(value).strip() == "":
        raise MissingCredentialError(variable, provider)
    return str(value).strip()


def expect(condition: Any, what: str, provider: str) -> None:
    """Fail with InvalidResponseError when the provider's answer lacks something its protocol promises."""
    if not condition:
        raise InvalidResponseError(f"The provider's answer is not valid: {what}.", provider=provider)


class ModelAdapter(ABC):
    """One provider protocol. Subclasses override what the protocol offers."""

    name: ClassVar[str]

    def __init__(self, *, http: HttpPool, provider: str) -> None:
        self.http = http
        self.provider = provider

    def _unsupported(self, what: str) -> UnsupportedOperationError:
        return UnsupportedOperationError(f"{what} is not supported by this provider.", provider=self.provider)

    async def invoke_llm(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        messages: Sequence[PromptMessage],
        parameters: Mapping[str, Any],
        tools: Sequence[Tool] | None,
        stop: Sequence[str] | None,
        stream: bool,
        user: str | None,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> Completion | AdapterStream:
        """Send a chat request. Streaming returns once the provider answered with a stream (HTTP status
        checked); errors up to then raise, errors later raise from iteration."""
        raise self._unsupported("Chat completion")

    async def invoke_embedding(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        texts: Sequence[str],
        input_type: str,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> EmbeddingVectors:
        raise self._unsupported("Text embedding")

    async def invoke_rerank(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        query: str,
        documents: Sequence[str],
        top_n: int | None,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> list[RerankDocument]:
        raise self._unsupported("Rerank")

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
        """Transcribe one audio file (its name carries the format, as the providers read it)."""
        raise self._unsupported("Speech to text")

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
        """Speak one piece of text (already within the model's limit). Returns once the provider answered
        with audio (status and content type checked); errors later raise from iteration."""
        raise self._unsupported("Text to speech")

    async def invoke_moderation(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        texts: Sequence[str],
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> list[ModerationVerdict]:
        """One verdict per text, in order."""
        raise self._unsupported("Moderation")

    async def list_models(self, *, credentials: Mapping[str, Any], timeouts: Timeouts) -> list[str]:
        """Model ids the provider's API lists for these credentials."""
        raise self._unsupported("Listing models")

    async def validate_credentials(
        self,
        *,
        credentials: Mapping[str, Any],
        model: str | None,
        model_type: str | None,
        schema: ModelSchema | None,
        timeouts: Timeouts,
    ) -> None:
        """A real, cheap call with the credentials; raises an InvokeError if they do not work. The
        default lists the models (no tokens spent) when the protocol supports it, else makes the
        smallest call of the model."""
        if model is None or schema is None:
            await self.list_models(credentials=credentials, timeouts=timeouts)
            return
        if model_type == "text-embedding":
            await self.invoke_embedding(
                model=model,
                credentials=credentials,
                texts=["ping"],
                input_type="query",
                schema=schema,
                timeouts=timeouts,
            )
        elif model_type == "rerank":
            await self.invoke_rerank(
                model=model,
                credentials=credentials,
                query="ping",
                documents=["ping", "pong"],
                top_n=1,
                schema=schema,
                timeouts=timeouts,
            )
        elif model_type == "speech2text":
            # Half a second of silence: a valid file every speech API accepts, and the cheapest one.
            await self.invoke_speech2text(
                model=model,
                credentials=credentials,
                file=silent_wav(),
                filename="ping.wav",
                mime_type="audio/wav",
                language=None,
                prompt=None,
                schema=schema,
                timeouts=timeouts,
            )
        elif model_type == "tts":
            audio = await self.invoke_tts(
                model=model,
                credentials=credentials,
                text=VALIDATION_TEXT,
                voice=default_voice(schema),
                audio_format=audio_format_for(schema, None),
                schema=schema,
                timeouts=timeouts,
            )
            try:  # the first bytes prove it speaks; no need to wait for the rest
                await audio.__anext__()
            except StopAsyncIteration:
                raise InvalidResponseError(
                    "The provider answered with no audio.", provider=self.provider
                ) from None
            finally:
                await audio.aclose()
        elif model_type == "moderation":
            await self.invoke_moderation(
                model=model, credentials=credentials, texts=["ping"], schema=schema, timeouts=timeouts
            )
        else:
            await self.invoke_llm(
                model=model,
                credentials=credentials,
                messages=[PromptMessage(role="user", content="ping")],
                parameters=self.validation_parameters(schema),
                tools=None,
                stop=None,
                stream=False,
                user=None,
                schema=schema,
                timeouts=timeouts,
            )

    def validation_parameters(self, schema: ModelSchema) -> dict[str, Any]:
        """Parameters for a validation call: as few output tokens as the model allows."""
        rule = next((r for r in schema.parameter_rules if r.use_template == "max_tokens"), None)
        return {rule.name: 1} if rule is not None else {}
