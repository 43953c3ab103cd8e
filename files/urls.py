"""Public file routes, mounted under /files/ (Dify's paths)."""

from django.urls import path

from files import views

urlpatterns = [
    path("tools/<uuid:file_id>.<str:extension>", views.ToolFileApi.as_view()),
]
