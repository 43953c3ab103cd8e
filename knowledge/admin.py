"""Django admin for operators: knowledge bases and their documents (re-index and retry actions),
segments read-only. The searchable index rows are derived data and not shown."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from knowledge.models import Dataset, Document, DocumentSegment, IndexingStatus
from knowledge.services.documents import document_retry
from knowledge.services.recovery import documents_reindex


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "indexing_technique", "embedding_model", "permission", "created_at")
    list_filter = ("indexing_technique", "permission", "provider")
    search_fields = ("name", "id", "tenant__name")
    list_select_related = ("tenant",)
    raw_id_fields = ("tenant",)
    readonly_fields = ("id", "created_at", "updated_at", "created_by", "updated_by")


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "dataset",
        "tenant",
        "indexing_status",
        "enabled",
        "word_count",
        "error",
        "updated_at",
    )
    list_filter = ("indexing_status", "enabled", "archived", "doc_form", "data_source_type")
    search_fields = ("name", "id", "dataset__name", "tenant__name")
    list_select_related = ("dataset", "tenant")
    date_hierarchy = "created_at"
    raw_id_fields = ("tenant", "dataset", "upload_file", "dataset_process_rule")
    readonly_fields = (
        "id",
        "indexing_status",
        "error",
        "processing_started_at",
        "parsing_completed_at",
        "cleaning_completed_at",
        "splitting_completed_at",
        "completed_at",
        "stopped_at",
        "tokens",
        "word_count",
        "indexing_latency",
        "created_at",
        "updated_at",
    )
    exclude = ("text",)  # the document's whole source; large, and shown through the console
    actions = ("retry_failed", "reindex")

    def has_add_permission(self, request: HttpRequest) -> bool:  # documents are uploaded from the console
        return False

    @admin.action(description="Retry indexing of the selected documents that failed or stalled")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        documents = list(queryset.exclude(indexing_status=IndexingStatus.COMPLETED))
        document_retry(documents=documents)
        skipped = queryset.count() - len(documents)
        self.message_user(
            request,
            f"{len(documents)} document(s) queued again"
            + (f"; {skipped} already completed (use re-index)" if skipped else ""),
            messages.SUCCESS,
        )

    @admin.action(description="Re-index the selected documents from their source")
    def reindex(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        count = documents_reindex(documents=list(queryset.select_related(None).only("id")))
        self.message_user(request, f"{count} document(s) queued for re-indexing", messages.SUCCESS)


@admin.register(DocumentSegment)
class DocumentSegmentAdmin(admin.ModelAdmin):
    list_display = ("position", "document", "status", "enabled", "word_count", "tokens", "hit_count")
    list_filter = ("status", "enabled")
    search_fields = ("content", "document__name")
    list_select_related = ("document",)
    raw_id_fields = ("tenant", "dataset", "document")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
