"""Datasets: create, update, delete (Dify's DatasetService rules)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Tenant
from knowledge import exceptions as errors
from knowledge.models import DEFAULT_RETRIEVAL_MODEL, AppDatasetJoin, Dataset, Document, IndexingStatus
from knowledge.services.embeddings import run_async

SEARCH_METHODS = ("semantic_search", "full_text_search", "hybrid_search", "keyword_search")


def _validate_name(name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 40:
        raise errors.InvalidParam("Name must be between 1 to 40 characters.", params="name")
    return name


def validate_retrieval_model(value: Any) -> dict[str, Any] | None:
    """A retrieval_model object as Dify accepts it; returns it with defaults filled."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.InvalidParam("retrieval_model must be an object.", params="retrieval_model")
    merged = {**DEFAULT_RETRIEVAL_MODEL, **value}
    if merged.get("search_method") not in SEARCH_METHODS:
        raise errors.InvalidParam("Retrieval method is invalid.", params="retrieval_model.search_method")
    top_k = merged.get("top_k")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise errors.InvalidParam("top_k must be a positive integer.", params="retrieval_model.top_k")
    threshold = merged.get("score_threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)):
        raise errors.InvalidParam(
            "score_threshold must be a number.", params="retrieval_model.score_threshold"
        )
    if merged.get("reranking_model") is None:
        merged["reranking_model"] = {"reranking_provider_name": "", "reranking_model_name": ""}
    return merged


def resolve_embedding_model(*, tenant_id: str, provider: str | None, model: str | None) -> tuple[str, str]:
    """The embedding model a high-quality dataset uses: the one asked for, else the workspace default."""
    if provider and model:
        return provider, model
    from providers.services.invocation import default_model

    found = run_async(default_model, tenant_id=str(tenant_id), model_type="text-embedding")
    if not found:
        raise errors.ProviderNotInitialize()
    return found


def dataset_create(
    *,
    tenant: Tenant,
    account_id: Any,
    name: str,
    description: str = "",
    indexing_technique: str | None = None,
    permission: str | None = None,
    provider: str = "vendor",
    embedding_model: str | None = None,
    embedding_model_provider: str | None = None,
    retrieval_model: dict[str, Any] | None = None,
) -> Dataset:
    """An empty knowledge base. 409 ``dataset_name_duplicate`` if the workspace has one of that name."""
    name = _validate_name(name)
    if Dataset.objects.for_tenant(tenant).filter(name=name).exists():
        raise errors.DatasetNameDuplicate()
    retrieval = validate_retrieval_model(retrieval_model)
    if indexing_technique == "high_quality":
        embedding_model_provider, embedding_model = resolve_embedding_model(
            tenant_id=str(tenant.id), provider=embedding_model_provider, model=embedding_model
        )
    try:
        with transaction.atomic():
            return Dataset.objects.create(
                tenant=tenant,
                name=name,
                description=description or "",
                indexing_technique=indexing_technique,
                permission=permission or "only_me",
                provider=provider or "vendor",
                embedding_model=embedding_model if indexing_technique == "high_quality" else None,
                embedding_model_provider=embedding_model_provider
                if indexing_technique == "high_quality"
                else None,
                retrieval_model=retrieval,
                created_by=account_id,
            )
    except IntegrityError:
        raise errors.DatasetNameDuplicate() from None  # a concurrent create of the same name won


def dataset_update(*, dataset: Dataset, account_id: Any, data: dict[str, Any]) -> Dataset:
    """Partial update: name, description, permission, indexing technique, embedding model, retrieval
    model. Changing the embedding model of a dataset with documents re-embeds nothing by itself here:
    it is refused (Dify reindexes in a task; we ask for a new dataset instead)."""
    if "name" in data and data["name"] is not None:
        name = _validate_name(data["name"])
        if name != dataset.name and Dataset.objects.for_tenant(dataset.tenant_id).filter(name=name).exists():
            raise errors.DatasetNameDuplicate()
        dataset.name = name
    if "description" in data and data["description"] is not None:
        if len(str(data["description"])) > 400:
            raise errors.InvalidParam("Description cannot exceed 400 characters.", params="description")
        dataset.description = str(data["description"])
    if data.get("permission"):
        dataset.permission = data["permission"]
    if "retrieval_model" in data and data["retrieval_model"] is not None:
        dataset.retrieval_model = validate_retrieval_model(data["retrieval_model"])
    technique = data.get("indexing_technique")
    has_documents = Document.objects.filter(dataset=dataset).exists()
    wanted_provider = data.get("embedding_model_provider")
    wanted_model = data.get("embedding_model")
    model_changes = bool(
        wanted_model
        and wanted_provider
        and (wanted_model, wanted_provider) != (dataset.embedding_model, dataset.embedding_model_provider)
    )
    if (technique and technique != dataset.indexing_technique) or model_changes:
        if has_documents and dataset.indexing_technique is not None:
            raise errors.InvalidParam(
                "Changing the indexing technique or embedding model of a dataset with documents is not "
                "supported; create a new dataset.",
                params="indexing_technique",
            )
        if technique:
            dataset.indexing_technique = technique
        if dataset.indexing_technique == "high_quality":
            provider, model = resolve_embedding_model(
                tenant_id=str(dataset.tenant_id), provider=wanted_provider, model=wanted_model
            )
            dataset.embedding_model_provider, dataset.embedding_model = provider, model
        else:
            dataset.embedding_model_provider = dataset.embedding_model = None
    dataset.updated_by = account_id
    try:
        dataset.save()
    except IntegrityError:
        raise errors.DatasetNameDuplicate() from None
    return dataset


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset and everything in it. 409 ``dataset_in_use`` while an app uses it."""
    if AppDatasetJoin.objects.filter(dataset=dataset).exists():
        raise errors.DatasetInUse()
    from knowledge.index import search_store
    from knowledge.services.indexing import remove_document_nodes

    with transaction.atomic():
        remove_document_nodes(list(Document.objects.filter(dataset=dataset).values_list("id", flat=True)))
        search_store().dataset_removed(str(dataset.id))
        dataset.delete()


def app_dataset_joins_sync(*, tenant_id: Any, app_id: Any, dataset_ids: list[str]) -> None:
    """Record which datasets an app uses (call when an app's model config or workflow is saved)."""
    valid = set(
        Dataset.objects.for_tenant(tenant_id)
        .filter(id__in=[str(d) for d in dataset_ids])
        .values_list("id", flat=True)
    )
    with transaction.atomic():
        AppDatasetJoin.objects.filter(tenant_id=tenant_id, app_id=app_id).exclude(
            dataset_id__in=valid
        ).delete()
        existing = set(
            AppDatasetJoin.objects.filter(tenant_id=tenant_id, app_id=app_id).values_list(
                "dataset_id", flat=True
            )
        )
        AppDatasetJoin.objects.bulk_create(
            [AppDatasetJoin(tenant_id=tenant_id, app_id=app_id, dataset_id=d) for d in valid - existing]
        )


__all__ = [
    "IndexingStatus",
    "app_dataset_joins_sync",
    "dataset_create",
    "dataset_delete",
    "dataset_update",
    "resolve_embedding_model",
    "validate_retrieval_model",
]
