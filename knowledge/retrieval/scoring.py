"""Scoring and fusion: the weighted reranker's TF-IDF keyword half, reranking by a model, the weighted
score of vector and keyword similarity, and the top-k / threshold cut."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from dify_project.db import db_sync_to_async
from knowledge.index import Hit, vector_from_bytes
from knowledge.index.base import cosine
from knowledge.index.chooser import asearch_store
from knowledge.models import (
    Dataset,
    IndexNode,
)
from knowledge.retrieval.settings import (
    FULL_TEXT,
    HYBRID,
    KEYWORD,
    SEMANTIC,
    Scored,
    Settings,
)

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
    store = await asearch_store()
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
