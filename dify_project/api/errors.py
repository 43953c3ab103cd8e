"""Dify's error body for every 4xx/5xx: ``{"code": "...", "message": "...", "status": N}``.

Domain exceptions subclass :class:`ApiError` (each app's ``exceptions.py``); DRF's own exceptions and
Django's ``Http404``/``PermissionDenied`` are mapped to the codes Dify uses. A database that cannot be
reached (or answers "locked"), and so is Redis in the scaled mode (cache, locks, run streams), is a 503
``service_unavailable`` with ``Retry-After``, in DRF views and plain Django views alike: the next request reconnects, so the service recovers by itself. Anything
unexpected is logged and answered as 500 ``internal_server_error`` without leaking details.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from redis import exceptions as redis_errors
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)

INVALID_JSON_MESSAGE = "Invalid JSON payload received or JSON payload is empty."


class ApiError(Exception):
    """A domain error with Dify's code and HTTP status. Subclasses set ``code``, ``status`` and ``message``."""

    code = "bad_request"
    status = 400
    message = "Bad request."
    retry_after: int | None = None  # seconds; sent as Retry-After (429 and 503 answers)

    def __init__(
        self, message: str | None = None, *, code: str | None = None, status: int | None = None, **extra: Any
    ) -> None:
        self.message = message or self.message
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.status, **self.extra)


class InvalidParam(ApiError):
    code = "invalid_param"
    message = "Invalid parameter."


class NotFound(ApiError):
    code = "not_found"
    status = 404
    message = "Not found."


class Forbidden(ApiError):
    code = "forbidden"
    status = 403
    message = "You don't have the permission to access the requested resource."


class Unauthorized(ApiError):
    code = "unauthorized"
    status = 401
    message = "Unauthorized."


class TooManyRequests(ApiError):
    code = "too_many_requests"
    status = 429
    message = "Too many requests. Please try again later."


def error_body(code: str, message: str, status: int, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "status": status, **extra}


def _first_validation_message(detail: Any, field: str | None = None) -> tuple[str | None, str]:
    """Flatten DRF's nested error detail into (field, message) for Dify's single-message body."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub_field = None if key == "non_field_errors" else (f"{field}.{key}" if field else str(key))
            return _first_validation_message(value, sub_field)
    if isinstance(detail, list) and detail:
        return _first_validation_message(detail[0], field)
    message = str(detail)
    if field and field not in message:
        message = f"{field}: {message}"
    return field, message


_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.NotAuthenticated: "unauthorized",
    drf.AuthenticationFailed: "unauthorized",
    drf.PermissionDenied: "forbidden",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "too_many_requests",
}


DATABASE_UNAVAILABLE_MESSAGE = "The service is temporarily unavailable; please try again shortly."
DATABASE_RETRY_AFTER = 5  # seconds: a restart or fail-over of the database, not an outage of hours
# What a backing service that cannot be reached raises: the database through Django, Redis through
# redis-py (Django's Redis cache lets them through unchanged).
UNAVAILABLE_ERRORS = (
    OperationalError,
    InterfaceError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)
DATA_ERROR_MESSAGE = (
    "A value in the request is not accepted (too long, out of range or with a NUL character)."
)


def _view_name(context: dict[str, Any] | None) -> str:
    return context.get("view").__class__.__name__ if context else "?"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error becomes Dify's body."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if exc.retry_after:
            headers["Retry-After"] = str(int(exc.retry_after))
        return Response(exc.body(), status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", str(exc) or NotFound.message, 404), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("forbidden", str(exc) or Forbidden.message, 403), status=403)
    if isinstance(exc, drf.ParseError):
        return Response(error_body("invalid_param", INVALID_JSON_MESSAGE, 400), status=400)
    if isinstance(exc, drf.ValidationError):
        field, message = _first_validation_message(exc.detail)
        extra = {"params": field} if field else {}
        return Response(error_body("invalid_param", message, 400, **extra), status=400)
    if isinstance(exc, drf.APIException):
        status = exc.status_code
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "bad_request")
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if isinstance(exc, drf.Throttled) and exc.wait:
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail if isinstance(exc.detail, str) else _first_validation_message(exc.detail)[1]
        return Response(error_body(code, str(detail), status), status=status, headers=headers)
    if isinstance(exc, DataError):
        # The database refused a value the request carried (longer than its column, a NUL character in
        # JSON, a number out of range): bad input, so a 400, never a 500. Logged, because a serializer
        # should have said so first, with the field's name.
        logger.warning("the database refused a value in %s: %s", _view_name(context), exc)
        return Response(error_body("invalid_param", DATA_ERROR_MESSAGE, 400), status=400)
    if isinstance(exc, UNAVAILABLE_ERRORS):
        logger.warning("a backing service is unavailable in %s: %r", _view_name(context), exc)
        return Response(
            error_body("service_unavailable", DATABASE_UNAVAILABLE_MESSAGE, 503),
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    logger.exception("Unhandled error in %s", _view_name(context))
    return Response(error_body("internal_server_error", "Internal Server Error", 500), status=500)


# Django-level handlers (for URLs outside DRF views) answer with the same body.
def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        error_body("not_found", "The requested URL was not found on the server.", 404), status=404
    )


def handler500(request: HttpRequest) -> JsonResponse:
    # Django calls this inside its except block: the exception is still at hand.
    exc = sys.exc_info()[1]
    if isinstance(exc, UNAVAILABLE_ERRORS):
        response = JsonResponse(
            error_body("service_unavailable", DATABASE_UNAVAILABLE_MESSAGE, 503), status=503
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
    return JsonResponse(error_body("internal_server_error", "Internal Server Error", 500), status=500)


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("forbidden", Forbidden.message, 403), status=403)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "Bad request.", 400), status=400)
