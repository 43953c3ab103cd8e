"""Output shapes of the knowledge APIs: Dify's dataset, document, segment and child-chunk fields."""

from __future__ import annotations

from typing import Any

from dify_project.api.fields import timestamp
from knowledge import selectors
from knowledge.models import ChildChunk, Dataset, DatasetMetadata, Document, DocumentSegment
from knowledge.retrieval import segment_out


def _id(value: Any) -> str | None:
    return str(value) if value else None


def retrieval_model_dict(dataset: Dataset) -> dict[str, Any]:
    model = dict(dataset.retrieval_model_dict)
    model.setdefault("reranking_mode", None)
    model.setdefault("weights", None)
    model.setdefault("score_threshold", None)
    if dataset.indexing_technique == "economy":
        model["search_method"] = "keyword_search"
    return model


def datasets(
    rows: list[Dataset], *, embedding_models: set[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """Dify's ``dataset_detail_fields`` for a page of datasets (a fixed number of queries)."""
    stats = selectors.dataset_stats(rows)
    fields_by_dataset: dict[Any, list[DatasetMetadata]] = {d.id: [] for d in rows}
    for field in DatasetMetadata.objects.filter(dataset__in=rows).order_by("created_at"):
        fields_by_dataset[field.dataset_id].append(field)
    doc_forms = {}
    for dataset_id, doc_form in (
        Document.objects.filter(dataset__in=rows).order_by("position").values_list("dataset_id", "doc_form")
    ):
        doc_forms.setdefault(dataset_id, doc_form)
    from knowledge.services.external import external_info

    externals = {d.id: external_info(d) for d in rows}  # no query for a dataset that is not external
    out = []
    for dataset in rows:
        stat = stats[dataset.id]
        available = True
        if dataset.indexing_technique == "high_quality" and embedding_models is not None:
            available = (dataset.embedding_model_provider, dataset.embedding_model) in embedding_models
        out.append(
            {
                "id": str(dataset.id),
                "name": dataset.name,
                "description": dataset.description,
                "provider": dataset.provider,
                "permission": dataset.permission,
                "data_source_type": dataset.data_source_type,
                "indexing_technique": dataset.indexing_technique,
                "app_count": stat["app_count"],
                "document_count": stat["document_count"],
                "word_count": stat["word_count"],
                "created_by": _id(dataset.created_by),
                "author_name": None,
                "created_at": timestamp(dataset.created_at),
                "updated_by": _id(dataset.updated_by),
                "updated_at": timestamp(dataset.updated_at),
                "embedding_model": dataset.embedding_model,
                "embedding_model_provider": dataset.embedding_model_provider,
                "embedding_available": available,
                "retrieval_model_dict": retrieval_model_dict(dataset),
                "summary_index_setting": None,
                "tags": [],
                "doc_form": doc_forms.get(dataset.id),
                "external_knowledge_info": externals[dataset.id][0],
                "external_retrieval_model": externals[dataset.id][1],
                "doc_metadata": [
                    {"id": str(f.id), "name": f.name, "type": f.type} for f in fields_by_dataset[dataset.id]
                ],
                "built_in_field_enabled": dataset.built_in_field_enabled,
                "pipeline_id": None,
                "runtime_mode": "general",
                "chunk_structure": None,
                "icon_info": dataset.icon_info,
                "is_published": False,
                "total_documents": stat["document_count"],
                "total_available_documents": stat["total_available_documents"],
                "enable_api": dataset.enable_api,
                "is_multimodal": False,
            }
        )
    return out


def dataset(row: Dataset, **kwargs: Any) -> dict[str, Any]:
    return datasets([row], **kwargs)[0]


def documents(rows: list[Document]) -> list[dict[str, Any]]:
    """Dify's ``document_fields``."""
    hits = selectors.document_hit_counts(rows)
    details = selectors.metadata_details(rows)
    return [
        {
            "id": str(d.id),
            "position": d.position,
            "data_source_type": d.data_source_type,
            "data_source_info": d.data_source_info,
            "data_source_detail_dict": _source_detail(d),
            "dataset_process_rule_id": _id(d.dataset_process_rule_id),
            "name": d.name,
            "created_from": d.created_from,
            "created_by": _id(d.created_by),
            "created_at": timestamp(d.created_at),
            "tokens": d.tokens,
            "indexing_status": d.indexing_status,
            "error": d.error,
            "enabled": d.enabled,
            "disabled_at": timestamp(d.disabled_at),
            "disabled_by": _id(d.disabled_by),
            "archived": d.archived,
            "display_status": d.display_status,
            "word_count": d.word_count,
            "hit_count": hits.get(d.id, 0),
            "doc_form": d.doc_form,
            "doc_metadata": details.get(d.id, []),
            "summary_index_status": None,
            "need_summary": False,
        }
        for d in rows
    ]


def document(row: Document) -> dict[str, Any]:
    return documents([row])[0]


def _source_detail(document: Document) -> dict[str, Any]:
    upload = document.upload_file if document.upload_file_id else None
    if upload is None:
        return {}
    return {
        "upload_file": {
            "id": str(upload.id),
            "name": upload.name,
            "size": upload.size,
            "extension": upload.extension,
            "mime_type": upload.mime_type,
            "created_by": _id(upload.created_by),
            "created_at": timestamp(upload.created_at),
        }
    }


def process_rule(document: Document) -> dict[str, Any]:
    rule = document.dataset_process_rule
    if rule is None:
        return {}
    return {"id": str(rule.id), "dataset_id": str(rule.dataset_id), "mode": rule.mode, "rules": rule.rules}


def document_detail(row: Document, metadata: str = "all") -> dict[str, Any]:
    """``GET .../documents/{id}`` with ``metadata`` = all | only | without."""
    base = document(row)
    details = base["doc_metadata"]
    if metadata == "only":
        return {"id": str(row.id), "doc_type": row.doc_type, "doc_metadata": details}
    segments = list(DocumentSegment.objects.filter(document=row).values_list("word_count", flat=True))
    out = {
        "id": str(row.id),
        "position": row.position,
        "data_source_type": row.data_source_type,
        "data_source_info": base["data_source_detail_dict"] or row.data_source_info,
        "dataset_process_rule_id": _id(row.dataset_process_rule_id),
        "dataset_process_rule": process_rule(row),
        "document_process_rule": process_rule(row),
        "name": row.name,
        "created_from": row.created_from,
        "created_by": _id(row.created_by),
        "created_at": timestamp(row.created_at),
        "tokens": row.tokens,
        "indexing_status": row.indexing_status,
        "completed_at": timestamp(row.completed_at),
        "updated_at": timestamp(row.updated_at),
        "indexing_latency": row.indexing_latency,
        "error": row.error,
        "enabled": row.enabled,
        "disabled_at": timestamp(row.disabled_at),
        "disabled_by": _id(row.disabled_by),
        "archived": row.archived,
        "segment_count": len(segments),
        "average_segment_length": (sum(segments) // len(segments)) if segments else 0,
        "hit_count": base["hit_count"],
        "display_status": row.display_status,
        "doc_form": row.doc_form,
        "doc_language": row.doc_language,
        "summary_index_status": None,
        "need_summary": False,
    }
    if metadata == "all":
        out["doc_type"] = row.doc_type
        out["doc_metadata"] = details
    return out


def indexing_status(rows: list[Document]) -> list[dict[str, Any]]:
    """Dify's ``document_status_fields`` with segment progress."""
    progress = selectors.segment_progress(rows)
    return [
        {
            "id": str(d.id),
            "indexing_status": "paused" if d.is_paused else d.indexing_status,
            "processing_started_at": timestamp(d.processing_started_at),
            "parsing_completed_at": timestamp(d.parsing_completed_at),
            "cleaning_completed_at": timestamp(d.cleaning_completed_at),
            "splitting_completed_at": timestamp(d.splitting_completed_at),
            "completed_at": timestamp(d.completed_at),
            "paused_at": timestamp(d.paused_at),
            "error": d.error,
            "stopped_at": timestamp(d.stopped_at),
            "completed_segments": progress[d.id][0],
            "total_segments": progress[d.id][1],
        }
        for d in rows
    ]


def child_chunk(chunk: ChildChunk) -> dict[str, Any]:
    return {
        "id": str(chunk.id),
        "segment_id": str(chunk.segment_id),
        "content": chunk.content,
        "position": chunk.position,
        "word_count": chunk.word_count,
        "type": chunk.type,
        "created_at": timestamp(chunk.created_at),
        "updated_at": timestamp(chunk.updated_at),
    }


def segments(rows: list[DocumentSegment]) -> list[dict[str, Any]]:
    """Dify's ``segment_fields`` (child chunks included; no attachments or summaries here)."""
    children = selectors.child_chunks_of(rows)
    out = []
    for row in rows:
        item = segment_out(row)
        item["child_chunks"] = [child_chunk(c) for c in children.get(row.id, [])]
        item["attachments"] = []
        item["summary"] = None
        out.append(item)
    return out


def segment(row: DocumentSegment) -> dict[str, Any]:
    return segments([row])[0]


def metadata_field(field: DatasetMetadata) -> dict[str, Any]:
    return {"id": str(field.id), "type": field.type, "name": field.name}
