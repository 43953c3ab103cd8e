"""Site settings of an app (the web app) and the app's Service API keys."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps import selectors
from apps.console import presenters
from apps.console import serializers as s
from apps.console.views.common import ADMINS, APP_ID, EDITORS, AppApiView
from apps.models import ApiToken, ApiTokenType
from apps.services import sites
from apps.services.api_keys import api_key_create, api_key_delete
from dify_project.api.errors import NotFound

API_KEY_ID = OpenApiParameter("api_key_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class AppSiteApi(AppApiView):
    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleSiteIn,
        responses=s.ConsoleAppSiteOut,
        summary="Update web-app settings",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleSiteIn, request.data)
        site = selectors.site_of(app=app)
        if site is None:
            site = sites.site_create(app=app, account=request.user)
        sites.site_update(site=site, data=data)
        return Response(presenters.site(site, request, with_app_id=True))


class AppSiteAccessTokenResetApi(AppApiView):
    """Reset the web app's access code (admins and owners)."""

    write_roles = ADMINS

    @extend_schema(
        parameters=[APP_ID],
        request=None,
        responses=s.ConsoleAppSiteOut,
        summary="Reset the web app's access code",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        site = selectors.site_of(app=app)
        if site is None:
            raise NotFound("Site not found.")
        sites.site_reset_code(site=site)
        return Response(presenters.site(site, request, with_app_id=True))


class AppApiKeyListApi(AppApiView):
    """Keys are listed by prefix to editors; only admins and owners create or revoke them."""

    read_roles = EDITORS
    write_roles = ADMINS

    @extend_schema(
        parameters=[APP_ID],
        responses=s.ConsoleApiKeyListOut,
        summary="List the app's API keys (prefixes only)",
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        tokens = (
            ApiToken.objects.for_tenant(request.tenant)
            .filter(app=app, type=ApiTokenType.APP)
            .order_by("created_at")
        )
        return Response({"data": [presenters.api_key(t) for t in tokens]})

    @extend_schema(
        parameters=[APP_ID],
        request=None,
        responses={201: s.ConsoleApiKeyOut},
        summary="Create an API key (shown once)",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        token, plain = api_key_create(tenant=request.tenant, type=ApiTokenType.APP, app=app)
        return Response(presenters.api_key(token, plain), status=201)


class AppApiKeyApi(AppApiView):
    """Revoke an API key of one app (admins and owners)."""

    write_roles = ADMINS

    @extend_schema(
        parameters=[APP_ID, API_KEY_ID], request=None, responses={204: None}, summary="Revoke an API key"
    )
    def delete(self, request: Request, app_id: str, api_key_id: str) -> Response:
        app = self.get_app(request, app_id)
        pk = selectors.parse_id(api_key_id, what="API key")
        token = ApiToken.objects.for_tenant(request.tenant).filter(app=app, id=pk).first()
        if token is None:
            raise NotFound("API key not found.")
        api_key_delete(token=token)
        return Response(status=204)
