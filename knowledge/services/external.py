"""Dify's external knowledge: a user's own retrieval endpoint behind a dataset with provider ``external``.

An *external knowledge API* is ``{name, description, settings: {endpoint, api_key}}``; a dataset bound to
one (and to a ``external_knowledge_id`` the endpoint understands) is searched by ``POST {endpoint}/retrieval``
with ``Authorization: Bearer {api_key}`` and Dify's body::

    {"retrieval_setting": {"top_k": 2, "score_threshold": 0.0}, "query": "...", "knowledge_id": "...",
     "metadata_condition": {...}}          # only when a metadata filter is given (Dify's issue 21070)

answered by ``{"records": [{"content", "score", "title", "metadata"}]}``. Every request goes through the
guarded HTTP client (``dify_project.outbound``): a user-given address reaches no private network unless
an operator allows it. The key is encrypted at rest and masked (``[__HIDDEN__]`` keeps it on update).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

import httpx
from django.db import IntegrityError, transaction

from accounts.models import Tenant
from dify_project.crypto import mask
from dify_project.outbound import DestinationBlocked, ResponseTooLarge, async_http_client, http_client
from knowledge import exceptions as errors
from knowledge.models import Dataset, ExternalKnowledgeApi, ExternalKnowledgeBinding

logger = logging.getLogger(__name__)

HIDDEN_VALUE = "[__HIDDEN__]"
TIMEOUT_SECONDS = 30.0
DEFAULT_EXTERNAL_RETRIEVAL = {"top_k": 2, "score_threshold": 0.0, "score_threshold_enabled": False}


def _settings(settings: Any, *, current: ExternalKnowledgeApi | None = None) -> tuple[str, str]:
    if not isinstance(settings, dict) or not settings:
        raise errors.InvalidParam("api list is empty", params="settings")
    endpoint = str(settings.get("endpoint") or "").strip().rstrip("/")
    api_key = str(settings.get("api_key") or "")
    if not endpoint:
        raise errors.InvalidParam("endpoint is required", params="settings.endpoint")
    if current is not None and api_key in (HIDDEN_VALUE, mask(current.api_key)):
        api_key = current.api_key
    if not api_key:
        raise errors.InvalidParam("api_key is required", params="settings.api_key")
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise errors.InvalidParam(
            f"invalid endpoint: {endpoint} must start with http:// or https://", params="settings.endpoint"
        )
    return endpoint, api_key


def _check_endpoint(endpoint: str, api_key: str) -> None:
    """Dify's check on save: the endpoint answers ``/retrieval`` and takes the key (502/404/403 refused)."""
    try:
        with http_client(timeout=TIMEOUT_SECONDS) as client:
            response = client.post(f"{endpoint}/retrieval", headers={"Authorization": f"Bearer {api_key}"})
    except DestinationBlocked as exc:
        raise errors.InvalidParam(
            f"failed to connect to the endpoint: {exc}", params="settings.endpoint"
        ) from None
    except httpx.HTTPError:
        raise errors.InvalidParam(
            f"failed to connect to the endpoint: {endpoint}/retrieval", params="settings.endpoint"
        ) from None
    refused = {
        502: f"Bad Gateway: failed to connect to the endpoint: {endpoint}/retrieval",
        404: f"Not Found: failed to connect to the endpoint: {endpoint}/retrieval",
        403: "Forbidden: Authorization failed with the api_key",
    }.get(response.status_code)
    if refused:
        raise errors.InvalidParam(refused, params="settings")


def external_api_create(
    *, tenant: Tenant, account_id: Any, name: str, description: str = "", settings: Any
) -> ExternalKnowledgeApi:
    endpoint, api_key = _settings(settings)
    _check_endpoint(endpoint, api_key)
    return ExternalKnowledgeApi.objects.create(
        tenant=tenant,
        name=name,
        description=description or "",
        endpoint=endpoint,
        api_key=api_key,
        created_by=account_id,
        updated_by=account_id,
    )


def external_api_update(
    *, api: ExternalKnowledgeApi, account_id: Any, name: str, description: str = "", settings: Any
) -> ExternalKnowledgeApi:
    endpoint, api_key = _settings(settings, current=api)
    if (endpoint, api_key) != (api.endpoint, api.api_key):
        _check_endpoint(endpoint, api_key)
    api.name, api.description, api.endpoint, api.api_key = name, description or "", endpoint, api_key
    api.updated_by = account_id
    api.save()
    return api


def external_api_delete(*, api: ExternalKnowledgeApi) -> None:
    """Deletes the API; datasets bound to it lose their binding and retrieve nothing (as in Dify, the
    console asks ``use-check`` first)."""
    api.delete()


def external_api_use_count(*, api: ExternalKnowledgeApi) -> int:
    return ExternalKnowledgeBinding.objects.filter(external_knowledge_api=api).count()


def external_api_out(api: ExternalKnowledgeApi) -> dict[str, Any]:
    """Dify's ``ExternalKnowledgeApis.to_dict`` (the key masked)."""
    bindings = ExternalKnowledgeBinding.objects.filter(external_knowledge_api=api).select_related("dataset")
    return {
        "id": str(api.id),
        "tenant_id": str(api.tenant_id),
        "name": api.name,
        "description": api.description,
        "settings": {"endpoint": api.endpoint, "api_key": mask(api.api_key)},
        "dataset_bindings": [{"id": str(b.dataset_id), "name": b.dataset.name} for b in bindings],
        "created_by": str(api.created_by) if api.created_by else None,
        "created_at": api.created_at.isoformat(),
    }


def external_retrieval_model(value: Any) -> dict[str, Any]:
    model = {**DEFAULT_EXTERNAL_RETRIEVAL, **(value or {})}
    return {
        "top_k": int(model.get("top_k") or 2),
        "score_threshold": float(model.get("score_threshold") or 0.0),
        "score_threshold_enabled": bool(model.get("score_threshold_enabled")),
    }


def external_dataset_create(
    *,
    tenant: Tenant,
    account_id: Any,
    name: str,
    description: str = "",
    api: ExternalKnowledgeApi,
    external_knowledge_id: str,
    retrieval_model: dict[str, Any] | None = None,
) -> Dataset:
    """A dataset with provider ``external`` bound to `api` and `external_knowledge_id`."""
    from knowledge.services.datasets import _validate_name

    name = _validate_name(name)
    if not str(external_knowledge_id or "").strip():
        raise errors.InvalidParam("external_knowledge_id is required", params="external_knowledge_id")
    if Dataset.objects.for_tenant(tenant).filter(name=name).exists():
        raise errors.DatasetNameDuplicate()
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                tenant=tenant,
                name=name,
                description=description or "",
                provider="external",
                retrieval_model=external_retrieval_model(retrieval_model),
                created_by=account_id,
            )
            ExternalKnowledgeBinding.objects.create(
                tenant=tenant,
                dataset=dataset,
                external_knowledge_api=api,
                external_knowledge_id=str(external_knowledge_id),
                created_by=account_id,
            )
    except IntegrityError:
        raise errors.DatasetNameDuplicate() from None
    return dataset


def external_info(dataset: Dataset) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Dify's ``external_knowledge_info`` and ``external_retrieval_model`` of a dataset (None, None when
    it is not external)."""
    if dataset.provider != "external":
        return None, None
    binding = ExternalKnowledgeBinding.objects.filter(dataset=dataset).select_related(
        "external_knowledge_api"
    )
    found = binding.first()
    info = None
    if found is not None:
        api = found.external_knowledge_api
        info = {
            "external_knowledge_id": found.external_knowledge_id,
            "external_knowledge_api_id": str(api.id),
            "external_knowledge_api_name": api.name,
            "external_knowledge_api_endpoint": api.endpoint,
        }
    return info, external_retrieval_model(dataset.retrieval_model)


def _binding(dataset_id: Any, tenant_id: Any) -> tuple[str, str, str] | None:
    found = (
        ExternalKnowledgeBinding.objects.filter(dataset_id=dataset_id, tenant_id=tenant_id)
        .select_related("external_knowledge_api")
        .first()
    )
    if found is None:
        return None
    api = found.external_knowledge_api
    return api.endpoint, api.api_key, found.external_knowledge_id


def _records(body: Any, *, top_k: int, threshold: float) -> list[dict[str, Any]]:
    items = body.get("records") if isinstance(body, dict) else None
    records = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            continue
        try:
            score = float(item.get("score") or 0.0)
        except (TypeError, ValueError):
            score = 0.0
        if score < threshold:
            continue
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        records.append(
            {"content": item["content"], "title": item.get("title"), "score": score, "metadata": metadata}
        )
    records.sort(key=lambda r: r["score"], reverse=True)
    return records[:top_k]


async def external_retrieve(
    *,
    dataset: Dataset,
    query: str,
    retrieval_model: dict[str, Any] | None = None,
    metadata_condition: dict[str, Any] | None = None,
    raise_errors: bool = False,
) -> list[dict[str, Any]]:
    """The endpoint's records for `query`, best first, at most ``top_k`` and above the threshold when
    enabled. A failing endpoint: `raise_errors` raises ``ExternalKnowledgeUnavailable`` (hit testing),
    otherwise it is logged and answers nothing (an app's other datasets still answer)."""
    from dify_project.db import db_sync_to_async

    binding = await db_sync_to_async(_binding)(dataset.id, dataset.tenant_id)
    if binding is None:
        return []
    endpoint, api_key, knowledge_id = binding
    settings = external_retrieval_model(retrieval_model or dataset.retrieval_model)
    threshold = settings["score_threshold"] if settings["score_threshold_enabled"] else 0.0
    body: dict[str, Any] = {
        "retrieval_setting": {"top_k": settings["top_k"], "score_threshold": threshold},
        "query": query,
        "knowledge_id": knowledge_id,
    }
    if metadata_condition:
        body["metadata_condition"] = metadata_condition
    try:
        async with async_http_client(timeout=TIMEOUT_SECONDS) as client:
            response = await client.post(
                f"{endpoint}/retrieval", json=body, headers={"Authorization": f"Bearer {api_key}"}
            )
        if response.status_code != 200:
            raise httpx.HTTPStatusError("not 200", request=response.request, response=response)
        return _records(response.json(), top_k=settings["top_k"], threshold=threshold)
    except (httpx.HTTPError, DestinationBlocked, ResponseTooLarge, ValueError) as exc:
        logger.warning("External knowledge %s failed: %s", endpoint, exc)
        if raise_errors:
            raise errors.ExternalKnowledgeUnavailable(f"External knowledge API failed: {exc}") from None
        return []
