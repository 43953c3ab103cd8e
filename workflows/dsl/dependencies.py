"""The ``dependencies`` list of a DSL: which plugins (model and tool providers) an app needs.

Dify fills it from its plugin registry (``org/plugin:version@sha256``). This platform has no plugin
registry, so exports list each provider the graph (or model config) uses as a marketplace dependency
without a version (``langgenius/openai``); imports keep what the file says and report it. Dependencies are
informational: nothing here refuses an import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_MODEL_NODE_TYPES = ("llm", "question-classifier", "parameter-extractor")


def _plugin_id(provider: Any) -> str | None:
    """``langgenius/openai/openai`` -> ``langgenius/openai``; ``openai`` -> ``langgenius/openai``."""
    if not isinstance(provider, str) or not provider.strip():
        return None
    parts = [p for p in provider.strip().strip("/").split("/") if p]
    if len(parts) >= 2:
        return f"{parts[0]}/{parts[1]}"
    return f"langgenius/{parts[0]}"


def providers_of_graph(graph: Mapping[str, Any]) -> list[str]:
    """Provider ids the nodes of a graph use (models, tools, rerank/embedding of knowledge retrieval)."""
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and value and value not in found:
            found.append(value)

    for node in graph.get("nodes") or []:
        data = node.get("data") if isinstance(node, Mapping) else None
        if not isinstance(data, Mapping):
            continue
        node_type = data.get("type")
        if node_type in _MODEL_NODE_TYPES and isinstance(data.get("model"), Mapping):
            add(data["model"].get("provider"))
        elif node_type == "tool" and data.get("provider_type") in ("builtin", "plugin", None):
            add(data.get("provider_id"))
        elif node_type == "knowledge-retrieval":
            config = data.get("multiple_retrieval_config") or {}
            if isinstance(config, Mapping):
                rerank = config.get("reranking_model") or {}
                if isinstance(rerank, Mapping):
                    add(rerank.get("provider"))
                weights = config.get("weights") or {}
                vector = weights.get("vector_setting") if isinstance(weights, Mapping) else None
                if isinstance(vector, Mapping):
                    add(vector.get("embedding_provider_name"))
            single = data.get("single_retrieval_config") or {}
            if isinstance(single, Mapping) and isinstance(single.get("model"), Mapping):
                add(single["model"].get("provider"))
    return found


def providers_of_model_config(config: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    model = config.get("model")
    if isinstance(model, Mapping) and isinstance(model.get("provider"), str):
        found.append(model["provider"])
    agent_mode = config.get("agent_mode")
    if isinstance(agent_mode, Mapping):
        for tool in agent_mode.get("tools") or []:
            if isinstance(tool, Mapping) and tool.get("provider_type") in ("builtin", "plugin"):
                provider = tool.get("provider_id")
                if isinstance(provider, str) and provider not in found:
                    found.append(provider)
    return found


def dependencies_for(providers: Iterable[str]) -> list[dict[str, Any]]:
    """Dify's dependency entries for the given provider ids, one per plugin."""
    plugins: list[str] = []
    for provider in providers:
        plugin = _plugin_id(provider)
        if plugin and plugin not in plugins:
            plugins.append(plugin)
    return [
        {
            "type": "marketplace",
            "value": {"marketplace_plugin_unique_identifier": plugin},
            "current_identifier": None,
        }
        for plugin in plugins
    ]


def plugin_of_dependency(dependency: Any) -> str | None:
    """The ``org/plugin`` a dependency entry names, whatever its type (version and hash dropped)."""
    if not isinstance(dependency, Mapping):
        return None
    value = dependency.get("value")
    if not isinstance(value, Mapping):
        return None
    identifier = (
        value.get("marketplace_plugin_unique_identifier")
        or value.get("plugin_unique_identifier")
        or value.get("package")
        or value.get("repo")
    )
    if not isinstance(identifier, str):
        return None
    return identifier.split(":", 1)[0].split("@", 1)[0] or None
