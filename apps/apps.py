from django.apps import AppConfig


class AppsConfig(AppConfig):
    # "apps" is Dify's word for an LLM application; the label keeps Django's registry unambiguous.
    name = "apps"
    label = "llm_apps"
    verbose_name = "LLM apps"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.services import app_cache  # noqa: F401 - connects the signals that keep the app cache fresh
        from apps.services.workflow_tools import AppWorkflowTools
        from providers.tools.port import register_workflow_tools

        # Tool nodes and agents reach workflow-as-tool through the workspace's tool port.
        register_workflow_tools(AppWorkflowTools())

        from apps.services.budgets import BudgetGuard
        from providers.services.invocation.guards import register_call_guard

        # Cost budgets are checked before every LLM call (providers cannot import apps).
        register_call_guard(BudgetGuard())
