"""What invocations return: LLM results and stream chunks, usage with prices, embeddings, rerank results.

`LLMUsage.to_dict()` gives exactly the `metadata.usage` object of Dify's `message_end` event (prices as
decimal strings, latency in seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from providers.runtime.messages import PromptMessage, ToolCall
from providers.runtime.pricing import ZERO, PriceConfig, price_for


def _decimal(value: Decimal) -> str:
    """Decimal as plain text (`0.0000001`, never `1E-7`), as Dify's JSON carries prices."""
    return format(value, "f")


@dataclass(slots=True)
class LLMUsage:
    prompt_tokens: int = 0
    prompt_unit_price: Decimal = ZERO
    prompt_price_unit: Decimal = ZERO
    prompt_price: Decimal = ZERO
    completion_tokens: int = 0
    completion_unit_price: Decimal = ZERO
    completion_price_unit: Decimal = ZERO
    completion_price: Decimal = ZERO
    total_tokens: int = 0
    total_price: Decimal = ZERO
    currency: str = "USD"
    latency: float = 0.0
    # Time to first token, seconds (Dify's newer `time_to_first_token`); None when not streamed.
    time_to_first_token: float | None = None
    # True when a token count is our estimate because the provider reported none.
    estimated: bool = False

    @classmethod
    def build(
        cls,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        pricing: PriceConfig | None,
        latency: float = 0.0,
        time_to_first_token: float | None = None,
        estimated: bool = False,
    ) -> LLMUsage:
        prompt = price_for(prompt_tokens, pricing, output=False)
        completion = price_for(completion_tokens, pricing, output=True)
        return cls(
            prompt_tokens=prompt_tokens,
            prompt_unit_price=prompt.unit_price,
            prompt_price_unit=prompt.unit,
            prompt_price=prompt.total_amount,
            completion_tokens=completion_tokens,
            completion_unit_price=completion.unit_price,
            completion_price_unit=completion.unit,
            completion_price=completion.total_amount,
            total_tokens=prompt_tokens + completion_tokens,
            total_price=prompt.total_amount + completion.total_amount,
            currency=pricing.currency if pricing is not None else "USD",
            latency=latency,
            time_to_first_token=time_to_first_token,
            estimated=estimated,
        )

    def plus(self, other: LLMUsage) -> LLMUsage:
        """Sum of two usages (an agent's several calls); unit prices are taken from `other`."""
        if self.total_tokens == 0:
            return other
        return LLMUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            prompt_unit_price=other.prompt_unit_price,
            prompt_price_unit=other.prompt_price_unit,
            prompt_price=self.prompt_price + other.prompt_price,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            completion_unit_price=other.completion_unit_price,
            completion_price_unit=other.completion_price_unit,
            completion_price=self.completion_price + other.completion_price,
            total_tokens=self.total_tokens + other.total_tokens,
            total_price=self.total_price + other.total_price,
            currency=other.currency,
            latency=self.latency + other.latency,
            estimated=self.estimated or other.estimated,
        )

    __add__ = plus

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "prompt_unit_price": _decimal(self.prompt_unit_price),
            "prompt_price_unit": _decimal(self.prompt_price_unit),
            "prompt_price": _decimal(self.prompt_price),
            "completion_tokens": self.completion_tokens,
            "completion_unit_price": _decimal(self.completion_unit_price),
            "completion_price_unit": _decimal(self.completion_price_unit),
            "completion_price": _decimal(self.completion_price),
            "total_tokens": self.total_tokens,
            "total_price": _decimal(self.total_price),
            "currency": self.currency,
            "latency": round(self.latency, 3),
        }


@dataclass(slots=True)
class TokenCounts:
    """Token counts as a provider reported them (before prices are applied)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(slots=True)
class LLMResult:
    model: str
    prompt_messages: list[PromptMessage]
    message: PromptMessage
    usage: LLMUsage
    finish_reason: str | None = None
    system_fingerprint: str | None = None

    @property
    def text(self) -> str:
        return self.message.text()

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.message.tool_calls


@dataclass(slots=True)
class LLMResultChunkDelta:
    index: int
    message: PromptMessage
    usage: LLMUsage | None = None
    finish_reason: str | None = None


@dataclass(slots=True)
class LLMResultChunk:
    """One streamed piece. `delta.message.content` is new text; `delta.message.tool_calls` holds tool calls
    that are complete (the runtime assembles the provider's partial deltas first). The last chunk carries
    `finish_reason` and `usage`."""

    model: str
    prompt_messages: list[PromptMessage]
    delta: LLMResultChunkDelta
    system_fingerprint: str | None = None

    @property
    def text(self) -> str:
        content = self.delta.message.content
        return content if isinstance(content, str) else self.delta.message.text()


@dataclass(slots=True)
class EmbeddingUsage:
    tokens: int = 0
    total_tokens: int = 0
    unit_price: Decimal = ZERO
    price_unit: Decimal = ZERO
    total_price: Decimal = ZERO
    currency: str = "USD"
    latency: float = 0.0
    estimated: bool = False

    @classmethod
    def build(
        cls, *, tokens: int, pricing: PriceConfig | None, latency: float, estimated: bool = False
    ) -> EmbeddingUsage:
        price = price_for(tokens, pricing, output=False)
        return cls(
            tokens=tokens,
            total_tokens=tokens,
            unit_price=price.unit_price,
            price_unit=price.unit,
            total_price=price.total_amount,
            currency=price.currency,
            latency=latency,
            estimated=estimated,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "total_tokens": self.total_tokens,
            "unit_price": _decimal(self.unit_price),
            "price_unit": _decimal(self.price_unit),
            "total_price": _decimal(self.total_price),
            "currency": self.currency,
            "latency": round(self.latency, 3),
        }


@dataclass(slots=True)
class EmbeddingResult:
    model: str
    embeddings: list[list[float]]
    usage: EmbeddingUsage = field(default_factory=EmbeddingUsage)


@dataclass(slots=True, frozen=True)
class RerankDocument:
    index: int
    text: str
    score: float


@dataclass(slots=True)
class RerankResult:
    model: str
    docs: list[RerankDocument]


@dataclass(slots=True)
class Speech2TextResult:
    """A transcription. `duration` (seconds of audio) and `tokens` are set when the provider reports them
    (OpenAI reports seconds for whisper-1, tokens for the gpt-4o transcribe models)."""

    model: str
    text: str
    language: str | None = None
    duration: float | None = None
    tokens: TokenCounts | None = None
    latency: float = 0.0


@dataclass(slots=True)
class TTSUsage:
    """What a TTS call used: characters sent to the provider, priced per character as Dify's TTS models
    are (`unit` 0.001 = the price is per thousand characters)."""

    characters: int = 0
    unit_price: Decimal = ZERO
    price_unit: Decimal = ZERO
    total_price: Decimal = ZERO
    currency: str = "USD"
    latency: float = 0.0
    time_to_first_byte: float | None = None

    @classmethod
    def build(
        cls,
        *,
        characters: int,
        pricing: PriceConfig | None,
        latency: float,
        time_to_first_byte: float | None = None,
    ) -> TTSUsage:
        price = price_for(characters, pricing, output=False)
        return cls(
            characters=characters,
            unit_price=price.unit_price,
            price_unit=price.unit,
            total_price=price.total_amount,
            currency=price.currency,
            latency=latency,
            time_to_first_byte=time_to_first_byte,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "characters": self.characters,
            "unit_price": _decimal(self.unit_price),
            "price_unit": _decimal(self.price_unit),
            "total_price": _decimal(self.total_price),
            "currency": self.currency,
            "latency": round(self.latency, 3),
        }


@dataclass(slots=True)
class ModerationResult:
    """The verdict on a text. Truthy when flagged (Dify's moderation models answer a bare bool).

    `categories` holds every category the provider reported, True where any part of the text was flagged
    in it; `category_scores` the highest score seen per category. A long text is checked in parts and
    the check stops at the first flagged request, as Dify's does, so on a flagged text these describe
    the parts checked so far."""

    model: str
    flagged: bool
    categories: dict[str, bool] = field(default_factory=dict)
    category_scores: dict[str, float] = field(default_factory=dict)
    latency: float = 0.0

    def __bool__(self) -> bool:
        return self.flagged

    @property
    def flagged_categories(self) -> list[str]:
        return [name for name, hit in self.categories.items() if hit]
