"""Writing the DSL: the ``workflow`` block of an app and the YAML text in Dify's key layout.

Dify dumps with ``yaml.dump(data, allow_unicode=True)``: keys sorted, block style. Graph nodes are exported
as stored, so keys this platform does not know survive a round trip.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml
from django.conf import settings

from workflows.dsl.dataset_ids import encrypt_dataset_id
from workflows.dsl.dependencies import dependencies_for, providers_of_graph
from workflows.models import Workflow
from workflows.services.variables import environment_variables_for_export

FILE_VARIABLE_TYPES = {"file", "file-list"}
LOCAL_FILE_ID_KEYS = {"upload_file_id", "uploadedId"}


def _is_local_file(value: Mapping[str, Any]) -> bool:
    method = value.get("transfer_method") or value.get("transferMethod")
    return method == "local_file" or any(key in value for key in LOCAL_FILE_ID_KEYS)


def _sanitize_file_default(value: Any) -> Any:
    """Start-form file defaults pointing at this workspace's uploads mean nothing elsewhere: drop them."""
    if isinstance(value, list):
        items = [i for i in (_sanitize_file_default(v) for v in value) if i is not None]
        return items or None
    if not isinstance(value, Mapping):
        return value
    if _is_local_file(value):
        return None
    return {k: v for k, v in value.items() if k not in LOCAL_FILE_ID_KEYS}


# Dify resets a schedule trigger's configuration on export (the importer sets its own schedule).
SCHEDULE_DEFAULT_CONFIG = {
    "mode": "visual",
    "frequency": "daily",
    "visual_config": {"time": "12:00 AM", "on_minute": 0, "weekdays": ["sun"], "monthly_days": [1]},
    "timezone": "UTC",
}


def _scrub_node(data: dict[str, Any], include_secret: bool, tenant_id: str) -> None:
    node_type = data.get("type")
    if node_type == "knowledge-retrieval" and settings.DSL_EXPORT_ENCRYPT_DATASET_ID:
        data["dataset_ids"] = [
            encrypt_dataset_id(str(value), tenant_id) for value in data.get("dataset_ids") or []
        ]
    if not include_secret and node_type == "tool":
        data.pop("credential_id", None)
    if not include_secret and node_type == "agent":
        tools = ((data.get("agent_parameters") or {}).get("tools") or {}).get("value") or []
        for tool in tools:
            if isinstance(tool, dict):
                tool.pop("credential_id", None)
    # The blanked keys are blanked where present (never added), so an export re-imports to an equal graph.
    if node_type == "trigger-webhook":
        for key in ("webhook_url", "webhook_debug_url"):
            if key in data:
                data[key] = ""
    if node_type == "trigger-plugin" and "subscription_id" in data:
        data["subscription_id"] = ""
    if node_type == "trigger-schedule":
        data["config"] = copy.deepcopy(SCHEDULE_DEFAULT_CONFIG)
    for variable in data.get("variables") or [] if isinstance(data.get("variables"), list) else []:
        if (
            isinstance(variable, dict)
            and variable.get("type") in FILE_VARIABLE_TYPES
            and "default" in variable
        ):
            sanitized = _sanitize_file_default(variable["default"])
            if sanitized is None:
                variable.pop("default")
            else:
                variable["default"] = sanitized


def workflow_block(workflow: Workflow, *, include_secret: bool = False) -> dict[str, Any]:
    """``Workflow.to_dict(include_secret)``: graph, features and variables (secrets blanked unless asked)."""
    graph = copy.deepcopy(workflow.graph or {})
    for node in graph.get("nodes") or []:
        if isinstance(node, dict) and isinstance(node.get("data"), dict):
            _scrub_node(node["data"], include_secret, str(workflow.tenant_id))
    return {
        "graph": graph,
        "features": copy.deepcopy(workflow.features or {}),
        "environment_variables": environment_variables_for_export(
            workflow.environment_variables or [], include_secret=include_secret
        ),
        "conversation_variables": copy.deepcopy(workflow.conversation_variables or []),
        "rag_pipeline_variables": [],
    }


def workflow_dependencies(workflow: Workflow) -> list[dict[str, Any]]:
    return dependencies_for(providers_of_graph(workflow.graph or {}))


def dump_yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), allow_unicode=True, sort_keys=True)
