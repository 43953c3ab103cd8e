from django.apps import AppConfig


class FilesConfig(AppConfig):
    """Uploaded and tool-made files: used by apps (message files, inputs) and knowledge (documents)."""

    name = "files"
    verbose_name = "Files"
    default_auto_field = "django.db.models.BigAutoField"
