from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dify_project.api import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("openapi.json", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="swagger-ui"),
    path("console/api/", include("accounts.urls")),
    path("console/api/", include("apps.console.urls")),
    path("console/api/", include("providers.urls")),
    path("console/api/", include("providers.tools.urls")),
    path("console/api/", include("knowledge.urls")),
    path("console/api/", include("triggers.console_urls")),
    path("console/api/", include("plugins.urls")),
    path("v1/", include("providers.service_api_urls")),
    path("v1/", include("knowledge.service_api_urls")),
    path("v1/", include("apps.service_api.urls")),
    path("api/", include("apps.web.urls")),
    path("mcp/", include("apps.mcp.urls")),
    path("triggers/", include("triggers.urls")),
    path("files/", include("files.urls")),
    path("", include("apps.web.page_urls")),
]

handler400 = "dify_project.api.errors.handler400"
handler403 = "dify_project.api.errors.handler403"
handler404 = "dify_project.api.errors.handler404"
handler500 = "dify_project.api.errors.handler500"
