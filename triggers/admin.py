from django.contrib import admin

from triggers.models import AppTrigger, SchedulePlan, WebhookTrigger


@admin.register(AppTrigger)
class AppTriggerAdmin(admin.ModelAdmin):
    list_display = ("trigger_type", "title", "node_id", "status", "app", "tenant", "updated_at")
    list_filter = ("trigger_type", "status")
    list_select_related = ("app", "tenant")
    search_fields = ("title", "node_id", "app__name")


@admin.register(WebhookTrigger)
class WebhookTriggerAdmin(admin.ModelAdmin):
    list_display = ("webhook_id", "node_id", "app", "tenant", "created_at")
    list_select_related = ("app", "tenant")
    search_fields = ("webhook_id", "node_id", "app__name")
    exclude = ("signing_secret",)  # encrypted; set from the console, never shown


@admin.register(SchedulePlan)
class SchedulePlanAdmin(admin.ModelAdmin):
    list_display = ("cron_expression", "timezone", "next_run_at", "last_fired_at", "app", "tenant")
    list_select_related = ("app", "tenant")
    search_fields = ("node_id", "app__name")
    readonly_fields = ("last_fired_at", "periodic_task")
