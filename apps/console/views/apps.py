"""Apps: list, create, read, update, copy, delete, publication toggles, export, templates."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps import selectors
from apps.console import presenters
from apps.console import serializers as s
from apps.console.views.common import ADMINS, APP_ID, EDITORS, AppApiView, ConsoleApiView
from apps.services import app_dsl, apps_crud
from dify_project.api.pagination import paginate


def _detail(request: Request, app_id: object) -> dict:
    app = selectors.app_get(tenant=request.tenant, app_id=app_id)
    return presenters.app_detail(app, request, tenant=request.tenant)


class AppListApi(ConsoleApiView):
    """Apps of your workspace: members list them, editors create them."""

    read_roles = None
    write_roles = EDITORS

    @extend_schema(
        operation_id="console_api_apps_list",
        parameters=[s.ConsoleAppListQuery],
        responses=s.ConsoleAppPageOut,
        summary="List the workspace's apps",
    )
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ConsoleAppListQuery, request)
        mode = query["mode"]
        apps = selectors.app_list(
            tenant=request.tenant,
            mode=None if mode in ("all", "channel") else mode,
            name=query.get("name") or None,
            tag_ids=query.get("tag_ids") or None,
            created_by=request.user.id if query["is_created_by_me"] else None,
        )
        return Response(
            paginate(
                apps,
                page=query["page"],
                limit=query["limit"],
                render=lambda rows: presenters.app_list(rows, tenant=request.tenant),
            )
        )

    @extend_schema(
        request=s.ConsoleAppCreateIn,
        responses={201: s.ConsoleAppDetailOut},
        summary="Create an app (blank, with the mode's defaults, or from a template)",
    )
    def post(self, request: Request) -> Response:
        data = self.validate(s.ConsoleAppCreateIn, request.data)
        common = {
            "tenant": request.tenant,
            "account": request.user,
            "description": data.get("description") or "",
            "icon_type": data.get("icon_type"),
            "icon": data.get("icon"),
            "icon_background": data.get("icon_background"),
        }
        if data.get("template"):
            app = app_dsl.app_create_from_template(template_id=data["template"], name=data["name"], **common)
        else:
            app = apps_crud.app_create(name=data["name"], mode=data["mode"], **common)
        return Response(_detail(request, app.id), status=201)


class AppTemplateListApi(ConsoleApiView):
    """Templates shipped with the platform, to create apps from."""

    @extend_schema(responses=s.ConsoleTemplateListOut, summary="App templates shipped with the platform")
    def get(self, request: Request) -> Response:
        return Response({"data": app_dsl.template_list()})


class AppApi(AppApiView):
    @extend_schema(parameters=[APP_ID], responses=s.ConsoleAppDetailOut, summary="App detail")
    def get(self, request: Request, app_id: str) -> Response:
        return Response(_detail(request, app_id))

    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleAppUpdateIn,
        responses=s.ConsoleAppDetailOut,
        summary="Update an app",
    )
    def put(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleAppUpdateIn, request.data)
        apps_crud.app_update(app=app, account=request.user, data=data)
        return Response(_detail(request, app.id))

    @extend_schema(
        parameters=[APP_ID], request=None, responses={204: None}, summary="Delete an app and all it owns"
    )
    def delete(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        apps_crud.app_delete(app=app)
        return Response(status=204)


class AppCopyApi(AppApiView):
    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleAppCopyIn,
        responses={201: s.ConsoleAppDetailOut},
        summary="Copy an app",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleAppCopyIn, request.data or {})
        copy = app_dsl.app_copy(
            tenant=request.tenant,
            account=request.user,
            app=app,
            name=data.get("name") or None,
            description=data.get("description"),
            icon_type=data.get("icon_type"),
            icon=data.get("icon"),
            icon_background=data.get("icon_background"),
        )
        return Response(_detail(request, copy.id), status=201)


class AppExportApi(AppApiView):
    """Export one app of your workspace as DSL (editors only: it may carry secrets)."""

    read_roles = EDITORS  # the export may carry secrets

    @extend_schema(
        parameters=[APP_ID, s.ConsoleExportQuery],
        responses=s.ConsoleExportOut,
        summary="Export the app as DSL YAML",
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        query = self.validate_query(s.ConsoleExportQuery, request)
        text = app_dsl.app_export(
            app=app, include_secret=query["include_secret"], workflow_id=query.get("workflow_id") or None
        )
        return Response({"data": text})


class AppNameApi(AppApiView):
    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleAppNameIn,
        responses=s.ConsoleAppDetailOut,
        summary="Rename an app",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleAppNameIn, request.data)
        apps_crud.app_update(app=app, account=request.user, data={"name": data["name"]})
        return Response(_detail(request, app.id))


class AppIconApi(AppApiView):
    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleAppIconIn,
        responses=s.ConsoleAppDetailOut,
        summary="Change an app's icon",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleAppIconIn, request.data)
        apps_crud.app_update(app=app, account=request.user, data=data)
        return Response(_detail(request, app.id))


class AppSiteStatusApi(AppApiView):
    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleSiteEnableIn,
        responses=s.ConsoleAppDetailOut,
        summary="Turn the web app on or off",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleSiteEnableIn, request.data)
        apps_crud.app_set_site_enabled(app=app, account=request.user, enabled=data["enable_site"])
        return Response(_detail(request, app.id))


class AppApiStatusApi(AppApiView):
    """Turn one app's Service API on or off (admins and owners)."""

    write_roles = ADMINS

    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleApiEnableIn,
        responses=s.ConsoleAppDetailOut,
        summary="Turn the Service API on or off",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleApiEnableIn, request.data)
        apps_crud.app_set_api_enabled(app=app, account=request.user, enabled=data["enable_api"])
        return Response(_detail(request, app.id))
