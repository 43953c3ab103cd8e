from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(_load_sqlite_vec, dispatch_uid="knowledge.sqlite_vec")


def _load_sqlite_vec(sender: object, connection: object, **kwargs: object) -> None:
    """Load sqlite-vec into each new SQLite connection whose driver allows extensions (a no-op elsewhere:
    the search store then uses exact cosine, and says so in the log)."""
    if getattr(connection, "vendor", None) != "sqlite":
        return
    from knowledge.index.stores import load_sqlite_vec

    raw = getattr(connection, "connection", None)
    if raw is not None:
        load_sqlite_vec(raw)
