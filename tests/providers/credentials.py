"""Credentials for each provider, pointed at the fake server."""

from __future__ import annotations

from typing import Any

from tests.support.fake_llm import FakeLLMServer


def openai_compatible(server: FakeLLMServer, **extra: Any) -> dict[str, Any]:
    return {"endpoint_url": server.openai_base_url, "api_key": "sk-test-compatible-key", **extra}


def openai_creds(server: FakeLLMServer, **extra: Any) -> dict[str, Any]:
    return {"openai_api_key": "sk-test-openai-key-0123", "openai_api_base": server.url, **extra}


def anthropic_creds(server: FakeLLMServer, **extra: Any) -> dict[str, Any]:
    return {"anthropic_api_key": "sk-ant-test-key-0123", "anthropic_api_url": server.url, **extra}


def ollama_creds(server: FakeLLMServer, **extra: Any) -> dict[str, Any]:
    return {"base_url": server.url, **extra}


def azure_creds(server: FakeLLMServer, **extra: Any) -> dict[str, Any]:
    return {
        "openai_api_base": server.url,
        "openai_api_key": "azure-test-key-0123456",
        "openai_api_version": "2024-10-21",
        "base_model_name": "gpt-4o-mini",
        **extra,
    }
