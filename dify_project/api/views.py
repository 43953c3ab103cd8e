"""Base views: input validation in Dify's error shape and workspace scoping that fails closed."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from dify_project.api.errors import Forbidden, InvalidParam

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
