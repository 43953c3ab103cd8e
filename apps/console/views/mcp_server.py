"""Console endpoints of an app's MCP server (Dify's `controllers/console/app/mcp_server.py`): read it,
enable it with a description and parameter descriptions, change or disable it, refresh its server code.
Every member reads; editors write."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.console.views.common import APP_ID, EDITORS, AppApiView
from apps.services import mcp_server as services


class ServerOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    server_code = serializers.CharField()
    description = serializers.CharField()
    status = serializers.CharField(help_text="active | inactive")
    parameters = serializers.DictField(help_text="{input variable: description}")
    created_at = serializers.IntegerField()
    updated_at = serializers.IntegerField()


class ServerIn(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4000)
    parameters = serializers.DictField(child=serializers.JSONField())


class ServerUpdateIn(ServerIn):
    id = serializers.UUIDField()
    status = serializers.CharField(required=False, allow_null=True, max_length=16)


class AppMCPServerApi(AppApiView):
    @extend_schema(parameters=[APP_ID], responses=ServerOut)
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        return Response(services.app_mcp_server_out(services.app_mcp_server_get(app=app)))

    @extend_schema(parameters=[APP_ID], request=ServerIn, responses=ServerOut)
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(ServerIn, request.data)
        server = services.app_mcp_server_create(
            app=app, description=data.get("description"), parameters=data["parameters"]
        )
        return Response(services.app_mcp_server_out(server), status=201)

    @extend_schema(parameters=[APP_ID], request=ServerUpdateIn, responses=ServerOut)
    def put(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(ServerUpdateIn, request.data)
        server = services.app_mcp_server_update(
            app=app,
            server_id=str(data["id"]),
            description=data.get("description"),
            parameters=data["parameters"],
            status=data.get("status"),
        )
        return Response(services.app_mcp_server_out(server))


class AppMCPServerRefreshApi(AppApiView):
    """Dify addresses this one by the server's id (`apps/<server_id>/server/refresh`); a GET that writes,
    so editors only."""

    read_roles = EDITORS

    @extend_schema(responses=ServerOut, parameters=[])
    def get(self, request: Request, server_id: str) -> Response:
        server = services.app_mcp_server_refresh(tenant=request.tenant, server_id=server_id)
        return Response(services.app_mcp_server_out(server))
