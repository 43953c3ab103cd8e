"""Adapter registry: the catalogue's `adapter:` names, mapped to the classes that speak each protocol."""

from __future__ import annotations

from providers.runtime.adapters.anthropic_messages import AnthropicAdapter
from providers.runtime.adapters.base import (
    AdapterStream,
    Completion,
    EmbeddingVectors,
    ModelAdapter,
    StreamState,
)
from providers.runtime.adapters.local_embedding import LocalEmbeddingAdapter
from providers.runtime.adapters.ollama import OllamaAdapter
from providers.runtime.adapters.openai_chat import AzureOpenAIAdapter, OpenAIAdapter, OpenAICompatibleAdapter
from providers.runtime.adapters.rerank_http import HttpApiAdapter
from providers.runtime.http import HttpPool
from providers.runtime.schema import ProviderSchema

ADAPTER_CLASSES: dict[str, type[ModelAdapter]] = {
    cls.name: cls
    for cls in (
        OpenAIAdapter,
        OpenAICompatibleAdapter,
        AzureOpenAIAdapter,
        AnthropicAdapter,
        OllamaAdapter,
        HttpApiAdapter,
        LocalEmbeddingAdapter,
    )
}


def build_adapter(provider: ProviderSchema, http: HttpPool) -> ModelAdapter:
    cls = ADAPTER_CLASSES.get(provider.adapter)
    if cls is None:
        raise ValueError(f"provider {provider.provider!r} names unknown adapter {provider.adapter!r}")
    if cls is HttpApiAdapter:
        return HttpApiAdapter(
            http=http, provider=provider.provider, default_base_url=provider.defaults.get("base_url")
        )
    return cls(http=http, provider=provider.provider)


__all__ = [
    "ADAPTER_CLASSES",
    "AdapterStream",
    "AnthropicAdapter",
    "AzureOpenAIAdapter",
    "Completion",
    "EmbeddingVectors",
    "HttpApiAdapter",
    "LocalEmbeddingAdapter",
    "ModelAdapter",
    "OllamaAdapter",
    "OpenAIAdapter",
    "OpenAICompatibleAdapter",
    "StreamState",
    "build_adapter",
]
