"""Segments and child chunks: add, edit, enable/disable, delete. Edits are re-embedded at once (as Dify
does in the request), through the embedding cache."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from knowledge import exceptions as errors
from knowledge import split
from knowledge.models import ChildChunk, DocForm, Document, DocumentSegment, IndexingStatus, SegmentStatus
from knowledge.services.indexing import (
    index_units,
    process_rule_of,
    remove_nodes,
    remove_segment_nodes,
    segment_units,
)


def _require_indexable(document: Document) -> None:
    if document.indexing_status != IndexingStatus.COMPLETED:
        raise errors.DocumentNotFound("Document is not completed.")
    if not document.enabled:
        raise errors.DocumentNotFound("Document is disabled.")


def _children_for(document: Document, segment: DocumentSegment) -> list[ChildChunk]:
    mode, rules = process_rule_of(document)
    chunks = split.split_pages([segment.content], mode=mode, rules=rules, doc_form=DocForm.HIERARCHICAL)
    texts = [t for chunk in chunks for t in chunk.children] or [segment.content]
    return [
        ChildChunk(
            tenant_id=document.tenant_id,
            dataset_id=document.dataset_id,
            document=document,
            segment=segment,
            position=position,
            content=text,
            word_count=len(text),
            index_node_id=str(uuid.uuid4()),
            index_node_hash=split.text_hash(text),
            type="automatic",
        )
        for position, text in enumerate(texts, start=1)
    ]


def _index(document: Document, segments: list[DocumentSegment]) -> None:
    children: dict[Any, list[ChildChunk]] = {}
    if document.doc_form == DocForm.HIERARCHICAL:
        for chunk in ChildChunk.objects.filter(segment__in=segments).order_by("position"):
            children.setdefault(chunk.segment_id, []).append(chunk)
    index_units(document.dataset, segment_units(segments, children))
    DocumentSegment.objects.filter(id__in=[s.id for s in segments]).update(
        status=SegmentStatus.COMPLETED, completed_at=timezone.now(), indexing_at=timezone.now(), error=None
    )


def _validate_content(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise errors.InvalidParam("Each segment must be an object.", params="segments")
    content = item.get("content")
    if not isinstance(content, str) or not content.strip():
        raise errors.InvalidParam("Content is empty", params="content")
    keywords = item.get("keywords")
    if keywords is not None and (
        not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords)
    ):
        raise errors.InvalidParam("keywords must be a list of strings.", params="keywords")
    return item


def segments_create(
    *, document: Document, items: list[dict[str, Any]], account_id: Any
) -> list[DocumentSegment]:
    """Append segments to a completed, enabled document and index them."""
    _require_indexable(document)
    items = [_validate_content(item) for item in items]
    with transaction.atomic():
        start = DocumentSegment.objects.filter(document=document).aggregate(m=Max("position"))["m"] or 0
        segments = [
            DocumentSegment(
                tenant_id=document.tenant_id,
                dataset_id=document.dataset_id,
                document=document,
                position=start + offset,
                content=item["content"],
                answer=item.get("answer") or None,
                keywords=item.get("keywords"),
                word_count=len(item["content"]) + len(item.get("answer") or ""),
                index_node_id=str(uuid.uuid4()),
                index_node_hash=split.text_hash(item["content"]),
                status=SegmentStatus.INDEXING,
                indexing_at=timezone.now(),
                created_by=account_id,
            )
            for offset, item in enumerate(items, start=1)
        ]
        DocumentSegment.objects.bulk_create(segments)
        if document.doc_form == DocForm.HIERARCHICAL:
            ChildChunk.objects.bulk_create([c for s in segments for c in _children_for(document, s)])
        Document.objects.filter(id=document.id).update(
            word_count=F("word_count") + sum(s.word_count for s in segments)
        )
    try:
        _index(document, segments)
    except Exception as exc:
        DocumentSegment.objects.filter(id__in=[s.id for s in segments]).update(
            status=SegmentStatus.ERROR, error=str(exc)
        )
        raise
    for segment in segments:
        segment.refresh_from_db()
    return segments


def segment_update(*, segment: DocumentSegment, data: dict[str, Any], account_id: Any) -> DocumentSegment:
    """Dify's segment update: content/answer/keywords re-embed; ``enabled`` false takes it out of the
    index, true puts it back. A disabled segment can only be enabled."""
    document = segment.document
    if document.archived:
        raise errors.ArchivedDocumentImmutable()
    enabled = data.get("enabled")
    if not segment.enabled and enabled is not True:
        raise errors.InvalidParam("Can't update disabled segment")
    if enabled is False:
        with transaction.atomic():
            DocumentSegment.objects.filter(id=segment.id).update(
                enabled=False, disabled_at=timezone.now(), disabled_by=account_id
            )
            remove_segment_nodes([segment.id])
        segment.refresh_from_db()
        return segment
    content = data.get("content")
    changed = False
    if content is not None:
        _validate_content({"content": content, "keywords": data.get("keywords")})
        if content != segment.content or data.get("answer", segment.answer) != segment.answer:
            changed = True
        segment.content = content
        segment.index_node_hash = split.text_hash(content)
    if "answer" in data:
        segment.answer = data.get("answer") or None
    if data.get("keywords") is not None:
        segment.keywords = data["keywords"]
    old_words = segment.word_count
    segment.word_count = len(segment.content) + len(segment.answer or "")
    segment.updated_by = account_id
    reenable = enabled is True and not segment.enabled
    if reenable:
        segment.enabled, segment.disabled_at, segment.disabled_by = True, None, None
    with transaction.atomic():
        segment.save()
        Document.objects.filter(id=document.id).update(
            word_count=F("word_count") + segment.word_count - old_words
        )
        regenerate = document.doc_form == DocForm.HIERARCHICAL and (
            changed or data.get("regenerate_child_chunks")
        )
        if regenerate:
            ChildChunk.objects.filter(segment=segment).delete()
            ChildChunk.objects.bulk_create(_children_for(document, segment))
        if changed or reenable or regenerate:
            remove_segment_nodes([segment.id])
    if changed or reenable or regenerate:
        _index(document, [segment])
    segment.refresh_from_db()
    return segment


@transaction.atomic
def segment_delete(*, segment: DocumentSegment) -> None:
    remove_segment_nodes([segment.id])
    Document.objects.filter(id=segment.document_id).update(word_count=F("word_count") - segment.word_count)
    segment.delete()


def child_chunk_create(*, segment: DocumentSegment, content: str, account_id: Any) -> ChildChunk:
    document = segment.document
    if not isinstance(content, str) or not content.strip():
        raise errors.InvalidParam("Content is empty", params="content")
    with transaction.atomic():
        position = (ChildChunk.objects.filter(segment=segment).aggregate(m=Max("position"))["m"] or 0) + 1
        chunk = ChildChunk.objects.create(
            tenant_id=segment.tenant_id,
            dataset_id=segment.dataset_id,
            document=document,
            segment=segment,
            position=position,
            content=content,
            word_count=len(content),
            index_node_id=str(uuid.uuid4()),
            index_node_hash=split.text_hash(content),
            type="customized",
            created_by=account_id,
        )
    if segment.enabled and document.enabled and not document.archived:
        index_units(document.dataset, [(segment, chunk, chunk.index_node_id, content)])
        ChildChunk.objects.filter(id=chunk.id).update(indexing_at=timezone.now(), completed_at=timezone.now())
    chunk.refresh_from_db()
    return chunk


def child_chunk_update(*, chunk: ChildChunk, content: str, account_id: Any) -> ChildChunk:
    if not isinstance(content, str) or not content.strip():
        raise errors.InvalidParam("Content is empty", params="content")
    segment = chunk.segment
    chunk.content, chunk.word_count = content, len(content)
    chunk.index_node_hash = split.text_hash(content)
    chunk.type, chunk.updated_by = "customized", account_id
    # The column allows null (a chunk whose indexing never ran); an edit indexes it under a new node.
    chunk.index_node_id = chunk.index_node_id or str(uuid.uuid4())
    chunk.save()
    if segment.enabled and segment.document.enabled and not segment.document.archived:
        index_units(segment.document.dataset, [(segment, chunk, chunk.index_node_id, content)])
    return chunk


@transaction.atomic
def child_chunk_delete(*, chunk: ChildChunk) -> None:
    from knowledge.models import IndexNode

    remove_nodes(IndexNode.objects.filter(child_chunk=chunk))
    chunk.delete()
