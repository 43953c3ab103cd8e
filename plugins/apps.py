from django.apps import AppConfig


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = "Dify plugins"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Plugin model providers join the provider catalogue, plugin tools the tool port; the providers
        # app never imports this one.
        from plugins import registry

        registry.install_hooks()
