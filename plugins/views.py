"""Console endpoints for plugins, on Dify's paths under /console/api/workspaces/current/plugin/.

Every member lists; owners and admins upload, install and uninstall (Dify's default install permission
lets everyone; plugins run third-party code, so we keep it to the privileged roles).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import TenantRole
from dify_project.api.errors import InvalidParam
from dify_project.api.parsers import SafeJSONParser
from dify_project.api.views import WorkspaceApiView
from plugins import selectors, services

TAGS = ["Plugins"]


class PluginApiView(WorkspaceApiView):
    write_roles = TenantRole.privileged()


class InstallIn(serializers.Serializer):
    plugin_unique_identifiers = serializers.ListField(
        child=serializers.CharField(max_length=255), min_length=1, max_length=64
    )


class UninstallIn(serializers.Serializer):
    plugin_installation_id = serializers.CharField(max_length=64)


class IdsIn(serializers.Serializer):
    plugin_ids = serializers.ListField(child=serializers.CharField(max_length=255), max_length=500)


class TaskListQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=256, default=256)


class ManifestQuery(serializers.Serializer):
    plugin_unique_identifier = serializers.CharField(max_length=255)


class PluginListApi(PluginApiView):
    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT, summary="Plugins installed in the workspace")
    def get(self, request: Request) -> Response:
        rows = [selectors.installation_out(r) for r in selectors.installation_list(tenant=request.tenant)]
        return Response({"plugins": rows, "total": len(rows)})


class PluginInstallationsFromIdsApi(PluginApiView):
    read_roles = None
    write_roles = None

    @extend_schema(
        tags=TAGS, request=IdsIn, responses=OpenApiTypes.OBJECT, summary="Installations of plugin ids"
    )
    def post(self, request: Request) -> Response:
        data = self.validate(IdsIn, request.data)
        rows = selectors.installation_list(tenant=request.tenant, plugin_ids=data["plugin_ids"])
        return Response({"plugins": [selectors.installation_out(r) for r in rows]})


class PluginUploadPkgApi(PluginApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=TAGS, request=OpenApiTypes.BINARY, responses=OpenApiTypes.OBJECT, summary="Upload a .difypkg"
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("pkg")
        if upload is None:
            raise InvalidParam("The package is missing: send it as the multipart field 'pkg'.", params="pkg")
        package = services.package_upload(content=upload.read())
        return Response(
            {
                "unique_identifier": package.unique_identifier,
                "manifest": (package.declaration or {}).get("manifest"),
                "verification": None,
            }
        )


class PluginInstallPkgApi(PluginApiView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        tags=TAGS, request=InstallIn, responses=OpenApiTypes.OBJECT, summary="Install uploaded packages"
    )
    def post(self, request: Request) -> Response:
        data = self.validate(InstallIn, request.data)
        task, all_installed = services.plugins_install(
            tenant=request.tenant, unique_identifiers=data["plugin_unique_identifiers"]
        )
        return Response({"all_installed": all_installed, "task_id": str(task.id) if task else ""})


class PluginTaskListApi(PluginApiView):
    @extend_schema(
        tags=TAGS, parameters=[TaskListQuery], responses=OpenApiTypes.OBJECT, summary="Install tasks"
    )
    def get(self, request: Request) -> Response:
        query = self.validate_query(TaskListQuery, request)
        tasks = selectors.install_task_list(
            tenant=request.tenant, page=query["page"], page_size=query["page_size"]
        )
        return Response({"tasks": [selectors.task_out(t) for t in tasks]})


class PluginTaskApi(PluginApiView):
    @extend_schema(tags=TAGS, responses=OpenApiTypes.OBJECT, summary="One install task")
    def get(self, request: Request, task_id: str) -> Response:
        return Response(
            {"task": selectors.task_out(selectors.install_task_get(tenant=request.tenant, task_id=task_id))}
        )


class PluginUninstallApi(PluginApiView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        tags=TAGS, request=UninstallIn, responses=OpenApiTypes.OBJECT, summary="Uninstall a plugin"
    )
    def post(self, request: Request) -> Response:
        data = self.validate(UninstallIn, request.data)
        installation = selectors.installation_get(
            tenant=request.tenant, installation_id=data["plugin_installation_id"]
        )
        services.plugin_uninstall(installation=installation)
        return Response({"success": True})


class PluginManifestApi(PluginApiView):
    @extend_schema(
        tags=TAGS, parameters=[ManifestQuery], responses=OpenApiTypes.OBJECT, summary="A package's manifest"
    )
    def get(self, request: Request) -> Response:
        query = self.validate_query(ManifestQuery, request)
        package = selectors.package_get(unique_identifier=query["plugin_unique_identifier"])
        return Response({"manifest": (package.declaration or {}).get("manifest")})
