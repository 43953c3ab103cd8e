"""Knowledge-base references in an imported app file, resolved to this workspace's datasets.

Dify exports a knowledge-retrieval node's ``dataset_ids`` encrypted (AES-CBC keyed by SHA-256 of the
exporting workspace's id, IV = the key's first 16 bytes, PKCS7, base64) and, on import, keeps the ids it
can decrypt with the importing workspace's key and drops the rest. We do the same, and also keep plain
UUIDs (files exported here, or by a Dify with encryption off); an id is kept only when it names a dataset
of this workspace. Dropped references are reported as an import warning instead of leaving nodes that
silently retrieve nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from knowledge.models import Dataset


def _decrypt(value: str, tenant_id: str) -> str | None:
    key = hashlib.sha256(str(tenant_id).encode()).digest()
    try:
        raw = base64.b64decode(value, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        padded = decryptor.update(raw) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _as_uuid(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _candidate(value: Any, tenant_id: str) -> str | None:
    return _as_uuid(value) or (_as_uuid(_decrypt(value, tenant_id)) if isinstance(value, str) else None)


def _retrieval_nodes(graph: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for node in graph.get("nodes") or []:
        data = node.get("data") if isinstance(node, dict) else None
        if isinstance(data, dict) and data.get("type") == "knowledge-retrieval":
            yield data


def resolve_graph_datasets(*, graph: dict[str, Any], tenant_id: Any) -> list[str]:
    """Rewrite every knowledge-retrieval node's ``dataset_ids`` in place; answers the warnings."""
    nodes = list(_retrieval_nodes(graph))
    wanted = {
        value: _candidate(value, str(tenant_id)) for data in nodes for value in data.get("dataset_ids") or []
    }
    owned = {
        str(pk)
        for pk in Dataset.objects.for_tenant(tenant_id)
        .filter(id__in=[v for v in wanted.values() if v])
        .values_list("id", flat=True)
    }
    warnings: list[str] = []
    for data in nodes:
        original = list(data.get("dataset_ids") or [])
        kept = [wanted[value] for value in original if wanted.get(value) in owned]
        data["dataset_ids"] = list(dict.fromkeys(kept))
        dropped = len(original) - len(kept)
        if dropped:
            title = data.get("title") or "knowledge retrieval"
            warnings.append(
                f"{title}: {dropped} knowledge base reference(s) do not belong to this workspace and were "
                "removed; choose its knowledge bases again"
            )
    return warnings
