"""Documents stuck in indexing: a worker that died mid-run leaves its document ``parsing`` … ``indexing``
with no progress, and a task lost by the broker leaves it ``waiting``. These primitives find them and
either queue them again or fail them with a reason; the scheduled task in ``operations`` decides which.

Both writes are conditional on the document still being stuck (same status, no progress since), so a run
that wakes up meanwhile, or a second pass running beside this one, is never overridden.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from knowledge.models import Document, IndexingStatus
from knowledge.services.indexing import RUNNING


def documents_stalled(*, idle_before: datetime, limit: int = 500) -> QuerySet[Document]:
    """Documents waiting or indexing with no progress since ``idle_before`` (paused ones are not stuck)."""
    return Document.objects.filter(
        indexing_status__in=[IndexingStatus.WAITING, *RUNNING], is_paused=False, updated_at__lt=idle_before
    ).order_by("updated_at")[:limit]


def documents_unfinished() -> QuerySet[Document]:
    return Document.objects.filter(indexing_status__in=[IndexingStatus.WAITING, *RUNNING])


def document_requeue_stalled(*, document: Document) -> bool:
    """Queue the document again from the start (its segments are replaced). False when it moved on."""
    from knowledge.tasks import index_document

    claimed = Document.objects.filter(
        id=document.id, indexing_status=document.indexing_status, updated_at=document.updated_at
    ).update(indexing_status=IndexingStatus.WAITING, error=None, stopped_at=None, updated_at=timezone.now())
    if claimed:
        transaction.on_commit(lambda: index_document.delay(str(document.id)))
    return bool(claimed)


def document_fail_stalled(*, document: Document, reason: str) -> bool:
    """End the document in ``error`` with ``reason`` (the owner can retry it). False when it moved on."""
    now = timezone.now()
    failed = Document.objects.filter(
        id=document.id, indexing_status=document.indexing_status, updated_at=document.updated_at
    ).update(indexing_status=IndexingStatus.ERROR, error=reason, stopped_at=now, updated_at=now)
    return bool(failed)


def indexing_backlog() -> dict[str, Any]:
    """Documents per indexing status that are not finished (for metrics)."""
    from django.db.models import Count

    rows = (
        Document.objects.filter(indexing_status__in=[IndexingStatus.WAITING, *RUNNING])
        .values("indexing_status")
        .annotate(n=Count("id"))
    )
    return {row["indexing_status"]: row["n"] for row in rows}


def documents_reindex(*, documents: list[Document]) -> int:
    """Index the documents again from their source (an operator's action): each goes back to ``waiting``,
    its task queued when the transaction commits; its segments are replaced by the new run. Returns how
    many were queued (paused ones are resumed)."""
    from knowledge.tasks import index_document

    ids = [document.id for document in documents]
    Document.objects.filter(id__in=ids).update(
        indexing_status=IndexingStatus.WAITING,
        error=None,
        stopped_at=None,
        is_paused=False,
        paused_by=None,
        paused_at=None,
        completed_at=None,
        updated_at=timezone.now(),
    )
    for document_id in ids:
        transaction.on_commit(lambda d=document_id: index_document.delay(str(d)))
    return len(ids)
