"""The entry points: hit testing, and retrieval over one or several datasets for apps and workflows."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from dify_project.db import db_sync_to_async
from knowledge.models import (
    Dataset,
    DatasetQuery,
    Document,
    DocumentSegment,
    IndexingStatus,
)
from knowledge.retrieval.metadata import (
    automatic_conditions,
    documents_matching,
)
from knowledge.retrieval.records import (
    build_records,
    external_hit_testing_record,
    hit_testing_record,
)
from knowledge.retrieval.scoring import (
    _cut,
    _query_vector,
    _rerank,
    _weighted,
    search_dataset,
)
from knowledge.retrieval.settings import (
    ExternalRecord,
    Record,
    Scored,
    Settings,
)

logger = logging.getLogger(__name__)


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


def _count_hits(records: Sequence[Record | ExternalRecord]) -> None:
    records = [r for r in records if isinstance(r, Record)]
    ids = [r.segment.id for r in records]
    if ids:
        DocumentSegment.objects.filter(id__in=ids).update(
            hit_count=F("hit_count") + 1, updated_at=timezone.now()
        )
        for record in records:
            record.segment.hit_count += 1


async def external_hit_test(
    *,
    dataset: Dataset,
    query: str,
    retrieval_model: dict[str, Any] | None,
    metadata_filtering_conditions: dict[str, Any] | None,
    account_id: Any,
) -> dict[str, Any]:
    """Dify's external hit testing: the endpoint's records as ``{content, title, score, metadata}``."""
    from knowledge.services.external import external_retrieve

    found = await external_retrieve(
        dataset=dataset,
        query=query,
        retrieval_model=retrieval_model,
        metadata_condition=metadata_filtering_conditions,
        raise_errors=True,
    )
    await db_sync_to_async(_record_queries)(
        [dataset], query, source="hit_testing", app_id=None, role="account", user=account_id
    )
    records = [ExternalRecord(dataset, r["content"], r["title"], r["score"], r["metadata"]) for r in found]
    return {"query": {"content": query}, "records": [external_hit_testing_record(r) for r in records]}


async def hit_test(
    *,
    dataset: Dataset,
    query: str,
    retrieval_model: dict[str, Any] | None,
    account_id: Any,
    external_retrieval_model: dict[str, Any] | None = None,
    metadata_filtering_conditions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Dify's hit testing / ``retrieve``: the dataset's (or the request's) retrieval model; writes a
    DatasetQuery (source ``hit_testing``); ``{query: {content}, records: [...]}``. An external dataset
    asks its endpoint (``external_retrieval_model``, the filter passed on as ``metadata_condition``)."""
    if dataset.provider == "external":
        return await external_hit_test(
            dataset=dataset,
            query=query,
            retrieval_model=external_retrieval_model,
            metadata_filtering_conditions=metadata_filtering_conditions
            or (retrieval_model or {}).get("metadata_filtering_conditions"),
            account_id=account_id,
        )
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
    # "automatic": a model (``metadata_model``, {"provider", "name", "completion_params"}) writes the
    # conditions from the query and the datasets' metadata field names.
    metadata_filtering_mode: str = "manual"
    metadata_model: dict[str, Any] | None = None


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
        d.id: d
        for d in Dataset.objects.for_tenant(tenant_id)
        .filter(id__in=ids)
        .filter(Exists(available) | Q(provider="external"))
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
    filtering = request.metadata_filtering
    if request.metadata_filtering_mode == "automatic":
        filtering = await automatic_conditions(
            tenant_id=str(tenant_id), datasets=datasets, query=request.query, model=request.metadata_model
        )
    internal = [d for d in datasets if d.provider != "external"]
    matched = await db_sync_to_async(documents_matching)(internal, filtering)
    vector_cache: dict[tuple[str, str], list[float]] = {}
    externals: dict[str, ExternalRecord] = {}

    async def one(dataset: Dataset, default_top_k: int = 2) -> list[Scored]:
        if dataset.provider == "external":
            return await _search_external(dataset, request.query, filtering, externals)
        settings = Settings.from_retrieval_model(dataset.retrieval_model, default_top_k=default_top_k)
        ids = matched[str(dataset.id)] if matched is not None else None
        if ids == []:
            return []
        return await search_dataset(
            dataset, request.query, settings, document_ids=ids, vector_cache=vector_cache
        )

    if request.mode == "single":
        chosen = await _route_single(str(tenant_id), datasets, request.query, request.single_model)
        if chosen is None:
            return []
        items = await one(chosen)
        searched = [chosen]
    else:
        searched = [d for d in datasets if d.provider == "external" or matched is None or matched[str(d.id)]]

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
                if dataset.indexing_technique == "high_quality" and dataset.provider != "external":
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
    records = await db_sync_to_async(build_records)(items, externals)
    await db_sync_to_async(_record_queries)(
        searched, request.query, source="app", app_id=app_id, role=user_role, user=user_id
    )
    if count_hits:
        await db_sync_to_async(_count_hits)(records)
    return records


async def _search_external(
    dataset: Dataset, query: str, filtering: dict[str, Any] | None, externals: dict[str, ExternalRecord]
) -> list[Scored]:
    """An external dataset's records as scored items (ids kept in `externals` for the result builder)."""
    from knowledge.services.external import external_retrieve

    found = await external_retrieve(dataset=dataset, query=query, metadata_condition=filtering)
    items = []
    for position, record in enumerate(found):
        node_id = f"external:{dataset.id}:{position}"
        metadata = {**record["metadata"], "_source": "external"}
        externals[node_id] = ExternalRecord(
            dataset, record["content"], record["title"], record["score"], metadata
        )
        items.append(Scored(node_id, record["score"], str(dataset.id), record["content"]))
    return items
