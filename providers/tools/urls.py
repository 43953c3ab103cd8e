"""Console routes for tool providers, mounted under /console/api/ (Dify's paths).

`<path:provider>` takes `time` as well as `langgenius/time/time`; every builtin route ends in a literal
segment, and the routes with the longest literal tails come first, so a plugin-style id never swallows a
route's own segments.
"""

from django.urls import path

from providers.tools import views

_B = "workspaces/current/tool-provider/builtin/<path:provider>"
_A = "workspaces/current/tool-provider/api"
_M = "workspaces/current/tool-provider/mcp"

urlpatterns = [
    path("workspaces/current/tool-providers", views.ToolProviderListApi.as_view()),
    # Longest literal tails first: `<path:provider>/info` would also match `x/credential/info`.
    path(f"{_B}/credential/schema/<str:credential_type>", views.BuiltinProviderCredentialSchemaApi.as_view()),
    path(f"{_B}/credential/info", views.BuiltinProviderCredentialInfoApi.as_view()),
    path(f"{_B}/credentials_schema", views.BuiltinProviderCredentialSchemaApi.as_view()),  # Dify < 1.6
    path(f"{_B}/default-credential", views.BuiltinProviderDefaultCredentialApi.as_view()),
    path(f"{_B}/credentials", views.BuiltinProviderCredentialsApi.as_view()),
    path(f"{_B}/add", views.BuiltinProviderAddApi.as_view()),
    path(f"{_B}/update", views.BuiltinProviderUpdateApi.as_view()),
    path(f"{_B}/delete", views.BuiltinProviderDeleteApi.as_view()),
    path(f"{_B}/tools", views.BuiltinProviderToolsApi.as_view()),
    path(f"{_B}/info", views.BuiltinProviderInfoApi.as_view()),
    path(f"{_B}/icon", views.BuiltinProviderIconApi.as_view()),
    path(f"{_A}/add", views.ApiProviderAddApi.as_view()),
    path(f"{_A}/update", views.ApiProviderUpdateApi.as_view()),
    path(f"{_A}/delete", views.ApiProviderDeleteApi.as_view()),
    path(f"{_A}/get", views.ApiProviderGetApi.as_view()),
    path(f"{_A}/tools", views.ApiProviderToolsApi.as_view()),
    path(f"{_A}/schema", views.ApiProviderSchemaApi.as_view()),
    path(f"{_A}/test/pre", views.ApiProviderTestPreviewApi.as_view()),
    path(f"{_A}/remote", views.ApiProviderRemoteSchemaApi.as_view()),
    path(_M, views.McpProviderApi.as_view()),
    path(f"{_M}/auth", views.McpProviderAuthApi.as_view()),
    path(f"{_M}/tools/<path:provider_id>", views.McpProviderDetailApi.as_view()),
    path(f"{_M}/update/<path:provider_id>", views.McpProviderRefreshApi.as_view()),
    path("mcp/oauth/callback", views.McpOAuthCallbackApi.as_view()),
    path("workspaces/current/tools/builtin", views.BuiltinToolListApi.as_view()),
    path("workspaces/current/tools/api", views.ApiToolListApi.as_view()),
    path("workspaces/current/tools/mcp", views.McpToolListApi.as_view()),
]
