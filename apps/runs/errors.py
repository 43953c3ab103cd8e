"""Errors inside a stream: Dify's ``error`` event, and the mapping from any exception to its body."""

from __future__ import annotations

import logging
from typing import Any

from apps.runs.wire import RunIdentity
from dify_project.api.errors import ApiError

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal Server Error, please contact support."


def stream_error_body(exc: BaseException) -> tuple[str, int, str]:
    """(code, status, message) for an exception raised while a run streams."""
    if isinstance(exc, ApiError):
        return exc.code, exc.status, exc.message
    try:
        from providers.services.invocation import api_error_for
    except ImportError:  # the providers service is optional at import time
        api_error_for = None
    if api_error_for is not None:
        mapped = api_error_for(exc)
        if mapped is not None:
            return mapped.code, mapped.status, mapped.message
    if isinstance(exc, ValueError):
        return "invalid_param", 400, str(exc)
    return "internal_server_error", 500, INTERNAL_MESSAGE


def error_event(identity: RunIdentity, *, code: str, status: int, message: str) -> dict[str, Any]:
    """Dify's in-stream error: the family's envelope without ``task_id``, plus code/status/message."""
    envelope = identity.envelope("error")
    envelope.pop("task_id", None)
    return {**envelope, "code": code, "status": status, "message": message}
