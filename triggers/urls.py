"""Public trigger paths, mounted at ``/triggers/`` (Dify's)."""

from django.urls import path

from triggers import views

urlpatterns = [path("webhook/<str:webhook_id>", views.WebhookApi.as_view())]
