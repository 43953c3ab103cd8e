"""Model runtime: calls model providers (chat with streaming and tool calls, embeddings, rerank, speech to
text, text to speech, moderation), with a Dify-shaped catalogue of providers, models, parameter rules and
prices.

Plain Python and asyncio, no Django: the Django side (credentials, console API) and the workflow engine
(through its model port) both call `ModelRuntime`, one instance per process.

    runtime = ModelRuntime()
    stream = await runtime.invoke_llm(provider="openai", model="gpt-4o-mini",
                                      credentials={"openai_api_key": key},
                                      messages=[UserMessage("Hello")], parameters={"temperature": 0.2})
    async with stream:
        async for chunk in stream:
            print(chunk.text, end="")
    usage = stream.result.usage   # priced; usage.to_dict() is Dify's message_end `usage`

    audio = await runtime.invoke_tts(provider="openai", model="tts-1", credentials=..., text="Hello.")
    async with audio:
        async for chunk in audio:       # mp3 bytes, in order; audio.mime_type, audio.usage
            ...

`RedisCooldownStore` (load-balancing state shared by processes) is imported on first use, so the
embedded mode never loads the Redis client.
"""

from typing import TYPE_CHECKING, Any

from providers.runtime.balancing import (
    CooldownStore,
    CredentialPool,
    InMemoryCooldownStore,
    LoadBalancer,
    PooledCredential,
)
from providers.runtime.catalogue import Catalogue, default_catalogue, resolve_provider_id
from providers.runtime.errors import (
    AllCredentialsCoolingDownError,
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    CredentialsValidationError,
    InvalidResponseError,
    InvokeConnectionError,
    InvokeError,
    InvokeTimeoutError,
    MissingCredentialError,
    ModelRuntimeError,
    NotInstalledError,
    ParameterError,
    RateLimitError,
    ServerError,
    UnknownModelError,
    UnknownProviderError,
    UnsupportedOperationError,
)
from providers.runtime.http import HttpPool, Timeouts
from providers.runtime.messages import (
    AssistantMessage,
    ImageContent,
    PromptMessage,
    SystemMessage,
    TextContent,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
    prompt_message_from_dict,
    prompt_messages_from_dicts,
    tool_from_dict,
)
from providers.runtime.parameters import validate_parameters
from providers.runtime.pricing import PriceConfig, PriceInfo, price_for
from providers.runtime.results import (
    EmbeddingResult,
    EmbeddingUsage,
    LLMResult,
    LLMResultChunk,
    LLMResultChunkDelta,
    LLMUsage,
    ModerationResult,
    RerankDocument,
    RerankResult,
    Speech2TextResult,
    TTSUsage,
)
from providers.runtime.retry import RetryPolicy
from providers.runtime.runtime import ModelRuntime
from providers.runtime.schema import (
    CredentialFormSchema,
    ModelSchema,
    ParameterRule,
    ProviderSchema,
)
from providers.runtime.streaming import LLMStream
from providers.runtime.tts_stream import TTSStream

if TYPE_CHECKING:
    from providers.runtime.redis_cooldown import RedisCooldownStore


def __getattr__(name: str) -> Any:
    if name == "RedisCooldownStore":
        from providers.runtime.redis_cooldown import RedisCooldownStore

        return RedisCooldownStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AllCredentialsCoolingDownError",
    "AssistantMessage",
    "AuthenticationError",
    "BadRequestError",
    "Catalogue",
    "ContextTooLongError",
    "CooldownStore",
    "CredentialFormSchema",
    "CredentialPool",
    "CredentialsValidationError",
    "EmbeddingResult",
    "EmbeddingUsage",
    "HttpPool",
    "ImageContent",
    "InMemoryCooldownStore",
    "InvalidResponseError",
    "InvokeConnectionError",
    "InvokeError",
    "InvokeTimeoutError",
    "LLMResult",
    "LLMResultChunk",
    "LLMResultChunkDelta",
    "LLMStream",
    "LLMUsage",
    "LoadBalancer",
    "MissingCredentialError",
    "ModelRuntime",
    "ModelRuntimeError",
    "ModelSchema",
    "ModerationResult",
    "NotInstalledError",
    "ParameterError",
    "ParameterRule",
    "PooledCredential",
    "PriceConfig",
    "PriceInfo",
    "PromptMessage",
    "ProviderSchema",
    "RateLimitError",
    "RedisCooldownStore",
    "RerankDocument",
    "RerankResult",
    "RetryPolicy",
    "ServerError",
    "Speech2TextResult",
    "SystemMessage",
    "TTSStream",
    "TTSUsage",
    "TextContent",
    "Timeouts",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "UnknownModelError",
    "UnknownProviderError",
    "UnsupportedOperationError",
    "UserMessage",
    "default_catalogue",
    "price_for",
    "prompt_message_from_dict",
    "prompt_messages_from_dicts",
    "resolve_provider_id",
    "tool_from_dict",
    "validate_parameters",
]
