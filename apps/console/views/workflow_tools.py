"""Console endpoints of workflow-as-tool providers (Dify's `tool-provider/workflow/*` and
`tools/workflow`), under /console/api/workspaces/current/. Every member reads; owners and admins
create, change and delete, as for API tool providers."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.console.views.common import ADMINS, SUCCESS, ConsoleApiView
from apps.services import workflow_tools as services


class WorkflowToolIn(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    label = serializers.CharField(max_length=255)
    description = serializers.CharField(allow_blank=True)
    icon = serializers.DictField(child=serializers.JSONField())
    parameters = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))
    output_schema = serializers.DictField(required=False, allow_null=True, child=serializers.JSONField())
    privacy_policy = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    labels = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_null=True
    )


class WorkflowToolCreateIn(WorkflowToolIn):
    workflow_app_id = serializers.UUIDField()


class WorkflowToolUpdateIn(WorkflowToolIn):
    workflow_tool_id = serializers.UUIDField()


class WorkflowToolIdIn(serializers.Serializer):
    workflow_tool_id = serializers.UUIDField()


class WorkflowToolQuery(serializers.Serializer):
    workflow_tool_id = serializers.UUIDField(required=False, allow_null=True)
    workflow_app_id = serializers.UUIDField(required=False, allow_null=True)


class WorkflowToolApiView(ConsoleApiView):
    write_roles = ADMINS


def _fields(data: dict) -> dict:
    return {
        "name": data["name"],
        "label": data["label"],
        "icon": data["icon"],
        "description": data["description"],
        "parameters": data["parameters"],
        "privacy_policy": data.get("privacy_policy") or "",
        "labels": data.get("labels"),
    }


class WorkflowToolCreateApi(WorkflowToolApiView):
    @extend_schema(request=WorkflowToolCreateIn, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = self.validate(WorkflowToolCreateIn, request.data)
        services.workflow_tool_create(
            tenant=request.tenant, user=request.user, workflow_app_id=data["workflow_app_id"], **_fields(data)
        )
        return Response(SUCCESS)


class WorkflowToolUpdateApi(WorkflowToolApiView):
    @extend_schema(request=WorkflowToolUpdateIn, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = self.validate(WorkflowToolUpdateIn, request.data)
        services.workflow_tool_update(
            tenant=request.tenant, workflow_tool_id=data["workflow_tool_id"], **_fields(data)
        )
        return Response(SUCCESS)


class WorkflowToolDeleteApi(WorkflowToolApiView):
    @extend_schema(request=WorkflowToolIdIn, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = self.validate(WorkflowToolIdIn, request.data)
        services.workflow_tool_delete(tenant=request.tenant, workflow_tool_id=data["workflow_tool_id"])
        return Response(SUCCESS)


class WorkflowToolGetApi(WorkflowToolApiView):
    @extend_schema(parameters=[WorkflowToolQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = self.validate_query(WorkflowToolQuery, request)
        row = services.workflow_tool_get(
            tenant=request.tenant,
            workflow_tool_id=query.get("workflow_tool_id"),
            workflow_app_id=query.get("workflow_app_id"),
        )
        return Response(services.workflow_tool_detail_out(row))


class WorkflowToolToolsApi(WorkflowToolApiView):
    @extend_schema(parameters=[WorkflowToolIdIn], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = self.validate_query(WorkflowToolIdIn, request)
        row = services.workflow_tool_get(tenant=request.tenant, workflow_tool_id=query["workflow_tool_id"])
        return Response(services.workflow_tool_tools_out(row))


class WorkflowToolListApi(WorkflowToolApiView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(services.workflow_tools_list(tenant=request.tenant))
