"""Console endpoints for tool providers, on Dify's paths under /console/api/workspaces/current/.

Everyone in the workspace reads (provider lists, tools, an API provider's settings with its key masked,
parsing a schema). Owners and admins add, update and delete API tool providers; owners, admins and
editors may make the outbound calls (test an operation, fetch a remote schema). Builtin icons are public,
as in Dify: an <img> tag sends no token.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import TenantRole
from dify_project.api.errors import InvalidParam
from dify_project.api.fields import ResultOut
from dify_project.api.views import ApiView, AsyncApiView, WorkspaceApiView
from providers.tools import builtin_credentials as tool_keys
from providers.tools import mcp_services, selectors, services
from providers.tools import serializers as s

SUCCESS = {"result": "success"}
PROVIDER_PARAM = OpenApiParameter(
    "provider", str, OpenApiParameter.PATH, description="`time`, `langgenius/time` or `langgenius/time/time`"
)
ICON_MAX_AGE = 3600  # Dify's TOOL_ICON_CACHE_MAX_AGE


class ToolApiView(WorkspaceApiView):
    """Reads for every member, changes for owners and admins."""

    write_roles = TenantRole.privileged()


class ToolCallApiView(AsyncApiView, WorkspaceApiView):
    """Endpoints that call out to a user-given URL: owners, admins and editors; async, so the wait for
    the remote server holds no worker thread."""

    read_roles = TenantRole.editing()
    write_roles = TenantRole.editing()


# --- all providers ---------------------------------------------------------------------------------------


class ToolProviderListApi(ToolApiView):
    @extend_schema(parameters=[s.ProviderListQuery], responses=s.ToolProviderOut(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ProviderListQuery, request)
        return Response(selectors.tool_providers_out(tenant=request.tenant, provider_type=query.get("type")))


class BuiltinToolListApi(ToolApiView):
    @extend_schema(responses=s.ToolProviderOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(selectors.builtin_providers_out(tenant=request.tenant))


class ApiToolListApi(ToolApiView):
    @extend_schema(responses=s.ToolProviderOut(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.api_tool_providers_list(tenant=request.tenant)
        return Response([selectors.api_provider_out(row) for row in rows])


# --- builtin providers -----------------------------------------------------------------------------------


class BuiltinProviderToolsApi(ToolApiView):
    @extend_schema(parameters=[PROVIDER_PARAM], responses=s.ToolOut(many=True))
    def get(self, request: Request, provider: str) -> Response:
        found = selectors.builtin_provider_get(provider=provider)
        return Response(selectors.builtin_tools_out(found))


class BuiltinProviderInfoApi(ToolApiView):
    @extend_schema(parameters=[PROVIDER_PARAM], responses=s.ToolProviderOut)
    def get(self, request: Request, provider: str) -> Response:
        found = selectors.builtin_provider_get(provider=provider)
        authorized = selectors.builtin_authorized(tenant=request.tenant)
        return Response(selectors.builtin_provider_out(found, authorized=authorized))


class BuiltinProviderCredentialsApi(ToolApiView):
    """The workspace's credentials for the provider, secrets masked (empty for providers needing none)."""

    @extend_schema(parameters=[PROVIDER_PARAM], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, provider: str) -> Response:
        return Response(tool_keys.builtin_credentials_out(tenant=request.tenant, provider=provider))


class BuiltinProviderCredentialInfoApi(ToolApiView):
    @extend_schema(parameters=[PROVIDER_PARAM], responses=s.CredentialInfoOut)
    def get(self, request: Request, provider: str) -> Response:
        return Response(tool_keys.builtin_credential_info_out(tenant=request.tenant, provider=provider))


class BuiltinProviderCredentialSchemaApi(ToolApiView):
    @extend_schema(
        parameters=[PROVIDER_PARAM, OpenApiParameter("credential_type", str, OpenApiParameter.PATH)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, provider: str, credential_type: str = tool_keys.API_KEY) -> Response:
        return Response(
            tool_keys.builtin_credentials_schema_out(provider=provider, credential_type=credential_type)
        )


class BuiltinCredentialApiView(AsyncApiView, WorkspaceApiView):
    """Credential writes: owners and admins, as in Dify; async, since saving waits on a check call."""

    write_roles = TenantRole.privileged()


class BuiltinProviderAddApi(BuiltinCredentialApiView):
    class Input(serializers.Serializer):
        credentials = serializers.DictField()
        type = serializers.CharField(default=tool_keys.API_KEY)
        name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=256)

    @extend_schema(parameters=[PROVIDER_PARAM], request=Input, responses=ResultOut)
    async def post(self, request: Request, provider: str) -> Response:
        data = self.validate(self.Input, request.data)
        await tool_keys.builtin_credential_add(
            tenant=request.tenant,
            account=request.user,
            provider=provider,
            credentials=data["credentials"],
            credential_type=data["type"],
            name=data.get("name"),
        )
        return Response(SUCCESS)


class BuiltinProviderUpdateApi(BuiltinCredentialApiView):
    class Input(serializers.Serializer):
        credential_id = serializers.CharField()
        credentials = serializers.DictField(required=False, allow_null=True)
        name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=256)

    @extend_schema(parameters=[PROVIDER_PARAM], request=Input, responses=ResultOut)
    async def post(self, request: Request, provider: str) -> Response:
        data = self.validate(self.Input, request.data)
        await tool_keys.builtin_credential_update(
            tenant=request.tenant,
            provider=provider,
            credential_id=data["credential_id"],
            credentials=data.get("credentials"),
            name=data.get("name"),
        )
        return Response(SUCCESS)


class BuiltinProviderDeleteApi(ToolApiView):
    class Input(serializers.Serializer):
        credential_id = serializers.CharField()

    @extend_schema(parameters=[PROVIDER_PARAM], request=Input, responses=ResultOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(self.Input, request.data)
        tool_keys.builtin_credential_delete(
            tenant=request.tenant, provider=provider, credential_id=data["credential_id"]
        )
        return Response(SUCCESS)


class BuiltinProviderDefaultCredentialApi(ToolApiView):
    class Input(serializers.Serializer):
        id = serializers.CharField()

    @extend_schema(parameters=[PROVIDER_PARAM], request=Input, responses=ResultOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(self.Input, request.data)
        tool_keys.builtin_credential_set_default(
            tenant=request.tenant, provider=provider, credential_id=data["id"]
        )
        return Response(SUCCESS)


class BuiltinProviderIconApi(ApiView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(parameters=[PROVIDER_PARAM], responses={(200, "image/svg+xml"): OpenApiTypes.BINARY})
    def get(self, request: Request, provider: str) -> HttpResponse:
        found = selectors.builtin_provider_get(provider=provider)
        content, mime_type = found.icon_bytes()
        response = HttpResponse(content, content_type=mime_type)
        response["Cache-Control"] = f"max-age={ICON_MAX_AGE}"
        return response


# --- API (OpenAPI) providers -----------------------------------------------------------------------------


class ApiProviderAddApi(ToolApiView):
    @extend_schema(request=s.ApiProviderIn, responses=ResultOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.ApiProviderIn, request.data)
        services.api_tool_provider_create(
            tenant=request.tenant,
            user=request.user,
            name=data["provider"],
            icon=data["icon"],
            credentials=data["credentials"],
            schema_type=data["schema_type"],
            schema=data["schema"],
            privacy_policy=data.get("privacy_policy") or "",
            custom_disclaimer=data.get("custom_disclaimer") or "",
            labels=data.get("labels") or [],
        )
        return Response(SUCCESS)


class ApiProviderUpdateApi(ToolApiView):
    @extend_schema(request=s.ApiProviderUpdateIn, responses=ResultOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.ApiProviderUpdateIn, request.data)
        services.api_tool_provider_update(
            tenant=request.tenant,
            user=request.user,
            original_name=data["original_provider"],
            name=data["provider"],
            icon=data["icon"],
            credentials=data["credentials"],
            schema_type=data["schema_type"],
            schema=data["schema"],
            privacy_policy=data.get("privacy_policy") or "",
            custom_disclaimer=data.get("custom_disclaimer") or "",
            labels=data.get("labels"),
        )
        return Response(SUCCESS)


class ApiProviderDeleteApi(ToolApiView):
    @extend_schema(request=s.ApiProviderDeleteIn, responses=ResultOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.ApiProviderDeleteIn, request.data)
        services.api_tool_provider_delete(tenant=request.tenant, name=data["provider"])
        return Response(SUCCESS)


class ApiProviderGetApi(ToolApiView):
    @extend_schema(parameters=[s.ProviderNameQuery], responses=s.ApiProviderOut)
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ProviderNameQuery, request)
        row = selectors.api_tool_provider_get(tenant=request.tenant, name=query["provider"])
        return Response(selectors.api_provider_detail_out(row))


class ApiProviderToolsApi(ToolApiView):
    @extend_schema(parameters=[s.ProviderNameQuery], responses=s.ToolOut(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ProviderNameQuery, request)
        row = selectors.api_tool_provider_get(tenant=request.tenant, name=query["provider"])
        return Response(selectors.api_tools_out(row))


class ApiProviderSchemaApi(WorkspaceApiView):
    """Parsing saves nothing and calls nothing: every member may."""

    @extend_schema(request=s.SchemaIn, responses=s.SchemaOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.SchemaIn, request.data)
        return Response(services.api_tool_schema_parse(schema=data["schema"]))


class ApiProviderTestPreviewApi(ToolCallApiView):
    @extend_schema(
        request=s.TestPreviewIn,
        responses=OpenApiResponse(s.TestPreviewOut, description="`result`, or `error` when the call failed"),
    )
    async def post(self, request: Request) -> Response:
        data = self.validate(s.TestPreviewIn, request.data)
        answer = await services.api_tool_test_preview(
            tenant=request.tenant,
            provider_name=data.get("provider_name") or "",
            tool_name=data["tool_name"],
            credentials=data["credentials"],
            parameters=data["parameters"],
            schema_type=data["schema_type"],
            schema=data["schema"],
        )
        return Response(answer)


class ApiProviderRemoteSchemaApi(ToolCallApiView):
    @extend_schema(parameters=[s.RemoteSchemaQuery], responses=s.RemoteSchemaOut)
    async def get(self, request: Request) -> Response:
        query = self.validate_query(s.RemoteSchemaQuery, request)
        return Response(await services.api_tool_remote_schema(url=query["url"]))


# --- MCP providers ---------------------------------------------------------------------------------------


class McpProviderApi(ToolApiView):
    """`tool-provider/mcp`: add (POST), change (PUT), remove (DELETE) a workspace's MCP server."""

    @extend_schema(request=s.McpProviderIn, responses=s.McpProviderOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.McpProviderIn, request.data)
        row = mcp_services.mcp_provider_create(tenant=request.tenant, user=request.user, **_mcp_fields(data))
        return Response(selectors.mcp_provider_out(row))

    @extend_schema(request=s.McpProviderUpdateIn, responses=ResultOut)
    def put(self, request: Request) -> Response:
        data = self.validate(s.McpProviderUpdateIn, request.data)
        mcp_services.mcp_provider_update(
            tenant=request.tenant, provider_id=data["provider_id"], **_mcp_fields(data)
        )
        return Response(SUCCESS)

    @extend_schema(request=s.McpProviderIdIn, responses=ResultOut)
    def delete(self, request: Request) -> Response:
        data = self.validate(s.McpProviderIdIn, request.data)
        mcp_services.mcp_provider_delete(tenant=request.tenant, provider_id=data["provider_id"])
        return Response(SUCCESS)


def _mcp_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "server_url": data["server_url"],
        "name": data["name"],
        "icon": data["icon"],
        "icon_type": data["icon_type"],
        "icon_background": data.get("icon_background"),
        "server_identifier": data["server_identifier"],
        "timeout": data.get("timeout"),
        "sse_read_timeout": data.get("sse_read_timeout"),
        "headers": data.get("headers"),
    }


class McpProviderAuthApi(ToolCallApiView):
    """`tool-provider/mcp/auth`: connect to the server; on success it is authorised and its tools kept.
    A server that wants OAuth answers `{"authorization_url"}`; `authorization_code` finishes that flow."""

    @extend_schema(request=s.McpAuthIn, responses=ResultOut)
    async def post(self, request: Request) -> Response:
        data = self.validate(s.McpAuthIn, request.data)
        answer = await mcp_services.mcp_provider_authorize(
            tenant=request.tenant,
            provider_id=data["provider_id"],
            redirect_uri=_mcp_oauth_redirect_uri(request),
            authorization_code=data.get("authorization_code") or None,
        )
        return Response(answer)


MCP_OAUTH_CALLBACK = "/console/api/mcp/oauth/callback"


def _mcp_oauth_redirect_uri(request: Request) -> str:
    """Dify's `{CONSOLE_API_URL}/console/api/mcp/oauth/callback`; without the setting, this host."""
    base = settings.CONSOLE_API_URL.rstrip("/")
    return f"{base}{MCP_OAUTH_CALLBACK}" if base else request.build_absolute_uri(MCP_OAUTH_CALLBACK)


class McpOAuthCallbackApi(AsyncApiView):
    """`mcp/oauth/callback?code=&state=`: the browser's return from the MCP server's authorization server.
    No login: the single-use, expiring state names the workspace and provider. Finishes the exchange and
    redirects to the console (Dify's `{CONSOLE_WEB_URL}/oauth-callback`); a bad state answers 400."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    class Query(serializers.Serializer):
        state = serializers.CharField(max_length=256)
        code = serializers.CharField(required=False, allow_blank=True, max_length=4096)
        error = serializers.CharField(required=False, allow_blank=True, max_length=256)

    @extend_schema(parameters=[Query], responses={302: None})
    async def get(self, request: Request) -> HttpResponse:
        query = self.validate_query(self.Query, request)
        if query.get("error") and not query.get("code"):
            raise InvalidParam(f"The MCP server's authorization server refused: {query['error']}")
        await mcp_services.mcp_oauth_callback(state=query["state"], code=query.get("code") or "")
        return HttpResponseRedirect(f"{(settings.CONSOLE_WEB_URL or '').rstrip('/')}/oauth-callback")


class McpProviderDetailApi(ToolApiView):
    @extend_schema(responses=s.McpProviderOut)
    def get(self, request: Request, provider_id: str) -> Response:
        row = selectors.mcp_provider_get(tenant=request.tenant, provider_id=provider_id)
        return Response(selectors.mcp_provider_out(row))


class McpProviderRefreshApi(ToolCallApiView):
    """`tool-provider/mcp/update/<id>`: list the server's tools again."""

    @extend_schema(responses=s.McpProviderOut)
    async def get(self, request: Request, provider_id: str) -> Response:
        row = await mcp_services.mcp_provider_refresh_tools(tenant=request.tenant, provider_id=provider_id)
        return Response(selectors.mcp_provider_out(row))


class McpToolListApi(ToolApiView):
    """`tools/mcp`: the workspace's MCP providers, addressed by server identifier (as tool nodes are)."""

    @extend_schema(responses=s.McpProviderOut(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.mcp_providers_list(tenant=request.tenant)
        return Response([selectors.mcp_provider_out(row, for_list=False) for row in rows])
