"""Django admin for operators: workflows, runs, node executions and logs (read-only: they are history)."""

from django.contrib import admin

from workflows.models import Workflow, WorkflowAppLog, WorkflowNodeExecution, WorkflowRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(ReadOnlyAdmin):
    """Published versions are immutable; the draft is edited from the console (its hash guards it)."""

    list_display = ("app_id", "version", "number", "marked_name", "type", "tenant", "created_at")
    list_filter = ("type",)
    list_select_related = ("tenant",)
    search_fields = ("app_id", "marked_name", "version")
    exclude = ("environment_variables",)  # secret values are encrypted there; not for display


class NodeExecutionInline(admin.TabularInline):
    model = WorkflowNodeExecution
    extra = 0
    fields = ("index", "node_id", "node_type", "title", "status", "elapsed_time", "error")
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    ordering = ("index",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WorkflowRun)
class WorkflowRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "app_id",
        "tenant",
        "status",
        "triggered_from",
        "total_tokens",
        "elapsed_time",
        "created_at",
    )
    list_filter = ("status", "triggered_from", "type", "created_at")
    search_fields = ("=id", "=app_id", "tenant__name")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    raw_id_fields = ("tenant", "workflow")
    exclude = ("graph",)  # a debug run's draft graph: large, and the console shows it
    inlines = [NodeExecutionInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name != "graph"]


@admin.register(WorkflowNodeExecution)
class WorkflowNodeExecutionAdmin(ReadOnlyAdmin):
    list_display = ("node_id", "node_type", "status", "workflow_run", "elapsed_time", "created_at")
    list_filter = ("status", "node_type", "triggered_from")
    search_fields = ("node_id", "=workflow_run__id", "=app_id")
    list_select_related = ("workflow_run",)
    date_hierarchy = "created_at"
    raw_id_fields = ("tenant", "workflow_run")


@admin.register(WorkflowAppLog)
class WorkflowAppLogAdmin(ReadOnlyAdmin):
    list_display = ("workflow_run", "app_id", "created_from", "created_by_role", "created_at")
    list_filter = ("created_from", "created_by_role")
    search_fields = ("=app_id", "=workflow_run__id")
    list_select_related = ("workflow_run",)
    raw_id_fields = ("tenant", "workflow_run")
