"""Knowledge retrieval for the runners: the workflow engine's ``RetrievalPort`` and chat apps' context.

Wiring (for the lead):

* workflow / chatflow runs: ``wf.Ports(..., retrieval=TenantRetrievalPort(tenant_id=..., user=..., app_id=...))``
  in ``apps.runners.ports.ports_for_run``;
* chat / completion / agent apps with datasets:
  ``context, resources = await retrieve_context(tenant_id=..., app_id=..., dataset_configs=config["dataset_configs"],
  query=query, user=end_user_id, model=config["model"])``; put ``context`` into the prompt's ``#context#``
  and ``resources`` into the answer's ``metadata.retriever_resources`` (when ``retriever_resource`` is on).

Datasets are always looked up in the given workspace: ids of other workspaces, deleted datasets and
datasets with nothing available are skipped, as Dify does. Retrieval bumps the segments' ``hit_count``
and records a ``DatasetQuery`` (source ``app``).
"""

from __future__ import annotations

from typing import Any

from knowledge.retrieval import MultiRequest, Record, retrieve, retriever_resource, workflow_source
from workflows.engine.ports import RetrievalRequest, RetrievedChunk


def _reranking(config: dict[str, Any] | None) -> dict[str, Any]:
    config = config or {}
    return {
        "reranking_enable": config.get("reranking_enable", True) is not False,
        "reranking_mode": config.get("reranking_mode") or "reranking_model",
        "reranking_model": config.get("reranking_model"),
        "weights": config.get("weights"),
    }


def _filtering(filtering: dict[str, Any] | None) -> dict[str, Any]:
    """The node's metadata filtering as MultiRequest fields: manual conditions, or automatic (a model
    writes them; see ``knowledge.retrieval.metadata.automatic_conditions``)."""
    mode = (filtering or {}).get("mode")
    if mode == "automatic":
        model = filtering.get("model")
        return {
            "metadata_filtering_mode": "automatic",
            "metadata_model": model if isinstance(model, dict) else None,
        }
    conditions = (filtering or {}).get("conditions")
    if mode != "manual" or not isinstance(conditions, dict):
        return {}
    return {"metadata_filtering": conditions}


class TenantRetrievalPort:
    """The engine's RetrievalPort for one workspace (knowledge-retrieval nodes)."""

    def __init__(self, *, tenant_id: str, user: str | None = None, app_id: str | None = None) -> None:
        self.tenant_id = str(tenant_id)
        self.user = user
        self.app_id = app_id

    async def retrieve(self, request: RetrievalRequest) -> list[RetrievedChunk]:
        rerank = _reranking(request.reranking)
        records = await retrieve(
            tenant_id=self.tenant_id,  # never the request's: the run's workspace is the only scope
            request=MultiRequest(
                dataset_ids=list(request.dataset_ids),
                query=request.query,
                mode=request.mode,
                top_k=request.top_k,
                score_threshold=request.score_threshold,
                single_model=request.single_model,
                **_filtering(request.metadata_filtering),
                **rerank,
            ),
            app_id=self.app_id,
            user_role="end_user",
            user_id=None,
        )
        return [_chunk(record) for record in records]


def _chunk(record: Record) -> RetrievedChunk:
    source = workflow_source(record)
    return RetrievedChunk(
        content=source["content"], score=record.score, title=source["title"], metadata=source["metadata"]
    )


def _dataset_ids(dataset_configs: dict[str, Any]) -> list[str]:
    """Dataset ids of an app's ``dataset_configs`` (``datasets.datasets[].dataset.id``, enabled ones),
    or a plain ``dataset_ids`` list."""
    ids: list[str] = [str(i) for i in dataset_configs.get("dataset_ids") or []]
    holder = dataset_configs.get("datasets") or {}
    items = holder.get("datasets") if isinstance(holder, dict) else holder
    for item in items or []:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if isinstance(dataset, dict) and dataset.get("id") and dataset.get("enabled", True):
            ids.append(str(dataset["id"]))
    return list(dict.fromkeys(ids))


async def retrieve_context(
    *,
    tenant_id: str,
    app_id: str,
    dataset_configs: dict,
    query: str,
    user: str | None,
    model: dict[str, Any] | None = None,
    retriever_from: str = "api",
) -> tuple[str, list[dict]]:
    """Context for a chat/completion app: the retrieved segments' text joined by newlines, best first
    (Dify's ``DatasetRetrieval.retrieve``), and Dify's ``retriever_resources`` list.

    ``dataset_configs`` is the app's: ``retrieval_model`` ``single`` (an LLM picks one dataset; pass the
    app's ``model`` config ``{"provider", "name", "completion_params"}``) or ``multiple`` (default), with
    ``top_k``, ``score_threshold(_enabled)``, reranking settings and manual metadata filtering.
    """
    dataset_configs = dataset_configs or {}
    ids = _dataset_ids(dataset_configs)
    if not ids or not query:
        return "", []
    threshold = (
        dataset_configs.get("score_threshold") if dataset_configs.get("score_threshold_enabled") else None
    )
    filtering = _filtering(
        {
            "mode": dataset_configs.get("metadata_filtering_mode"),
            "conditions": dataset_configs.get("metadata_filtering_conditions"),
            "model": dataset_configs.get("metadata_model_config"),
        }
    )
    records = await retrieve(
        tenant_id=str(tenant_id),
        request=MultiRequest(
            dataset_ids=ids,
            query=query,
            mode="single" if dataset_configs.get("retrieval_model") == "single" else "multiple",
            top_k=int(dataset_configs.get("top_k") or 4),
            score_threshold=float(threshold) if threshold is not None else None,
            single_model=model,
            **filtering,
            **_reranking(dataset_configs),
        ),
        app_id=app_id,
        user_role="end_user",
        user_id=None,
    )
    context = "\n".join(record.context_text() for record in records)
    resources = [
        retriever_resource(record, position=position, retriever_from=retriever_from)
        for position, record in enumerate(records, start=1)
    ]
    return context, resources
