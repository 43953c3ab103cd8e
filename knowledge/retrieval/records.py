"""Presentation: hits folded into records (parent-child, enabled documents), and the shapes Dify returns
for hit testing, workflow sources and retriever resources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dify_project.api.fields import timestamp
from knowledge.models import (
    ChildChunk,
    DocumentSegment,
    IndexingStatus,
    IndexNode,
)
from knowledge.retrieval.settings import (
    ExternalRecord,
    Record,
    Scored,
)

# --- results --------------------------------------------------------------------------------------------


def build_records(
    items: Sequence[Scored], externals: dict[str, ExternalRecord] | None = None
) -> list[Record | ExternalRecord]:
    """Hits to Records: live segments only, child chunks folded into their parent (best score wins);
    hits of external datasets (ids in `externals`) become their ExternalRecord with the final score."""
    if not items:
        return []
    externals = externals or {}
    outside: list[Record | ExternalRecord] = []
    for item in items:
        if item.node_id in externals:
            external = externals[item.node_id]
            external.score = item.score
            outside.append(external)
    items = [i for i in items if i.node_id not in externals]
    nodes = {
        n.node_id: n
        for n in IndexNode.objects.filter(node_id__in=[i.node_id for i in items]).only(
            "node_id", "segment_id", "child_chunk_id"
        )
    }
    segment_ids = {n.segment_id for n in nodes.values()}
    segments = {
        s.id: s
        for s in DocumentSegment.objects.filter(
            id__in=segment_ids, enabled=True, status="completed"
        ).select_related("document", "dataset")
    }
    chunks = {
        c.id: c
        for c in ChildChunk.objects.filter(
            id__in=[n.child_chunk_id for n in nodes.values() if n.child_chunk_id]
        )
    }
    records: dict[Any, Record] = {}
    for item in items:
        node = nodes.get(item.node_id)
        segment = segments.get(node.segment_id) if node else None
        if segment is None:
            continue
        document = segment.document
        if not document.enabled or document.archived or document.indexing_status != IndexingStatus.COMPLETED:
            continue
        record = records.get(segment.id)
        if record is None:
            record = records[segment.id] = Record(segment, document, segment.dataset, item.score)
        else:
            record.score = max(record.score, item.score)
        chunk = chunks.get(node.child_chunk_id) if node.child_chunk_id else None
        if chunk is not None:
            record.child_chunks.append(
                {
                    "id": str(chunk.id),
                    "content": chunk.content,
                    "position": chunk.position,
                    "score": item.score,
                }
            )
    for record in records.values():
        record.child_chunks.sort(key=lambda c: c["score"], reverse=True)
    return sorted([*records.values(), *outside], key=lambda r: r.score, reverse=True)


def segment_out(segment: DocumentSegment) -> dict[str, Any]:
    return {
        "id": str(segment.id),
        "position": segment.position,
        "document_id": str(segment.document_id),
        "content": segment.content,
        "sign_content": segment.content,
        "answer": segment.answer,
        "word_count": segment.word_count,
        "tokens": segment.tokens,
        "keywords": segment.keywords or [],
        "index_node_id": segment.index_node_id,
        "index_node_hash": segment.index_node_hash,
        "hit_count": segment.hit_count,
        "enabled": segment.enabled,
        "disabled_at": timestamp(segment.disabled_at),
        "disabled_by": str(segment.disabled_by) if segment.disabled_by else None,
        "status": segment.status,
        "created_by": str(segment.created_by) if segment.created_by else None,
        "created_at": timestamp(segment.created_at),
        "updated_at": timestamp(segment.updated_at),
        "updated_by": str(segment.updated_by) if segment.updated_by else None,
        "indexing_at": timestamp(segment.indexing_at),
        "completed_at": timestamp(segment.completed_at),
        "error": segment.error,
        "stopped_at": timestamp(segment.stopped_at),
    }


def external_hit_testing_record(record: ExternalRecord) -> dict[str, Any]:
    """A ``records[]`` item of Dify's external hit testing answer."""
    return {
        "content": record.content,
        "title": record.title,
        "score": record.score,
        "metadata": record.metadata,
    }


def hit_testing_record(record: Record) -> dict[str, Any]:
    """A ``records[]`` item of Dify's retrieve / hit-testing answer."""
    document = record.document
    segment = segment_out(record.segment)
    segment["document"] = {
        "id": str(document.id),
        "data_source_type": document.data_source_type,
        "name": document.name,
        "doc_type": document.doc_type,
        "doc_metadata": document.doc_metadata,
    }
    return {
        "segment": segment,
        "child_chunks": record.child_chunks,  # [] when none matched, as Dify's answer now normalises
        "score": record.score,
        "tsne_position": None,
        "files": [],
        "summary": None,
    }


def workflow_source(record: Record | ExternalRecord) -> dict[str, Any]:
    """A knowledge-retrieval node ``result`` item's metadata/title/content (Dify's shape)."""
    if isinstance(record, ExternalRecord):
        return {
            "metadata": {
                "_source": "knowledge",
                "dataset_id": str(record.dataset.id),
                "dataset_name": record.dataset.name,
                "document_id": record.metadata.get("document_id") or record.title,
                "document_name": record.title,
                "data_source_type": "external",
                "retriever_from": "workflow",
                "score": record.score,
                "doc_metadata": record.metadata,
            },
            "title": record.title,
            "content": record.content,
        }
    segment, document, dataset = record.segment, record.document, record.dataset
    metadata = {
        "_source": "knowledge",
        "dataset_id": str(dataset.id),
        "dataset_name": dataset.name,
        "document_id": str(document.id),
        "document_name": document.name,
        "data_source_type": document.data_source_type,
        "segment_id": str(segment.id),
        "retriever_from": "workflow",
        "score": record.score,
        "child_chunks": record.child_chunks,
        "segment_hit_count": segment.hit_count,
        "segment_word_count": segment.word_count,
        "segment_position": segment.position,
        "segment_index_node_hash": segment.index_node_hash,
        "doc_metadata": document.doc_metadata,
    }
    content = f"question:{segment.content} \nanswer:{segment.answer}" if segment.answer else segment.content
    return {"metadata": metadata, "title": document.name, "content": content}


def retriever_resource(
    record: Record | ExternalRecord, *, position: int, retriever_from: str
) -> dict[str, Any]:
    """A ``retriever_resources[]`` item of a chat answer's metadata (Dify's RetrieverResource)."""
    if isinstance(record, ExternalRecord):
        return {
            "position": position,
            "dataset_id": str(record.dataset.id),
            "dataset_name": record.dataset.name,
            "document_id": record.metadata.get("document_id") or record.title,
            "document_name": record.title,
            "data_source_type": "external",
            "segment_id": None,
            "retriever_from": retriever_from,
            "score": record.score,
            "hit_count": None,
            "word_count": None,
            "segment_position": None,
            "index_node_hash": None,
            "content": record.content,
            "doc_metadata": record.metadata,
            "created_at": None,
        }
    segment, document, dataset = record.segment, record.document, record.dataset
    content = f"question:{segment.content} \nanswer:{segment.answer}" if segment.answer else segment.content
    return {
        "position": position,
        "dataset_id": str(dataset.id),
        "dataset_name": dataset.name,
        "document_id": str(document.id),
        "document_name": document.name,
        "data_source_type": document.data_source_type,
        "segment_id": str(segment.id),
        "retriever_from": retriever_from,
        "score": record.score,
        "hit_count": segment.hit_count,
        "word_count": segment.word_count,
        "segment_position": segment.position,
        "index_node_hash": segment.index_node_hash,
        "content": content,
        "doc_metadata": document.doc_metadata,
        "created_at": timestamp(segment.created_at),
    }
