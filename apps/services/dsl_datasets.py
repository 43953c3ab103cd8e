"""Knowledge-base references in an imported app file, as Dify resolves them.

Dify exports a knowledge-retrieval node's ``dataset_ids`` encrypted (AES-CBC keyed by SHA-256 of the
exporting workspace's id, IV = the key's first 16 bytes, PKCS7, base64). On import it keeps plain UUIDs,
decrypts the others with the importing workspace's key, and drops what does not decrypt (a file from
another workspace). We do the same, and report the dropped references as an import warning instead of
leaving a node that silently retrieves nothing. (Retrieval itself only ever reads the run's workspace.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from workflows.dsl.dataset_ids import decrypt_dataset_id


def _as_uuid(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _candidate(value: Any, tenant_id: str) -> str | None:
    return _as_uuid(value) or (
        _as_uuid(decrypt_dataset_id(value, tenant_id)) if isinstance(value, str) else None
    )


def _retrieval_nodes(graph: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for node in graph.get("nodes") or []:
        data = node.get("data") if isinstance(node, dict) else None
        if isinstance(data, dict) and data.get("type") == "knowledge-retrieval":
            yield data


def resolve_graph_datasets(*, graph: dict[str, Any], tenant_id: Any) -> list[str]:
    """Rewrite every knowledge-retrieval node's ``dataset_ids`` in place; answers the warnings."""
    warnings: list[str] = []
    for data in _retrieval_nodes(graph):
        original = list(data.get("dataset_ids") or [])
        resolved = (_candidate(value, str(tenant_id)) for value in original)
        kept = [value for value in resolved if value]
        data["dataset_ids"] = list(dict.fromkeys(kept))
        dropped = len(original) - len(kept)
        if dropped:
            title = data.get("title") or "knowledge retrieval"
            warnings.append(
                f"{title}: {dropped} knowledge base reference(s) were exported from another workspace and "
                "were removed; choose its knowledge bases again"
            )
    return warnings
