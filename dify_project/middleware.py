"""Middleware of the project's own."""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run in Django's async request path.

    WhiteNoise's middleware is sync-only, so under ASGI Django would run every request through a thread
    round trip around it — API calls included, which never ask for a static file. This subclass answers
    static files the same way and hands every other request straight to the async chain.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def _static_file(self, request: HttpRequest) -> Any:
        if self.autorefresh:
            return self.find_file(request.path_info)
        return self.files.get(request.path_info)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        static_file = self._static_file(request)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)


# --- Django's middleware without thread round trips on the async path --------------------------------------
#
# Under ASGI, Django's MiddlewareMixin runs every `process_request`/`process_response` (and the handler every
# sync `process_view`) through `sync_to_async`: with the default stack that is a dozen thread round trips
# per request, a large part of a Service API call's own time. The classes below keep Django's behaviour:
# the header and redirect middleware run inline (their hooks do no I/O), and the cookie-session family is
# skipped on paths that authenticate by token and never touch a session.

# Paths whose requests carry no session or Django user: the Service API (app keys), file previews (signed
# URLs) and the health checks.
SESSIONLESS_PREFIXES = ("/v1/", "/files/", "/healthz", "/readyz")


class _InlineHooks:
    """For middleware whose hooks do no I/O: call them on the event loop instead of a worker thread."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class _SessionlessSkip:
    """For session-bound middleware: requests on `SESSIONLESS_PREFIXES` go straight through."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(SESSIONLESS_PREFIXES):
            return await self.get_response(request)
        return await super().__acall__(request)  # type: ignore[misc]


class SecurityMiddleware(_InlineHooks, security.SecurityMiddleware):
    """Django's security headers and SSL redirect, inline."""


class CommonMiddleware(_InlineHooks, common.CommonMiddleware):
    """Django's URL normalisation (APPEND_SLASH, PREPEND_WWW), inline."""


class XFrameOptionsMiddleware(_InlineHooks, clickjacking.XFrameOptionsMiddleware):
    """Django's X-Frame-Options header, inline."""


class CsrfViewMiddleware(_InlineHooks, csrf.CsrfViewMiddleware):
    """Django's CSRF protection, inline: the token lives in a cookie (not the session), so no hook does
    I/O. `process_view` is async so the handler does not wrap it in a thread either."""

    async def process_view(self, request: HttpRequest, callback: Any, args: Any, kwargs: Any) -> Any:  # type: ignore[override]
        return super().process_view(request, callback, args, kwargs)


class SessionMiddleware(_SessionlessSkip, sessions.SessionMiddleware):
    """Django's sessions, except on sessionless paths."""


class AuthenticationMiddleware(_SessionlessSkip, auth.AuthenticationMiddleware):
    """Django's request.user (admin, console set-up), except on sessionless paths."""


class MessageMiddleware(_SessionlessSkip, messages.MessageMiddleware):
    """Django's messages framework (admin), except on sessionless paths."""
