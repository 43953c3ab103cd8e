"""What maintenance remembers, for operators (the schedule itself is under Periodic tasks)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

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
