from django.urls import path

from apps.mcp import views

urlpatterns = [path("server/<str:server_code>/mcp", views.McpServerApi.as_view())]
