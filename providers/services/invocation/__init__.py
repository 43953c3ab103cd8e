"""Calling a workspace's models: the service the app runners and the workflow engine's model port use.

    stream = await llm_stream(tenant_id=..., provider="openai", model="gpt-4o-mini",
                              messages=[{"role": "user", "content": "Hi"}], parameters={"temperature": 0.3},
                              source={"app_id": ..., "message_id": ...})
    async with stream:
        async for chunk in stream:
            ...                     # chunk.text, chunk.delta.message.tool_calls
    stream.result.usage             # priced LLMUsage; usage.to_dict() is Dify's message_end `usage`

Per call it resolves the workspace's credentials (the custom model's active credential, else the
provider's active one, or a load-balancing pool when balancing is on), the price (the workspace's override
wins over the catalogue's), lets the runtime validate the parameters against the model's rules, calls the
model, and meters the call: one `ModelUsage` row when it ends (a stream: when it ends, fails or is
stopped), written off the event loop (`sync_to_async`), never inside a transaction held across the call.
A finished stream's row is written before its last chunk is handed on; a stopped or failed stream's row
is scheduled without waiting (`usage_writes_settle()` waits for those, e.g. at shutdown or in tests).
What a call resolves is cached in memory per workspace and model (`config_cache`): a hot path makes no
database query until the workspace's provider configuration changes.

Errors are the runtime's (`providers.runtime.errors`) plus two of ours (`providers.exceptions`); each has
Dify's code, and `api_error_for(exc)` gives the `ApiError` to answer with (HTTP status, code, message):

    ProviderNotInitializedError, MissingCredentialError,
    NotInstalledError, UnknownProviderError              400 provider_not_initialize
    RateLimitError with quota_exceeded                   400 provider_quota_exceeded
    UnknownModelError, UnsupportedOperationError,
    ModelDisabledError                                   400 model_currently_not_support
    ParameterError, CredentialsValidationError           400 invalid_param
    RateLimitError, AllCredentialsCoolingDownError       429 rate_limit_error
    AuthenticationError, BadRequestError, ContextTooLongError, ServerError, InvokeTimeoutError,
    InvokeConnectionError, InvalidResponseError          400 completion_request_error
    any other ModelRuntimeError                          its own `code` and `http_status`
    an exception that is not a model error               None: not ours to map

Messages never contain a credential: the runtime scrubs them before they leave it.
"""

from __future__ import annotations

from providers.services.invocation.auxiliary import (
    embed,
    moderate,
    rerank,
    speech2text,
    tts,
    tts_voices,
)
from providers.services.invocation.errors import (
    api_error_for,
)
from providers.services.invocation.llm import (
    llm_invoke,
    llm_stream,
)
from providers.services.invocation.metering import (
    MeteredLLMStream,
    usage_writes_settle,
)
from providers.services.invocation.resolution import (
    default_model,
)

__all__ = [
    "MeteredLLMStream",
    "api_error_for",
    "default_model",
    "embed",
    "llm_invoke",
    "llm_stream",
    "moderate",
    "rerank",
    "speech2text",
    "tts",
    "tts_voices",
    "usage_writes_settle",
]
