"""Knowledge bases as agent tools (Dify's ``DatasetRetrieverTool``), for agent-chat apps.

An agent app does not put its datasets into the prompt as context: each dataset becomes a tool the model
may call, ``dataset_<id with underscores>`` with one ``query`` parameter, described by the dataset's
description (or Dify's "useful for when you want to answer queries about the <name>"). The datasets are
the app's ``dataset_configs`` ones and the older ``agent_mode.tools`` entries ``{"dataset": {"enabled",
"id"}}``. A call searches that one dataset with the app's ``top_k``, threshold and reranking settings and
answers the segments' text; what was found is kept as Dify's ``retriever_resources`` for the message.

``AgentToolPort`` puts these tools beside the workspace's other tools (``TenantToolPort``), so the agent
loops see one port. Datasets are looked up in the app's workspace only: another workspace's id is not a
tool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.runners.agent_chat import AgentTool
from dify_project.db import db_sync_to_async
from providers.tools.exceptions import ToolNotFoundError, ToolParameterValidationError
from providers.tools.port import TenantToolPort
from workflows.engine.ports import ToolMessage, ToolRequest, ToolSpec

logger = logging.getLogger(__name__)

DATASET = "dataset"  # the provider type of these tools
QUERY_DESCRIPTION = "Query for the dataset to be used to retrieve the dataset."


def dataset_ids_of(config: Mapping[str, Any]) -> list[str]:
    """The enabled datasets of an agent app: ``dataset_configs`` first, then ``agent_mode.tools``."""
    from knowledge.retrieval_port import _dataset_ids

    ids = _dataset_ids(config.get("dataset_configs") or {})
    for item in (config.get("agent_mode") or {}).get("tools") or []:
        dataset = item.get("dataset") if isinstance(item, Mapping) else None
        if isinstance(dataset, Mapping) and dataset.get("id") and dataset.get("enabled", True):
            ids.append(str(dataset["id"]))
    return list(dict.fromkeys(ids))


def dataset_tool_name(dataset_id: str) -> str:
    return f"dataset_{dataset_id.replace('-', '_')}"


def dataset_agent_tools(ids: list[str]) -> list[AgentTool]:
    return [
        AgentTool(
            provider_type=DATASET, provider_id=dataset_id, tool_name=dataset_tool_name(dataset_id), fixed={}
        )
        for dataset_id in ids
    ]


@dataclass
class DatasetTools:
    """The datasets an agent may search, and what its searches found (``resources``)."""

    tenant_id: str
    app_id: str
    dataset_configs: Mapping[str, Any]
    retriever_from: str = "api"
    resources: list[dict[str, Any]] = field(default_factory=list)
    _found: dict[str, Any] = field(default_factory=dict)

    async def _dataset(self, dataset_id: str) -> Any:
        if dataset_id not in self._found:

            def load() -> Any:
                from knowledge.exceptions import DatasetNotFound
                from knowledge.selectors import dataset_get

                try:
                    return dataset_get(tenant=self.tenant_id, dataset_id=dataset_id)
                except DatasetNotFound:
                    return None

            self._found[dataset_id] = await db_sync_to_async(load)()
        found = self._found[dataset_id]
        if found is None:
            raise ToolNotFoundError(f"dataset {dataset_id} not found")
        return found

    async def spec(self, dataset_id: str) -> ToolSpec:
        dataset = await self._dataset(dataset_id)
        description = (
            dataset.description or f"useful for when you want to answer queries about the {dataset.name}"
        )
        return ToolSpec(
            name=dataset_tool_name(str(dataset.id)),
            description=description.replace("\n", "").replace("\r", ""),
            parameters={
                "type": "object",
                "properties": {"query": {"type": "string", "description": QUERY_DESCRIPTION}},
                "required": ["query"],
            },
        )

    async def search(self, dataset_id: str, query: Any) -> str:
        from knowledge.retrieval import MultiRequest, retrieve, retriever_resource
        from knowledge.retrieval_port import _reranking

        if not isinstance(query, str) or not query.strip():
            raise ToolParameterValidationError("query must be a non-empty string")
        await self._dataset(dataset_id)
        configs = self.dataset_configs
        threshold = configs.get("score_threshold") if configs.get("score_threshold_enabled") else None
        records = await retrieve(
            tenant_id=self.tenant_id,
            request=MultiRequest(
                dataset_ids=[dataset_id],
                query=query,
                top_k=int(configs.get("top_k") or 4),
                score_threshold=float(threshold) if threshold is not None else None,
                **_reranking(dict(configs)),
            ),
            app_id=self.app_id,
            user_role="end_user",
            user_id=None,
        )
        for record in records:
            self.resources.append(
                retriever_resource(
                    record, position=len(self.resources) + 1, retriever_from=self.retriever_from
                )
            )
        return "\n".join(record.context_text() for record in records)


class AgentToolPort:
    """The tools an agent app calls: its datasets here, everything else through ``TenantToolPort``."""

    def __init__(self, tools: TenantToolPort, datasets: DatasetTools | None = None) -> None:
        self.tools = tools
        self.datasets = datasets
        self.tenant_id = tools.tenant_id

    async def tool_spec(self, *, provider_type: str, provider_id: str, tool_name: str) -> ToolSpec:
        if provider_type == DATASET:
            if self.datasets is None:
                raise ToolNotFoundError(f"dataset {provider_id} not found")
            return await self.datasets.spec(provider_id)
        return await self.tools.tool_spec(
            provider_type=provider_type, provider_id=provider_id, tool_name=tool_name
        )

    async def invoke(self, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        if request.provider_type == DATASET:
            if self.datasets is None:
                raise ToolNotFoundError(f"dataset {request.provider_id} not found")
            text = await self.datasets.search(request.provider_id, request.parameters.get("query"))
            yield ToolMessage(type="text", text=text)
            return
        async for message in self.tools.invoke(request):
            yield message
