"""App-level reads: index, parameters, meta, info, site, end users."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import tenant_owner
from apps import exceptions as errors
from apps.models import EndUser, Site, Tag, TagBinding
from apps.parameters import app_parameters
from apps.service_api import serializers as s
from apps.service_api.base import ServiceApiView
from dify_project.api.views import ApiView

SERVER_VERSION = "1.0.0"


class IndexApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "ServiceIndex",
            {
                "welcome": serializers.CharField(),
                "api_version": serializers.CharField(),
                "server_version": serializers.CharField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response({"welcome": "Dify OpenAPI", "api_version": "v1", "server_version": SERVER_VERSION})


class ParametersApi(ServiceApiView):
    @extend_schema(parameters=[s.UserQuery], responses=OpenApiTypes.OBJECT, summary="Input form and features")
    def get(self, request: Request) -> Response:
        return Response(app_parameters(self.app(request)))


class MetaApi(ServiceApiView):
    @extend_schema(responses=inline_serializer("AppMeta", {"tool_icons": serializers.DictField()}))
    def get(self, request: Request) -> Response:
        app = self.app(request)
        icons = {}
        config = app.app_model_config.config if app.app_model_config else {}
        for tool in (config.get("agent_mode") or {}).get("tools") or []:
            name = tool.get("tool_name")
            if name:
                icons[name] = tool.get("icon") or {"background": "#252525", "content": "\ud83d\ude01"}
        return Response({"tool_icons": icons})


class InfoApi(ServiceApiView):
    @extend_schema(responses=s.AppInfoOut)
    def get(self, request: Request) -> Response:
        app = self.app(request)
        tag_ids = TagBinding.objects.filter(target_id=app.id, tenant_id=app.tenant_id).values("tag_id")
        tags = list(Tag.objects.filter(id__in=tag_ids).order_by("name").values_list("name", flat=True))
        author = tenant_owner(tenant=app.tenant)
        return Response(
            {
                "name": app.name,
                "description": app.description,
                "tags": tags,
                "mode": app.mode,
                "author_name": author.name if author else None,
            }
        )


class SiteApi(ServiceApiView):
    @extend_schema(responses=s.SiteOut)
    def get(self, request: Request) -> Response:
        site = Site.objects.filter(app=self.app(request)).first()
        if site is None:
            raise errors.SiteNotFound()
        if site.status != "normal":
            raise errors.AppAbnormal()
        return Response(s.SiteOut(site).data)


class EndUserApi(ServiceApiView):
    @extend_schema(responses=s.EndUserOut)
    def get(self, request: Request, end_user_id: str) -> Response:
        end_user = EndUser.objects.filter(id=end_user_id, app=self.app(request)).first()
        if end_user is None:
            raise errors.EndUserNotFound()
        return Response(s.EndUserOut(end_user).data)
