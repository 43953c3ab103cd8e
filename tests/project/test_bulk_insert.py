"""`insert_objects` stores exactly what `bulk_create` stores (UUIDs, datetimes, JSON, choices members,
bytes, NULLs), on whichever database the suite runs, and skips conflicting rows when asked."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from dify_project.bulk_insert import insert_objects
from knowledge.models import Dataset, Document, DocumentSegment, Embedding, SegmentStatus
from tests import factories

pytestmark = pytest.mark.django_db


def _segments(document: Document, when) -> list[DocumentSegment]:
    return [
        DocumentSegment(
            tenant_id=document.tenant_id,
            dataset_id=document.dataset_id,
            document=document,
            position=i,
            content=f"text {i} with 'quotes' and ünicode",
            answer=None if i % 2 else f"answer {i}",
            word_count=i * 7,
            keywords=["a", {"nested": i}] if i % 3 else None,
            index_node_id=str(uuid.uuid4()),
            index_node_hash=f"h{i}",
            status=SegmentStatus.COMPLETED if i % 2 else SegmentStatus.WAITING,
            indexing_at=when if i % 2 else None,
            enabled=bool(i % 2),
        )
        for i in range(1, 6)
    ]


def _stored(rows: list[DocumentSegment]) -> list[dict]:
    skip = {"id", "index_node_id", "created_at", "updated_at", "content"}
    return [
        {k: v for k, v in row.items() if k not in skip}
        for row in DocumentSegment.objects.filter(id__in=[r.id for r in rows]).order_by("position").values()
    ]


def test_rows_match_what_bulk_create_stores():
    tenant = factories.tenant_factory()
    dataset = Dataset.objects.create(tenant=tenant, name="d")
    document = Document.objects.create(tenant=tenant, dataset=dataset, name="doc", batch="b")
    when = timezone.now() - timedelta(days=3)
    through_django, through_ours = _segments(document, when), _segments(document, when)
    DocumentSegment.objects.bulk_create(through_django)
    before = timezone.now()
    insert_objects(through_ours)

    assert _stored(through_ours) == _stored(through_django)
    loaded = DocumentSegment.objects.get(id=through_ours[0].id)
    assert loaded.content == through_ours[0].content
    assert loaded.keywords == ["a", {"nested": 1}]
    assert loaded.status == "completed" and loaded.indexing_at == through_ours[0].indexing_at
    assert before <= loaded.created_at <= timezone.now()  # auto_now_add set by the call
    assert through_ours[0]._state.adding is False


def test_conflicts_raise_unless_ignored():
    tenant = factories.tenant_factory()

    def row(vector: bytes) -> Embedding:
        return Embedding(tenant=tenant, provider_name="p", model_name="m", hash="same", embedding=vector)

    insert_objects([row(b"\x00\x00\x80\x3f")])
    insert_objects([row(b"\x00\x00\x00\x40")], ignore_conflicts=True)
    assert [bytes(e.embedding) for e in Embedding.objects.filter(hash="same")] == [b"\x00\x00\x80\x3f"]
    with pytest.raises(IntegrityError):
        insert_objects([row(b"\x00\x00\x00\x40")])
