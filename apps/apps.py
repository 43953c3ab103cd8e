from django.apps import AppConfig


class AppsConfig(AppConfig):
    # "apps" is Dify's word for an LLM application; the label keeps Django's registry unambiguous.
    name = "apps"
    label = "llm_apps"
    verbose_name = "LLM apps"
    default_auto_field = "django.db.models.BigAutoField"
