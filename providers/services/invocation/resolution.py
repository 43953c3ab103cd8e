"""Which credentials, price and parameters a call uses: resolving a workspace's model (cached), its default model."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from providers import selectors
from providers.runtime import (
    ParameterError,
    PromptMessage,
    Tool,
)
from providers.services.config_cache import cached
from providers.services.runtime import model_runtime

logger = logging.getLogger(__name__)

Messages = Sequence[PromptMessage | Mapping[str, Any]]
Tools = Sequence[Tool | Mapping[str, Any]] | None


# --- resolution ------------------------------------------------------------------------------------------


async def _resolve(tenant_id: str, provider: str, model_type: str, model: str) -> selectors.ResolvedModel:
    # Canonical id first (no database): `langgenius/openai/openai` and `openai` share one cache entry.
    canonical = model_runtime().provider(provider).provider
    return await cached(
        tenant_id,
        ("model", canonical, model_type, model),
        lambda: selectors.model_config_resolve(
            tenant=tenant_id, provider=canonical, model_type=model_type, model=model
        ),
    )


async def default_model(*, tenant_id: str, model_type: str) -> tuple[str, str] | None:
    """(provider, model) the workspace uses for `model_type` (`llm`, `text-embedding`, `rerank`, ...): its
    chosen default, else the first active model of that type it has configured; None if it has none."""
    return await cached(
        tenant_id,
        ("default", model_type),
        lambda: selectors.default_model_resolve(tenant=tenant_id, model_type=model_type),
    )


def _parameters_with_response_format(
    parameters: Mapping[str, Any] | None, response_format: Mapping[str, Any] | None
) -> dict[str, Any]:
    """OpenAI-style `response_format` ({"type": "json_schema", "json_schema": {...}}) as Dify's model
    parameters (`response_format` + `json_schema`), which the runtime validates against the model."""
    params = dict(parameters or {})
    if not response_format:
        return params
    if not isinstance(response_format, Mapping) or not isinstance(response_format.get("type"), str):
        raise ParameterError("response_format", "must be an object with a 'type'")
    params["response_format"] = response_format["type"]
    if response_format["type"] == "json_schema":
        schema = response_format.get("json_schema")
        if not isinstance(schema, Mapping):
            raise ParameterError("json_schema", "is required when response_format is json_schema")
        params["json_schema"] = json.dumps(schema, ensure_ascii=False)
    return params
