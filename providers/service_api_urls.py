"""Service API routes of the providers app, mounted under /v1/ (Dify's paths)."""

from django.urls import path

from providers.service_api import AvailableModelsApi

urlpatterns = [
    path("workspaces/current/models/model-types/<str:model_type>", AvailableModelsApi.as_view()),
]
