from django.apps import AppConfig


class TriggersConfig(AppConfig):
    """Dify's trigger roots served: webhook URLs (``/triggers/webhook/{id}``) and schedules on Celery Beat."""

    name = "triggers"
    verbose_name = "Triggers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from triggers import receivers  # noqa: F401 - connects the published-version and delete hooks
