from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Model and tool providers"
    default_auto_field = "django.db.models.BigAutoField"
