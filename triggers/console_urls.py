"""Console trigger paths, mounted at ``/console/api/`` (Dify's, plus the signing secret of ours)."""

from django.urls import path

from triggers import views

urlpatterns = [
    path("apps/<str:app_id>/workflows/triggers/webhook", views.WebhookTriggerApi.as_view()),
    path(
        "apps/<str:app_id>/workflows/triggers/webhook/signing-secret",
        views.WebhookSigningSecretApi.as_view(),
    ),
    path("apps/<str:app_id>/triggers", views.AppTriggersApi.as_view()),
    path("apps/<str:app_id>/trigger-enable", views.AppTriggerEnableApi.as_view()),
]
