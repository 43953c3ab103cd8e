"""Which knowledge bases an app uses, kept in ``knowledge``'s app-dataset joins (a dataset's app count, and
the refusal to delete a dataset still in use). Synced, as in Dify, when a chat/completion app's model
config is saved and when a workflow is published; cleared when the app is deleted."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from knowledge.models import AppDatasetJoin


def _uuids(values: Any) -> list[str]:
    found: list[str] = []
    for value in values or []:
        try:
            found.append(str(uuid.UUID(str(value))))
        except ValueError:
            continue  # a stale or foreign id in an imported file: nothing to join
    return list(dict.fromkeys(found))


def dataset_ids_of_config(config: Mapping[str, Any]) -> list[str]:
    """Dataset ids of a model config: ``dataset_configs.datasets.datasets[].dataset.id`` and, in configs
    from older Dify versions, ``agent_mode.tools[].dataset.id``."""
    holder = (config.get("dataset_configs") or {}).get("datasets") or {}
    items = list((holder.get("datasets") if isinstance(holder, dict) else holder) or [])
    items += list((config.get("agent_mode") or {}).get("tools") or [])
    return _uuids(
        item["dataset"].get("id")
        for item in items
        if isinstance(item, dict) and isinstance(item.get("dataset"), dict)
    )


def dataset_ids_of_graph(graph: Mapping[str, Any]) -> list[str]:
    """Dataset ids of every knowledge-retrieval node, containers' children included (they are nodes too)."""
    ids: list[Any] = []
    for node in graph.get("nodes") or []:
        data = node.get("data") if isinstance(node, dict) else None
        if isinstance(data, dict) and data.get("type") == "knowledge-retrieval":
            ids.extend(data.get("dataset_ids") or [])
    return _uuids(ids)


def app_datasets_clear(*, tenant_id: Any, app_id: Any) -> None:
    AppDatasetJoin.objects.filter(tenant_id=tenant_id, app_id=app_id).delete()
