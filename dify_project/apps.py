import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("dify_project")


class ProjectConfig(AppConfig):
    """The project package as an app: operator commands (run_platform, rotate_secrets) live here."""

    name = "dify_project"
    verbose_name = "Platform"

    def ready(self) -> None:
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        logger.debug("runtime mode %s (database %s)", settings.RUNTIME_MODE, database)
        from dify_project import tracing

        tracing.configure()  # only when OTEL_EXPORTER_OTLP_ENDPOINT is set
