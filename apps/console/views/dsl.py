"""DSL import (``/apps/imports``), confirmation of pending imports, and the dependency check.

Answers carry Dify's ``Import`` body with the status Dify uses: 200 completed (or completed with warnings),
202 pending, 400 failed (413 for a file over 10 MB, 404 for an unknown app or import). Failed bodies also
have ``code`` and ``message``, the keys of Dify's error body, naming the problem.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.console import serializers as s
from apps.console.views.common import APP_ID, EDITORS, AppApiView, ConsoleApiView
from apps.services import app_dsl

IMPORT_ID = OpenApiParameter("import_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
_RESPONSES = {
    200: s.ConsoleImportOut,
    202: s.ConsoleImportOut,
    400: s.ConsoleImportOut,
    404: s.ConsoleImportOut,
    413: s.ConsoleImportOut,
}


class AppImportApi(ConsoleApiView):
    """Import an app into your workspace from DSL (editors)."""

    read_roles = EDITORS
    write_roles = EDITORS

    @extend_schema(
        request=s.ConsoleImportIn,
        responses=_RESPONSES,
        summary="Import an app from DSL YAML (content or URL)",
    )
    def post(self, request: Request) -> Response:
        data = self.validate(s.ConsoleImportIn, request.data)
        result = app_dsl.app_import(
            tenant=request.tenant,
            account=request.user,
            mode=data["mode"],
            yaml_content=data.get("yaml_content"),
            yaml_url=data.get("yaml_url"),
            name=data.get("name") or None,
            description=data.get("description"),
            icon_type=data.get("icon_type"),
            icon=data.get("icon"),
            icon_background=data.get("icon_background"),
            app_id=data.get("app_id") or None,
            promotion=app_dsl.Promotion(
                publish=data["publish"],
                marked_name=data["marked_name"],
                marked_comment=data["marked_comment"],
            ),
        )
        return Response(result.body(), status=result.http_status)


class AppImportConfirmApi(ConsoleApiView):
    """Confirm a pending import of your workspace (editors)."""

    read_roles = EDITORS
    write_roles = EDITORS

    @extend_schema(
        parameters=[IMPORT_ID], request=None, responses=_RESPONSES, summary="Confirm a pending import"
    )
    def post(self, request: Request, import_id: str) -> Response:
        result = app_dsl.app_import_confirm(
            tenant=request.tenant, account=request.user, import_id=str(import_id)
        )
        return Response(result.body(), status=result.http_status)


class AppImportCheckDependenciesApi(AppApiView):
    """Dependencies of the last import of one app that are not available (editors)."""

    read_roles = EDITORS

    @extend_schema(
        parameters=[APP_ID],
        responses=s.ConsoleLeakedDependenciesOut,
        summary="Dependencies of the last import that are not available",
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        return Response({"leaked_dependencies": app_dsl.app_import_leaked_dependencies(app=app)})
