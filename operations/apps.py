from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Scheduled maintenance (retention, recovery, expiry) over the domains' services."""

    name = "operations"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"
