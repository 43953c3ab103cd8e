"""Console routes for model providers, mounted under /console/api/ (Dify's paths).

`<path:provider>` takes `openai` as well as `langgenius/openai/openai`; the routes with the longest
literal tails come first, so a plugin-style id never swallows a route's own segments.
"""

from django.urls import path

from providers import views

_P = "workspaces/current/model-providers/<path:provider>"

urlpatterns = [
    path("workspaces/current/model-providers", views.ModelProviderListApi.as_view()),
    path(
        f"{_P}/models/load-balancing-configs/credentials-validate",
        views.LoadBalancingCredentialsValidateApi.as_view(),
    ),
    path(
        f"{_P}/models/load-balancing-configs/<uuid:config_id>/credentials-validate",
        views.LoadBalancingConfigCredentialsValidateApi.as_view(),
    ),
    path(f"{_P}/models/load-balancing-configs", views.LoadBalancingConfigApi.as_view()),
    path(f"{_P}/models/credentials/switch", views.ModelProviderModelCredentialSwitchApi.as_view()),
    path(f"{_P}/models/credentials/validate", views.ModelProviderModelValidateApi.as_view()),
    path(f"{_P}/models/credentials", views.ModelProviderModelCredentialApi.as_view()),
    path(f"{_P}/models/enable", views.ModelProviderModelEnableApi.as_view()),
    path(f"{_P}/models/disable", views.ModelProviderModelDisableApi.as_view()),
    path(f"{_P}/models/parameter-rules", views.ModelProviderModelParameterRuleApi.as_view()),
    path(f"{_P}/models/pricing", views.ModelPriceApi.as_view()),
    path(f"{_P}/models", views.ModelProviderModelApi.as_view()),
    path(f"{_P}/credentials/switch", views.ModelProviderCredentialSwitchApi.as_view()),
    path(f"{_P}/credentials/validate", views.ModelProviderValidateApi.as_view()),
    path(f"{_P}/credentials", views.ModelProviderCredentialApi.as_view()),
    path("workspaces/current/models/model-types/<str:model_type>", views.ModelsByTypeApi.as_view()),
    path("workspaces/current/default-model", views.DefaultModelApi.as_view()),
]
