"""What maintenance remembers, for operators (the schedule itself is under Periodic tasks)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.models import AppDailyUsage, DailyUsageWatermark
from operations.models import DocumentRecovery


@admin.register(DocumentRecovery)
class DocumentRecoveryAdmin(admin.ModelAdmin):
    list_display = ("document_id", "attempts", "last_reason", "updated_at")
    search_fields = ("=document_id",)
    readonly_fields = ("document_id", "attempts", "last_reason", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AppDailyUsage)
class AppDailyUsageAdmin(_ReadOnly):
    """What ``operations.roll_up_usage`` wrote: the statistics pages read these rows for closed days."""

    list_display = (
        "day",
        "app",
        "timezone",
        "message_count",
        "end_user_count",
        "message_tokens",
        "answer_tokens",
        "total_price",
        "run_count",
        "run_tokens",
    )
    list_filter = ("timezone", "day")
    search_fields = ("app__name", "=app__id", "=tenant__id")
    list_select_related = ("app",)
    date_hierarchy = "day"
    ordering = ("-day",)


@admin.register(DailyUsageWatermark)
class DailyUsageWatermarkAdmin(_ReadOnly):
    list_display = ("tenant", "timezone", "through_day", "updated_at")
    list_filter = ("timezone",)
    search_fields = ("tenant__name", "=tenant__id")
    list_select_related = ("tenant",)
