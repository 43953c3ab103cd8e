"""Base views: input validation in Dify's error shape and workspace scoping that fails closed."""

from __future__ import annotations

import asyncio
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from dify_project.api.errors import Forbidden, InvalidParam
from dify_project.db import db_sync_to_async

_NOT_A_MAPPING = "Invalid JSON payload received or JSON payload is empty."


class ApiView(APIView):
    """An APIView with a ``validate`` helper: bad input becomes 400 ``invalid_param``."""

    @staticmethod
    def validate(serializer_class: type[serializers.Serializer], data: Any, **context: Any) -> dict[str, Any]:
        if not isinstance(data, dict) and not hasattr(data, "getlist"):
            raise InvalidParam(_NOT_A_MAPPING)
        serializer = serializer_class(data=data, context=context)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @staticmethod
    def validate_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class WorkspaceApiView(ApiView):
    """A console view acting in the caller's current workspace.

    ``request.tenant`` and ``request.membership`` are set by the authentication class. An account with no
    workspace is refused. ``write_roles`` (for unsafe methods) and ``read_roles`` restrict by role; every
    query in a subclass must go through ``Model.objects.for_tenant(request.tenant)`` or a selector that
    takes the tenant, so a row of another workspace answers 404.
    """

    read_roles: frozenset[str] | None = None
    write_roles: frozenset[str] | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        membership = getattr(request, "membership", None)
        if membership is None:
            raise Forbidden("The account belongs to no workspace.", code="workspace_not_found")
        roles = self.read_roles if request.method in ("GET", "HEAD", "OPTIONS") else self.write_roles
        if roles is not None and membership.role not in roles:
            raise Forbidden()


class AsyncApiView(ApiView):
    """An APIView whose handlers are ``async def``: for endpoints that wait on models or stream.

    DRF's dispatch is synchronous, and under ASGI Django runs sync views on one shared thread: a
    blocking model call there would serialise every request of the process. Here authentication,
    permissions and throttles (quick, mostly cache hits) run through ``sync_to_async``, followed in the
    same hop by the handler's optional ``prepare_<method>(request, ...)`` (sync: checks and database reads;
    its answer is ``self.prepared``); the handler runs on the event loop, and any database access in it
    must be async (``sync_to_async``/async ORM).
    """

    view_is_async = True  # Django's View.as_view then marks the view function as a coroutine

    # Set by dispatch: what the handler's ``prepare_<method>`` returned (None without one).
    prepared: Any = None

    async def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.prepared = await db_sync_to_async(self._initial_and_prepare)(request, *args, **kwargs)
            handler = getattr(self, request.method.lower(), None)
            if handler is None or request.method.lower() not in self.http_method_names:
                handler = self.http_method_not_allowed
            response = handler(request, *args, **kwargs)
            if asyncio.iscoroutine(response):
                response = await response
        except Exception as exc:  # DRF's contract: every error goes through handle_exception
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def _initial_and_prepare(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        self.initial(request, *args, **kwargs)
        # Parse the body here too, off the event loop; a parse error surfaces later as usual.
        try:
            request.data  # noqa: B018 - forces DRF to parse and cache the body
        except Exception:  # noqa: S110 - re-raised on first access in the handler
            pass
        # A handler's synchronous set-up (checks, database reads) runs in the same thread round trip as
        # authentication: one hop per request instead of two, measured ~0.4 ms before the first byte.
        prepare = getattr(self, f"prepare_{request.method.lower()}", None)
        return prepare(request, *args, **kwargs) if prepare is not None else None
