from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Scheduled maintenance (retention, recovery, expiry) over the domains' services, and the figures
    /metrics reads at scrape time (Celery queue depth, indexing backlog)."""

    name = "operations"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dify_project.metrics import register_scrape_collector
        from operations import gauges

        register_scrape_collector("celery_queue_depth", gauges.celery_queue_depth)
        register_scrape_collector("indexing_backlog", gauges.indexing_backlog)
