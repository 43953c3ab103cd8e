"""Errors raised by the model runtime.

Every adapter maps what its provider (or the network) does wrong onto the small set below, so callers handle
one vocabulary whatever the provider: `kind` names the class of failure, `retryable` says whether trying
again later can help, `http_status`/`code` are what an API answering on our side should say (Dify reports
every invocation failure as 400 `completion_request_error`). Messages never contain a credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class ModelRuntimeError(Exception):
    """Base class of everything the runtime raises on purpose."""

    kind: ClassVar[str] = "runtime"
    code: ClassVar[str] = "completion_request_error"
    http_status: ClassVar[int] = 400
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        self.message = message
        self.provider = provider
        super().__init__(f"[{provider}] {message}" if provider else message)

    def to_dict(self) -> dict[str, Any]:
        """Dify's error body shape, ready for an API response or an SSE `error` event."""
        return {"code": self.code, "message": str(self), "status": self.http_status}


# --- configuration-time errors ---------------------------------------------------------------------------


class UnknownProviderError(ModelRuntimeError):
    kind = "unknown_provider"
    code = "provider_not_initialize"

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id
        super().__init__(f"Unknown model provider {provider_id!r}.")


class UnknownModelError(ModelRuntimeError):
    kind = "unknown_model"
    code = "model_currently_not_support"

    def __init__(self, provider: str, model: str, model_type: str) -> None:
        self.model = model
        self.model_type = model_type
        super().__init__(
            f"Model {model!r} ({model_type}) is not offered by this provider.", provider=provider
        )


class UnsupportedOperationError(ModelRuntimeError):
    kind = "unsupported"
    code = "model_currently_not_support"


class ParameterError(ModelRuntimeError, ValueError):
    """A model parameter failed its rule. `parameter` names it."""

    kind = "invalid_parameter"
    code = "invalid_param"

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"Model parameter {parameter!r} {message}")


class MissingCredentialError(ModelRuntimeError, ValueError):
    kind = "missing_credential"
    code = "provider_not_initialize"

    def __init__(self, variable: str, provider: str | None = None) -> None:
        self.variable = variable
        super().__init__(f"Credential {variable!r} is required.", provider=provider)


class NotInstalledError(ModelRuntimeError):
    """An optional dependency (e.g. the local embedding model) is not installed."""

    kind = "not_installed"
    code = "provider_not_initialize"


# --- invocation errors -----------------------------------------------------------------------------------


class InvokeError(ModelRuntimeError):
    """A call to a model failed. Subclasses say why."""

    kind = "invoke"
    status_code: int | None = None

    def __init__(self, message: str, *, provider: str | None = None, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message, provider=provider)


class AuthenticationError(InvokeError):
    kind = "auth"


class RateLimitError(InvokeError):
    kind = "rate_limit"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider=provider, status_code=status_code)


class BadRequestError(InvokeError):
    kind = "bad_request"


class ContextTooLongError(BadRequestError):
    kind = "context_too_long"


class ServerError(InvokeError):
    kind = "server"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider=provider, status_code=status_code)


class InvokeTimeoutError(InvokeError):
    kind = "timeout"
    retryable = True


class InvokeConnectionError(InvokeError):
    kind = "connection"
    retryable = True


class InvalidResponseError(InvokeError):
    """The peer answered, but not in the provider's protocol (an HTML page, garbage, a cut-off body)."""

    kind = "invalid_response"


class AllCredentialsCoolingDownError(RateLimitError):
    """Every credential of a load-balanced model is cooling down after errors."""

    kind = "rate_limit"


class CredentialsValidationError(ModelRuntimeError):
    """Credentials did not pass a real call. `cause` is the invocation error behind it."""

    kind = "credentials_invalid"
    code = "invalid_param"

    def __init__(self, message: str, *, provider: str | None = None, cause: Exception | None = None) -> None:
        self.cause = cause
        super().__init__(message, provider=provider)


def error_kinds() -> Sequence[str]:
    """The invocation error kinds, for documentation and tests."""
    return (
        AuthenticationError.kind,
        RateLimitError.kind,
        BadRequestError.kind,
        ContextTooLongError.kind,
        ServerError.kind,
        InvokeTimeoutError.kind,
        InvokeConnectionError.kind,
        InvalidResponseError.kind,
    )
