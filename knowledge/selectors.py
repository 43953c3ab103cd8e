"""Reads of the knowledge domain, scoped to a workspace: another workspace's rows are simply not found."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import Tenant
from knowledge import exceptions as errors
from knowledge.models import (
    AppDatasetJoin,
    ChildChunk,
    Dataset,
    DatasetMetadata,
    DatasetMetadataBinding,
    Document,
    DocumentSegment,
    IndexingStatus,
)

DOCUMENT_STATUS_FILTERS: dict[str, Q] = {
    "queuing": Q(indexing_status=IndexingStatus.WAITING),
    "indexing": Q(
        indexing_status__in=[
            IndexingStatus.PARSING,
            IndexingStatus.CLEANING,
            IndexingStatus.SPLITTING,
            IndexingStatus.INDEXING,
        ],
        is_paused=False,
    ),
    "paused": Q(is_paused=True) & ~Q(indexing_status__in=[IndexingStatus.COMPLETED, IndexingStatus.ERROR]),
    "error": Q(indexing_status=IndexingStatus.ERROR),
    "available": Q(indexing_status=IndexingStatus.COMPLETED, archived=False, enabled=True),
    "disabled": Q(indexing_status=IndexingStatus.COMPLETED, archived=False, enabled=False),
    "archived": Q(indexing_status=IndexingStatus.COMPLETED, archived=True),
}


def parse_id(value: Any, *, error: type[errors.NotFound]) -> uuid.UUID:
    """A path id, or the resource's 404 for anything that is not a UUID."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise error() from None


def dataset_get(*, tenant: Tenant | str, dataset_id: Any) -> Dataset:
    pk = parse_id(dataset_id, error=errors.DatasetNotFound)
    dataset = Dataset.objects.for_tenant(tenant).filter(id=pk).first()
    if dataset is None:
        raise errors.DatasetNotFound()
    return dataset


def dataset_list(
    *, tenant: Tenant | str, keyword: str | None = None, ids: list[str] | None = None
) -> QuerySet[Dataset]:
    rows = Dataset.objects.for_tenant(tenant)
    if keyword:
        rows = rows.filter(name__icontains=keyword)
    if ids is not None:
        rows = rows.filter(id__in=ids)
    return rows.order_by("-created_at", "id")


def dataset_stats(datasets: list[Dataset]) -> dict[Any, dict[str, int]]:
    """document_count, word_count, available documents and app_count for a page of datasets, in 3 queries."""
    ids = [d.id for d in datasets]
    stats: dict[Any, dict[str, int]] = {
        i: {"document_count": 0, "word_count": 0, "total_available_documents": 0, "app_count": 0} for i in ids
    }
    rows = (
        Document.objects.filter(dataset_id__in=ids)
        .values("dataset_id")
        .annotate(
            documents=Count("id"),
            words=Sum("word_count"),
            available=Count(
                "id", filter=Q(indexing_status=IndexingStatus.COMPLETED, enabled=True, archived=False)
            ),
        )
    )
    for row in rows:
        entry = stats[row["dataset_id"]]
        entry["document_count"] = row["documents"]
        entry["word_count"] = row["words"] or 0
        entry["total_available_documents"] = row["available"]
    for row in AppDatasetJoin.objects.filter(dataset_id__in=ids).values("dataset_id").annotate(n=Count("id")):
        stats[row["dataset_id"]]["app_count"] = row["n"]
    return stats


def dataset_doc_form(dataset: Dataset) -> str | None:
    """Dify derives a dataset's doc_form from its first document."""
    return (
        Document.objects.filter(dataset=dataset)
        .order_by("position", "created_at")
        .values_list("doc_form", flat=True)
        .first()
    )


def document_get(*, dataset: Dataset, document_id: Any) -> Document:
    pk = parse_id(document_id, error=errors.DocumentNotFound)
    document = (
        Document.objects.select_related("dataset_process_rule", "upload_file")
        .filter(dataset=dataset, tenant_id=dataset.tenant_id, id=pk)
        .first()
    )
    if document is None:
        raise errors.DocumentNotFound()
    return document


def document_list(
    *, dataset: Dataset, keyword: str | None = None, status: str | None = None
) -> QuerySet[Document]:
    rows = Document.objects.filter(dataset=dataset, tenant_id=dataset.tenant_id)
    if keyword:
        rows = rows.filter(name__icontains=keyword)
    if status:
        rows = rows.filter(DOCUMENT_STATUS_FILTERS.get(status, Q(pk__in=[])))
    return rows.order_by("-created_at", "-position")


def batch_documents(*, dataset: Dataset, batch: str) -> list[Document]:
    return list(
        Document.objects.filter(dataset=dataset, tenant_id=dataset.tenant_id, batch=batch).order_by(
            "position"
        )
    )


def segment_progress(documents: list[Document]) -> dict[Any, tuple[int, int]]:
    """(completed_segments, total_segments) per document, in one query."""
    rows = (
        DocumentSegment.objects.filter(document_id__in=[d.id for d in documents])
        .exclude(status="re_segment")
        .values("document_id")
        .annotate(total=Count("id"), completed=Count("id", filter=Q(completed_at__isnull=False)))
    )
    progress = {d.id: (0, 0) for d in documents}
    for row in rows:
        progress[row["document_id"]] = (row["completed"], row["total"])
    return progress


def document_hit_counts(documents: list[Document]) -> dict[Any, int]:
    rows = (
        DocumentSegment.objects.filter(document_id__in=[d.id for d in documents])
        .values("document_id")
        .annotate(hits=Sum("hit_count"), n=Count("id"))
    )
    return {row["document_id"]: row["hits"] or 0 for row in rows}


def segment_get(*, document: Document, segment_id: Any) -> DocumentSegment:
    pk = parse_id(segment_id, error=errors.SegmentNotFound)
    segment = DocumentSegment.objects.filter(document=document, tenant_id=document.tenant_id, id=pk).first()
    if segment is None:
        raise errors.SegmentNotFound()
    return segment


def segment_list(
    *,
    document: Document,
    keyword: str | None = None,
    statuses: list[str] | None = None,
    enabled: str | None = None,
) -> QuerySet[DocumentSegment]:
    rows = DocumentSegment.objects.filter(document=document, tenant_id=document.tenant_id)
    if statuses:
        rows = rows.filter(status__in=statuses)
    if keyword:
        rows = rows.filter(content__icontains=keyword)
    if enabled and enabled.lower() != "all":
        rows = rows.filter(enabled=enabled.lower() == "true")
    return rows.order_by("position", "id")


def child_chunk_get(*, segment: DocumentSegment, child_chunk_id: Any) -> ChildChunk:
    pk = parse_id(child_chunk_id, error=errors.ChildChunkNotFound)
    chunk = ChildChunk.objects.filter(segment=segment, tenant_id=segment.tenant_id, id=pk).first()
    if chunk is None:
        raise errors.ChildChunkNotFound()
    return chunk


def child_chunks_of(segments: list[DocumentSegment]) -> dict[Any, list[ChildChunk]]:
    grouped: dict[Any, list[ChildChunk]] = {s.id: [] for s in segments}
    for chunk in ChildChunk.objects.filter(segment_id__in=list(grouped)).order_by("position"):
        grouped[chunk.segment_id].append(chunk)
    return grouped


def metadata_details(documents: list[Document]) -> dict[Any, list[dict[str, Any]]]:
    """Dify's doc_metadata_details: the dataset's metadata fields bound to each document, with values."""
    bindings = (
        DatasetMetadataBinding.objects.filter(document_id__in=[d.id for d in documents])
        .select_related("metadata")
        .order_by("metadata__created_at")
    )
    by_document: dict[Any, list[DatasetMetadata]] = {d.id: [] for d in documents}
    for binding in bindings:
        by_document[binding.document_id].append(binding.metadata)
    details: dict[Any, list[dict[str, Any]]] = {}
    for document in documents:
        values = document.doc_metadata or {}
        details[document.id] = [
            {"id": str(m.id), "name": m.name, "type": m.type, "value": values.get(m.name)}
            for m in by_document[document.id]
        ]
    return details
