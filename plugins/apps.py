from django.apps import AppConfig


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = "Dify plugins"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Plugin model providers join the provider catalogue and the adapter registry, plugin tools the
        # tool port; the providers app never imports this one. Here, not in the registry: the adapter and
        # the tool backend import the registry.
        from plugins import registry
        from plugins.model_adapter import PluginModelAdapter
        from plugins.tools import PluginToolBackend
        from providers.runtime.adapters import ADAPTER_CLASSES
        from providers.runtime.catalogue import default_catalogue
        from providers.tools.port import register_plugin_tools

        ADAPTER_CLASSES[PluginModelAdapter.name] = PluginModelAdapter
        default_catalogue().add_source(registry.catalogue_source)
        register_plugin_tools(PluginToolBackend())
