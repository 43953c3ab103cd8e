"""Model errors as API answers (`api_error_for`)."""

from __future__ import annotations

import logging

from dify_project.api.errors import ApiError, InvalidParam
from providers import exceptions as errors
from providers.runtime import (
    AllCredentialsCoolingDownError,
    CredentialsValidationError,
    InvokeError,
    MissingCredentialError,
    ModelRuntimeError,
    NotInstalledError,
    ParameterError,
    RateLimitError,
    UnknownModelError,
    UnknownProviderError,
    UnsupportedOperationError,
)

logger = logging.getLogger(__name__)

# --- errors as API answers -------------------------------------------------------------------------------


def api_error_for(exc: BaseException) -> ApiError | None:
    """Dify's error body for a failed model call (see the table in the module docstring). An `ApiError`
    comes back as it is; an exception that is not a model error gives None (the caller's to map)."""
    if isinstance(exc, ApiError):
        return exc
    if not isinstance(exc, ModelRuntimeError):
        return None
    message = str(exc)
    if isinstance(
        exc,
        errors.ProviderNotInitializedError
        | MissingCredentialError
        | NotInstalledError
        | UnknownProviderError,
    ):
        return errors.ProviderNotInitialize(message)
    if isinstance(exc, RateLimitError) and getattr(exc, "quota_exceeded", False):
        return errors.ProviderQuotaExceeded(message)
    if isinstance(exc, RateLimitError | AllCredentialsCoolingDownError):
        return errors.InvokeRateLimit(message)
    if isinstance(exc, UnknownModelError | UnsupportedOperationError | errors.ModelDisabledError):
        return errors.ModelCurrentlyNotSupport(message)
    if isinstance(exc, ParameterError):
        return InvalidParam(message, params=exc.parameter)
    if isinstance(exc, CredentialsValidationError):
        return InvalidParam(message)
    if isinstance(exc, InvokeError):
        return errors.CompletionRequestError(message)
    return ApiError(message, code=exc.code, status=exc.http_status)
