"""Retrieval: semantic, full-text, hybrid (weighted score or a rerank model), thresholds, metadata
filters, several datasets at once; hit testing; the shapes Dify returns.

Async, for the runners: database reads and store searches run on the database pool
(``db_sync_to_async``), model calls (query embedding, rerank) on the loop. Follows Dify's ``RetrievalService`` / ``DatasetRetrieval``:

* one dataset: its search method with ``top_k``; semantic and full-text may be reranked by a model;
  hybrid runs both, keeps the best score per chunk, then reranks (model) or re-scores
  ``vector_weight * cosine + keyword_weight * tf-idf cosine`` (weighted); then the score threshold;
* several datasets (apps, the workflow node): each searched with its own settings, the union reranked
  or weighted with the app's settings, cut to ``top_k`` and the threshold;
* results map to enabled, completed segments of enabled, unarchived documents; in parent-child mode
  child hits fold into their parent, which takes the best child score.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from dify_project.api.fields import timestamp
from dify_project.db import db_sync_to_async
from knowledge.index import Hit, search_store, vector_from_bytes
from knowledge.index.base import cosine
from knowledge.models import (
    DEFAULT_RETRIEVAL_MODEL,
    ChildChunk,
    Dataset,
    DatasetQuery,
    Document,
    DocumentSegment,
    IndexingStatus,
    IndexNode,
)

logger = logging.getLogger(__name__)

SEMANTIC, FULL_TEXT, HYBRID, KEYWORD = (
    "semantic_search",
    "full_text_search",
    "hybrid_search",
    "keyword_search",
)


@dataclass
class Settings:
    """How to search: Dify's ``retrieval_model`` (one dataset) or an app's multi-dataset settings."""

    search_method: str = SEMANTIC
    top_k: int = 4
    score_threshold: float | None = None
    reranking_enable: bool = False
    reranking_mode: str = "reranking_model"
    reranking_model: dict[str, Any] | None = None
    weights: dict[str, Any] | None = None

    @classmethod
    def from_retrieval_model(cls, model: dict[str, Any] | None, *, default_top_k: int = 4) -> Settings:
        model = {**DEFAULT_RETRIEVAL_MODEL, "top_k": default_top_k, **(model or {})}
        threshold = model.get("score_threshold") if model.get("score_threshold_enabled") else None
        return cls(
            search_method=model.get("search_method") or SEMANTIC,
            top_k=int(model.get("top_k") or default_top_k),
            score_threshold=float(threshold) if threshold is not None else None,
            reranking_enable=bool(model.get("reranking_enable")),
            reranking_mode=model.get("reranking_mode") or "reranking_model",
            reranking_model=model.get("reranking_model"),
            weights=model.get("weights"),
        )

    @property
    def rerank_model(self) -> tuple[str, str] | None:
        model = self.reranking_model or {}
        provider, name = model.get("reranking_provider_name"), model.get("reranking_model_name")
        if self.reranking_enable and self.reranking_mode != "weighted_score" and provider and name:
            return str(provider), str(name)
        return None

    @property
    def weighted(self) -> bool:
        return self.reranking_mode == "weighted_score" and bool(self.weights)


@dataclass
class Scored:
    node_id: str
    score: float
    dataset_id: str = ""
    content: str = ""


@dataclass
class Record:
    """One result: a segment, its document and dataset, its score, the child chunks that matched."""

    segment: DocumentSegment
    document: Document
    dataset: Dataset
    score: float
    child_chunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def content(self) -> str:
        return self.segment.content

    def context_text(self) -> str:
        if self.segment.answer:
            return f"question:{self.segment.content} answer:{self.segment.answer}"
        return self.segment.content


# --- keyword scores (the weighted reranker's TF-IDF half) -----------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


def _keywords(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 or not w.isascii()]


def keyword_scores(query: str, texts: Sequence[str]) -> list[float]:
    """Cosine of TF-IDF vectors of the query and each text, IDF over the candidates (Dify's formula)."""
    docs = [_keywords(t) for t in texts]
    total = len(docs)
    idf: dict[str, float] = {}
    for word in {w for d in docs for w in d}:
        containing = sum(1 for d in docs if word in d)
        idf[word] = math.log((1 + total) / (1 + containing)) + 1
    query_vec = {w: c * idf.get(w, 0.0) for w, c in Counter(_keywords(query)).items()}

    def cosine(a: dict[str, float], b: dict[str, float]) -> float:
        numerator = sum(a[w] * b[w] for w in set(a) & set(b))
        denominator = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
        return numerator / denominator if denominator else 0.0

    return [cosine(query_vec, {w: c * idf[w] for w, c in Counter(d).items()}) for d in docs]


# --- searching ------------------------------------------------------------------------------------------


def _node_texts(node_ids: Sequence[str]) -> dict[str, tuple[str, bytes | None]]:
    rows = IndexNode.objects.filter(node_id__in=list(node_ids)).values_list("node_id", "content", "vector")
    return {
        node_id: (content, bytes(vector) if vector is not None else None) for node_id, content, vector in rows
    }


async def _query_vector(
    dataset: Dataset, query: str, cache: dict[tuple[str, str], list[float]]
) -> list[float]:
    from knowledge.services.embeddings import embed_query

    key = (dataset.embedding_model_provider or "", dataset.embedding_model or "")
    if key not in cache:
        cache[key] = await embed_query(
            tenant_id=str(dataset.tenant_id),
            provider=key[0],
            model=key[1],
            query=query,
            source={"dataset_id": str(dataset.id)},
        )
    return cache[key]


async def _rerank(
    *, tenant_id: str, model: tuple[str, str], query: str, items: list[Scored], top_n: int | None
) -> list[Scored]:
    from providers.services.invocation import rerank

    if not items:
        return []
    result = await rerank(
        tenant_id=tenant_id,
        provider=model[0],
        model=model[1],
        query=query,
        documents=[i.content for i in items],
        top_n=top_n,
    )
    return [
        Scored(items[d.index].node_id, float(d.score), items[d.index].dataset_id, items[d.index].content)
        for d in result.docs
    ]


async def _weighted(
    *,
    query: str,
    items: list[Scored],
    weights: dict[str, Any],
    vectors: dict[str, list[float]],
    datasets: dict[str, Dataset],
) -> list[Scored]:
    vector_weight = float((weights.get("vector_setting") or {}).get("vector_weight", 0.0) or 0.0)
    keyword_weight = float((weights.get("keyword_setting") or {}).get("keyword_weight", 0.0) or 0.0)
    stored = await db_sync_to_async(_node_texts)([i.node_id for i in items])
    kw = keyword_scores(query, [i.content for i in items])
    scored = []
    for item, keyword_score in zip(items, kw, strict=True):
        vector_score = 0.0
        blob = stored.get(item.node_id, ("", None))[1]
        dataset = datasets.get(item.dataset_id)
        query_vec = (
            vectors.get(f"{dataset.embedding_model_provider}/{dataset.embedding_model}") if dataset else None
        )
        if blob is not None and query_vec is not None:
            vector_score = cosine(vector_from_bytes(blob), query_vec)
        score = vector_weight * vector_score + keyword_weight * keyword_score
        scored.append(Scored(item.node_id, score, item.dataset_id, item.content))
    scored.sort(key=lambda s: s.score, reverse=True)
    return scored


def _cut(items: list[Scored], *, top_k: int | None, threshold: float | None) -> list[Scored]:
    if threshold is not None:
        items = [i for i in items if i.score >= threshold]
    items = sorted(items, key=lambda s: s.score, reverse=True)
    return items[:top_k] if top_k else items


async def search_dataset(
    dataset: Dataset,
    query: str,
    settings: Settings,
    *,
    document_ids: Sequence[str] | None = None,
    vector_cache: dict[tuple[str, str], list[float]] | None = None,
) -> list[Scored]:
    """One dataset searched with `settings` (see the module docstring). Best first."""
    vector_cache = {} if vector_cache is None else vector_cache
    store = search_store()
    method = settings.search_method
    if dataset.indexing_technique != "high_quality":
        method = KEYWORD  # economy datasets have no vectors: keyword (full-text) search only
    top_k = settings.top_k
    did = str(dataset.id)
    hits: dict[str, Hit] = {}
    if method in (SEMANTIC, HYBRID):
        vector = await _query_vector(dataset, query, vector_cache)
        for hit in await db_sync_to_async(store.search_vector)(
            dataset_id=did, vector=vector, top_k=top_k, document_ids=document_ids
        ):
            hits[hit.node_id] = hit
    if method in (FULL_TEXT, KEYWORD, HYBRID):
        for hit in await db_sync_to_async(store.search_full_text)(
            dataset_id=did, query=query, top_k=top_k, document_ids=document_ids
        ):
            if hit.node_id not in hits or hits[hit.node_id].score < hit.score:
                hits[hit.node_id] = hit
    texts = await db_sync_to_async(_node_texts)(list(hits))
    items = [Scored(h.node_id, h.score, did, texts.get(h.node_id, ("", None))[0]) for h in hits.values()]
    rerank_model = settings.rerank_model
    if rerank_model and method != KEYWORD:
        items = await _rerank(
            tenant_id=str(dataset.tenant_id), model=rerank_model, query=query, items=items, top_n=top_k
        )
    elif method == HYBRID and settings.reranking_enable and settings.weighted:
        vectors = {
            f"{dataset.embedding_model_provider}/{dataset.embedding_model}": await _query_vector(
                dataset, query, vector_cache
            )
        }
        items = await _weighted(
            query=query, items=items, weights=settings.weights or {}, vectors=vectors, datasets={did: dataset}
        )
    return _cut(items, top_k=top_k, threshold=settings.score_threshold)


# --- results --------------------------------------------------------------------------------------------


def build_records(items: Sequence[Scored]) -> list[Record]:
    """Hits to Records: live segments only, child chunks folded into their parent (best score wins)."""
    if not items:
        return []
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
    ordered = sorted(records.values(), key=lambda r: r.score, reverse=True)
    for record in ordered:
        record.child_chunks.sort(key=lambda c: c["score"], reverse=True)
    return ordered


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
        "child_chunks": record.child_chunks or None,
        "score": record.score,
        "tsne_position": None,
        "files": [],
        "summary": None,
    }


def workflow_source(record: Record) -> dict[str, Any]:
    """A knowledge-retrieval node ``result`` item's metadata/title/content (Dify's shape)."""
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


def retriever_resource(record: Record, *, position: int, retriever_from: str) -> dict[str, Any]:
    """A ``retriever_resources[]`` item of a chat answer's metadata (Dify's RetrieverResource)."""
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


# --- metadata filtering ---------------------------------------------------------------------------------


def _as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def condition_matches(actual: Any, operator: str, expected: Any) -> bool:
    """Dify's comparison operators on one metadata value."""
    empty = actual is None or actual == "" or actual == []
    if operator == "empty":
        return empty
    if operator == "not empty":
        return not empty
    if empty:
        return operator in ("not contains", "is not", "≠", "!=", "not in")
    if operator in ("contains", "not contains", "start with", "end with", "is", "is not"):
        text, wanted = str(actual), "" if expected is None else str(expected)
        return {
            "contains": wanted in text,
            "not contains": wanted not in text,
            "start with": text.startswith(wanted),
            "end with": text.endswith(wanted),
            "is": text == wanted,
            "is not": text != wanted,
        }[operator]
    if operator in ("in", "not in"):
        options = (
            expected if isinstance(expected, list) else [v.strip() for v in str(expected or "").split(",")]
        )
        found = str(actual) in [str(o) for o in options]
        return found if operator == "in" else not found
    a, b = _as_number(actual), _as_number(expected)
    if a is None or b is None:
        return False
    return {
        "=": a == b,
        "≠": a != b,
        "!=": a != b,
        ">": a > b,
        "<": a < b,
        "≥": a >= b,
        ">=": a >= b,
        "≤": a <= b,
        "<=": a <= b,
        "before": a < b,
        "after": a > b,
    }.get(operator, False)


def _built_ins(document: Document, dataset: Dataset) -> dict[str, Any]:
    return {
        "document_name": document.name,
        "uploader": str(document.created_by) if document.created_by else None,
        "upload_date": timestamp(document.created_at),
        "last_update_date": timestamp(document.updated_at),
        "source": document.data_source_type,
    }


def documents_matching(
    datasets: Sequence[Dataset], filtering: dict[str, Any] | None
) -> dict[str, list[str]] | None:
    """Per dataset, the ids of documents whose metadata meet manual conditions; None when not filtering.
    ``{"logical_operator": "and"|"or", "conditions": [{"name", "comparison_operator", "value"}]}``."""
    if not filtering:
        return None
    conditions = [c for c in filtering.get("conditions") or [] if isinstance(c, dict) and c.get("name")]
    if not conditions:
        return None
    combine = any if str(filtering.get("logical_operator", "and")).lower() == "or" else all
    by_id = {d.id: d for d in datasets}
    matched: dict[str, list[str]] = {str(d.id): [] for d in datasets}
    documents = Document.objects.filter(dataset_id__in=list(by_id)).only(
        "id",
        "dataset_id",
        "name",
        "doc_metadata",
        "created_by",
        "created_at",
        "updated_at",
        "data_source_type",
    )
    for document in documents:
        dataset = by_id[document.dataset_id]
        values = dict(document.doc_metadata or {})
        if dataset.built_in_field_enabled:
            values = {**_built_ins(document, dataset), **values}
        if combine(
            condition_matches(
                values.get(c["name"]), str(c.get("comparison_operator") or "is"), c.get("value")
            )
            for c in conditions
        ):
            matched[str(dataset.id)].append(str(document.id))
    return matched


# --- entry points ---------------------------------------------------------------------------------------


def _record_queries(
    datasets: Sequence[Dataset], query: str, *, source: str, app_id: Any, role: str, user: Any
) -> None:
    DatasetQuery.objects.bulk_create(
        [
            DatasetQuery(
                tenant_id=d.tenant_id,
                dataset=d,
                content=query,
                source=source,
                source_app_id=app_id,
                created_by_role=role,
                created_by=user,
            )
            for d in datasets
        ]
    )


def _count_hits(records: Sequence[Record]) -> None:
    ids = [r.segment.id for r in records]
    if ids:
        DocumentSegment.objects.filter(id__in=ids).update(
            hit_count=F("hit_count") + 1, updated_at=timezone.now()
        )
        for record in records:
            record.segment.hit_count += 1


async def hit_test(
    *, dataset: Dataset, query: str, retrieval_model: dict[str, Any] | None, account_id: Any
) -> dict[str, Any]:
    """Dify's hit testing / ``retrieve``: the dataset's (or the request's) retrieval model; writes a
    DatasetQuery (source ``hit_testing``); ``{query: {content}, records: [...]}``."""
    model = retrieval_model or dataset.retrieval_model or None
    settings = Settings.from_retrieval_model(model, default_top_k=4)
    filtering = (model or {}).get("metadata_filtering_conditions")
    records: list[Record] = []
    document_ids = None
    matched = await db_sync_to_async(documents_matching)([dataset], filtering)
    if matched is not None:
        document_ids = matched[str(dataset.id)]
    if document_ids is None or document_ids:
        items = await search_dataset(dataset, query, settings, document_ids=document_ids)
        records = await db_sync_to_async(build_records)(items)
    await db_sync_to_async(_record_queries)(
        [dataset],
        json.dumps([{"content_type": "text_query", "content": query}]),
        source="hit_testing",
        app_id=None,
        role="account",
        user=account_id,
    )
    return {"query": {"content": query}, "records": [hit_testing_record(r) for r in records]}


@dataclass
class MultiRequest:
    """What an app or a workflow node asks for across datasets."""

    dataset_ids: list[str]
    query: str
    mode: str = "multiple"
    top_k: int = 4
    score_threshold: float | None = None
    reranking_enable: bool = True
    reranking_mode: str = "reranking_model"
    reranking_model: dict[str, Any] | None = None
    weights: dict[str, Any] | None = None
    metadata_filtering: dict[str, Any] | None = None  # manual conditions
    single_model: dict[str, Any] | None = None  # {"provider", "name"} routing model for "single"


def _available_datasets(tenant_id: str, dataset_ids: Sequence[str]) -> list[Dataset]:
    """The workspace's datasets among `dataset_ids` that have an available document; unknown ids, other
    workspaces' datasets and empty datasets are skipped, as Dify does."""
    import uuid

    ids = []
    for value in dataset_ids:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    available = Document.objects.filter(
        dataset=OuterRef("pk"), indexing_status=IndexingStatus.COMPLETED, enabled=True, archived=False
    )
    rows = {
        d.id: d for d in Dataset.objects.for_tenant(tenant_id).filter(id__in=ids).filter(Exists(available))
    }
    return [rows[i] for i in ids if i in rows]


async def _route_single(
    tenant_id: str, datasets: list[Dataset], query: str, model: dict[str, Any] | None
) -> Dataset | None:
    """Dify's single-retrieval router: one dataset skips the model; otherwise the model picks one by
    name and description through a tool call (no call: no dataset)."""
    if len(datasets) == 1:
        return datasets[0]
    if not model or not model.get("provider") or not model.get("name"):
        return None
    from providers.services.invocation import llm_invoke

    tools = [
        {
            "name": str(d.id),
            "description": (d.description or f"useful for when you want to answer queries about the {d.name}")
            .replace("\n", "")
            .replace("\r", ""),
            "parameters": {"type": "object", "properties": {}, "required": []},
        }
        for d in datasets
    ]
    try:
        result = await llm_invoke(
            tenant_id=tenant_id,
            provider=str(model["provider"]),
            model=str(model["name"]),
            messages=[
                {"role": "system", "content": "You are a helpful AI assistant."},
                {"role": "user", "content": query},
            ],
            parameters=dict(model.get("completion_params") or {}),
            tools=tools,
        )
    except Exception:
        logger.warning("Single-dataset routing failed; no dataset chosen", exc_info=True)
        return None
    calls = getattr(result.message, "tool_calls", None) or []
    by_id = {str(d.id): d for d in datasets}
    for call in calls:
        name = getattr(call, "name", None) or getattr(getattr(call, "function", None), "name", None)
        if name in by_id:
            return by_id[name]
    return None


async def retrieve(
    *,
    tenant_id: str,
    request: MultiRequest,
    app_id: Any = None,
    user_role: str = "end_user",
    user_id: Any = None,
    count_hits: bool = True,
) -> list[Record]:
    """Retrieve across datasets for an app or a workflow node (see the module docstring)."""
    datasets = await db_sync_to_async(_available_datasets)(str(tenant_id), request.dataset_ids)
    if not datasets or not request.query:
        return []
    matched = await db_sync_to_async(documents_matching)(datasets, request.metadata_filtering)
    vector_cache: dict[tuple[str, str], list[float]] = {}
    if request.mode == "single":
        chosen = await _route_single(str(tenant_id), datasets, request.query, request.single_model)
        if chosen is None:
            return []
        settings = Settings.from_retrieval_model(chosen.retrieval_model, default_top_k=2)
        ids = matched[str(chosen.id)] if matched is not None else None
        items = [] if ids == [] else await search_dataset(chosen, request.query, settings, document_ids=ids)
        searched = [chosen]
    else:
        searched = [d for d in datasets if matched is None or matched[str(d.id)]]

        async def one(dataset: Dataset) -> list[Scored]:
            settings = Settings.from_retrieval_model(dataset.retrieval_model, default_top_k=2)
            ids = matched[str(dataset.id)] if matched is not None else None
            return await search_dataset(
                dataset, request.query, settings, document_ids=ids, vector_cache=vector_cache
            )

        groups = await asyncio.gather(*(one(d) for d in searched))
        items = [item for group in groups for item in group]
        app_settings = Settings(
            top_k=request.top_k,
            score_threshold=request.score_threshold,
            reranking_enable=request.reranking_enable,
            reranking_mode=request.reranking_mode or "reranking_model",
            reranking_model=request.reranking_model,
            weights=request.weights,
        )
        if app_settings.rerank_model:
            items = await _rerank(
                tenant_id=str(tenant_id),
                model=app_settings.rerank_model,
                query=request.query,
                items=items,
                top_n=request.top_k,
            )
        elif app_settings.reranking_enable and app_settings.weighted:
            by_id = {str(d.id): d for d in searched}
            vectors: dict[str, list[float]] = {}
            for dataset in searched:
                if dataset.indexing_technique == "high_quality":
                    key = f"{dataset.embedding_model_provider}/{dataset.embedding_model}"
                    vectors[key] = await _query_vector(dataset, request.query, vector_cache)
            items = await _weighted(
                query=request.query,
                items=items,
                weights=request.weights or {},
                vectors=vectors,
                datasets=by_id,
            )
        items = _cut(items, top_k=request.top_k, threshold=request.score_threshold)
    records = await db_sync_to_async(build_records)(items)
    await db_sync_to_async(_record_queries)(
        searched, request.query, source="app", app_id=app_id, role=user_role, user=user_id
    )
    if count_hits:
        await db_sync_to_async(_count_hits)(records)
    return records
