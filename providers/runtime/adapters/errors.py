"""Mapping of what providers and the network do wrong onto the runtime's error classes.

One classifier for every adapter: HTTP status first, then the provider's error body (OpenAI's
`{"error": {"message", "type", "code"}}`, Anthropic's `{"type": "error", "error": {"type", "message"}}`,
Ollama's `{"error": "..."}`, Cohere/Jina's `{"message"}`/`{"detail"}`), then the transport exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import anthropic
import httpx2
import openai

from netguard import DestinationBlocked
from providers.runtime.errors import (
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    InvalidResponseError,
    InvokeConnectionError,
    InvokeError,
    InvokeTimeoutError,
    RateLimitError,
    ServerError,
)
from providers.runtime.retry import parse_retry_after

_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|context length|context window|prompt is too long"
    r"|too many tokens|input is too long|input length|reduce the length|exceeds? the (model'?s? )?(maximum|context)",
    re.IGNORECASE,
)
# Long opaque tokens (API keys) that a provider or a proxy might echo back in an error message.
_KEYLIKE = re.compile(r"\b(?:sk|pk|key|api|bearer)[-_A-Za-z0-9]{16,}|\b[A-Za-z0-9_\-]{32,}\b", re.IGNORECASE)
_MAX_MESSAGE = 500

# Error `type`s that providers send inside a 200 stream or with unusual statuses.
_TYPE_TO_CLASS: Mapping[str, type[InvokeError]] = {
    "authentication_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "overloaded_error": ServerError,
    "api_error": ServerError,
    "server_error": ServerError,
    "timeout_error": InvokeTimeoutError,
    "invalid_request_error": BadRequestError,
    "request_too_large": ContextTooLongError,
    "not_found_error": BadRequestError,
}


def looks_like_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body")) or "<html" in head


def _from_mapping(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(message, type-or-code) from any of the providers' error bodies."""
    inner: Any = body.get("error", body)
    if isinstance(inner, str):
        return inner, None
    if isinstance(inner, Mapping):
        message = inner.get("message") or inner.get("detail") or body.get("message") or body.get("detail")
        kind = inner.get("code") or inner.get("type")
        if isinstance(message, list | dict):  # FastAPI-style validation details
            message = json.dumps(message, ensure_ascii=False)
        return (str(message) if message else None), (str(kind) if kind else None)
    return None, None


def describe_body(body: Any) -> tuple[str, str | None, bool]:
    """(message, type-or-code, is_html) of an error body that may be JSON, text or HTML."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        stripped = body.strip()
        if looks_like_html(stripped):
            return "", None, True
        try:
            parsed = json.loads(stripped)
        except ValueError:
            return stripped[:_MAX_MESSAGE], None, False
        body = parsed
    if isinstance(body, Mapping):
        message, kind = _from_mapping(body)
        return (message or json.dumps(body, ensure_ascii=False)[:_MAX_MESSAGE]), kind, False
    return ("" if body is None else str(body)[:_MAX_MESSAGE]), None, False


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return _KEYLIKE.sub("***", text)


def error_from_status(
    status: int, body: Any, headers: Any = None, *, provider: str | None = None
) -> InvokeError:
    message, kind, is_html = describe_body(body)
    retry_after = parse_retry_after(headers)
    if is_html:
        text = f"The server answered HTTP {status} with an HTML page instead of the provider's API; check the base URL."
        if status >= 500:
            return ServerError(text, provider=provider, status_code=status, retry_after=retry_after)
        if status == 429:
            return RateLimitError(text, provider=provider, status_code=status, retry_after=retry_after)
        return InvalidResponseError(text, provider=provider, status_code=status)
    detail = scrub(message)[:_MAX_MESSAGE] if message else f"HTTP {status}"
    if status in (401, 403) or kind in ("authentication_error", "permission_error", "invalid_api_key"):
        return AuthenticationError(
            f"Incorrect model credentials provided, please check and try again (HTTP {status}: {detail})",
            provider=provider,
            status_code=status,
        )
    if status == 429 or kind in ("rate_limit_error", "rate_limit_exceeded"):
        error = RateLimitError(
            f"Rate limit reached (HTTP {status}): {detail}",
            provider=provider,
            status_code=status,
            retry_after=retry_after,
        )
        error.quota_exceeded = kind == "insufficient_quota"  # type: ignore[attr-defined]
        return error
    if status == 408:
        return InvokeTimeoutError(
            f"The provider timed out (HTTP 408): {detail}", provider=provider, status_code=status
        )
    if status == 413 or kind == "request_too_large" or _CONTEXT_PATTERNS.search(message or ""):
        return ContextTooLongError(
            f"The prompt is too long for the model's context window (HTTP {status}): {detail}",
            provider=provider,
            status_code=status,
        )
    if status >= 500 or kind in ("overloaded_error", "api_error", "server_error"):
        return ServerError(
            f"The provider failed (HTTP {status}): {detail}",
            provider=provider,
            status_code=status,
            retry_after=retry_after,
        )
    return BadRequestError(
        f"The provider refused the request (HTTP {status}): {detail}", provider=provider, status_code=status
    )


def error_from_stream_event(body: Any, *, provider: str | None = None) -> InvokeError:
    """An error sent inside a 200 stream (Anthropic's `event: error`, OpenAI-style `data: {"error": ...}`,
    Ollama's `{"error": ...}` line): classified by its type, as the status says nothing."""
    message, kind, _ = describe_body(body)
    cls = _TYPE_TO_CLASS.get(kind or "", ServerError)
    if cls is BadRequestError and _CONTEXT_PATTERNS.search(message or ""):
        cls = ContextTooLongError
    text = f"The provider reported an error mid-stream ({kind or 'error'}): {scrub(message)[:_MAX_MESSAGE]}"
    return cls(text, provider=provider)


_TIMEOUTS = (httpx2.TimeoutException, openai.APITimeoutError, anthropic.APITimeoutError, TimeoutError)
_CONNECTION = (
    httpx2.TransportError,
    openai.APIConnectionError,
    anthropic.APIConnectionError,
    ConnectionError,
)


def map_exception(exc: BaseException, *, provider: str | None = None) -> InvokeError | None:
    """The runtime error for an exception raised by an SDK or httpx2, or None if it is not one of theirs."""
    if isinstance(exc, InvokeError):
        return exc
    blocked = exc if isinstance(exc, DestinationBlocked) else exc.__cause__
    if isinstance(blocked, DestinationBlocked):  # the SSRF guard (SDKs wrap it in a connection error)
        return BadRequestError(f"The provider's endpoint is not allowed: {blocked}", provider=provider)
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        if exc.status_code == 200:  # an error event inside a stream
            return error_from_stream_event(exc.body, provider=provider)
        body: Any = exc.body
        if body is None or (isinstance(body, str) and not body):
            try:
                body = exc.response.text
            except Exception:  # the body was streamed and closed
                body = None
        return error_from_status(exc.status_code, body, exc.response.headers, provider=provider)
    if isinstance(exc, openai.APIResponseValidationError | anthropic.APIResponseValidationError):
        return InvalidResponseError(f"The provider's answer did not match its API: {exc}", provider=provider)
    if isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError) and exc.body:
        # The openai SDK raises a bare APIError for `data: {"error": ...}` inside a stream.
        return error_from_stream_event({"error": exc.body}, provider=provider)
    if isinstance(exc, _TIMEOUTS):
        return InvokeTimeoutError(
            "The provider did not answer in time (request timed out).", provider=provider
        )
    if isinstance(exc, httpx2.RemoteProtocolError) or (
        isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError)
        and isinstance(exc.__cause__, httpx2.RemoteProtocolError)
    ):
        return InvokeConnectionError(
            "The connection to the provider was closed before the answer was complete.", provider=provider
        )
    if isinstance(exc, _CONNECTION):
        cause = exc.__cause__ or exc
        return InvokeConnectionError(
            f"Could not reach the provider ({type(cause).__name__}); check the base URL and the network.",
            provider=provider,
        )
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        # The peer sent bytes that are not the protocol's JSON (garbage, a truncated proxy page, ...).
        return InvalidResponseError(
            f"The provider's answer could not be read ({type(exc).__name__}: {str(exc)[:200]}).",
            provider=provider,
        )
    return None
