"""Console routes for plugins, mounted under /console/api/ (Dify's paths)."""

from django.urls import path

from plugins import views

_P = "workspaces/current/plugin"

urlpatterns = [
    path(f"{_P}/list", views.PluginListApi.as_view()),
    path(f"{_P}/list/installations/ids", views.PluginInstallationsFromIdsApi.as_view()),
    path(f"{_P}/upload/pkg", views.PluginUploadPkgApi.as_view()),
    path(f"{_P}/install/pkg", views.PluginInstallPkgApi.as_view()),
    path(f"{_P}/tasks", views.PluginTaskListApi.as_view()),
    path(f"{_P}/tasks/<str:task_id>", views.PluginTaskApi.as_view()),
    path(f"{_P}/uninstall", views.PluginUninstallApi.as_view()),
    path(f"{_P}/fetch-manifest", views.PluginManifestApi.as_view()),
]
