"""Model-provider errors with Dify's codes.

Two families:

* console/API errors (`ApiError` subclasses) raised by services and selectors at configuration time;
* run-time errors raised by `providers.services.invocation`, which extend the runtime's
  `ModelRuntimeError` so a caller handles one vocabulary; `providers.services.invocation.api_error_for`
  turns any of them into an `ApiError` (Dify's code, status and message).
"""

from __future__ import annotations

from dify_project.api.errors import ApiError, InvalidParam, NotFound
from providers.runtime import ModelRuntimeError

# --- configuration time (console) ------------------------------------------------------------------------


class ProviderNotFound(NotFound):
    message = "Provider does not exist."


class CredentialNotFound(NotFound):
    message = "Credential record not found."


class ModelNotFound(NotFound):
    message = "Model does not exist."


class LoadBalancingConfigNotFound(NotFound):
    message = "Load balancing config not found."


class CredentialNameTaken(InvalidParam):
    message = "A credential with this name already exists."


class CredentialsInvalid(InvalidParam):
    """Credentials failed their check (the form, or the real call); nothing was saved."""

    message = "Invalid credentials."


class ProviderNotInitialize(ApiError):
    """Dify's `provider_not_initialize` body."""

    code = "provider_not_initialize"
    message = (
        "No valid model provider credentials found. "
        "Please go to Settings -> Model Provider to complete your provider credentials."
    )


class ProviderQuotaExceeded(ApiError):
    code = "provider_quota_exceeded"
    message = (
        "Your quota for the model provider has been exhausted. "
        "Please go to Settings -> Model Provider to complete your own provider credentials."
    )


class ModelCurrentlyNotSupport(ApiError):
    code = "model_currently_not_support"
    message = "The model is not supported."


class CompletionRequestError(ApiError):
    code = "completion_request_error"
    message = "Completion request failed."


class InvokeRateLimit(ApiError):
    """Dify's `InvokeRateLimitHttpError`: 429 `rate_limit_error`."""

    code = "rate_limit_error"
    status = 429
    message = "Rate limit exceeded, please try again later."


# --- run time (invocation) -------------------------------------------------------------------------------


class ProviderNotInitializedError(ModelRuntimeError):
    """The workspace has no usable credential for this provider/model."""

    kind = "not_initialized"
    code = "provider_not_initialize"

    def __init__(self, provider: str, model: str | None = None) -> None:
        self.model = model
        if model:
            message = f"Provider {provider} credentials is not initialized for model {model}."
        else:
            message = f"Provider {provider} credentials is not initialized."
        # No `provider=` prefix: Dify's message already names the provider.
        super().__init__(message)
        self.provider = provider


class ModelDisabledError(ModelRuntimeError):
    """The workspace turned this model off."""

    kind = "model_disabled"
    code = "model_currently_not_support"

    def __init__(self, provider: str, model: str, model_type: str) -> None:
        self.model = model
        self.model_type = model_type
        super().__init__(
            f"Model {model} ({model_type}) of provider {provider} is disabled in this workspace."
        )
        self.provider = provider
