"""The scale-out vector store: Qdrant (``VECTOR_STORE=qdrant``), full text staying in the database.

``IndexNode`` rows stay the source of truth (text and vector); Qdrant holds a mirror of their vectors
for approximate nearest-neighbour search on a cluster that grows past one database. One collection per
embedding model and dimension (``{prefix}_{provider}_{model}_{dimension}``, cosine distance), as Dify
keeps one per model; each point is an index node (id: the node id), with a payload the searches filter on
inside Qdrant: ``dataset_id``, ``document_id``, ``segment_id``, ``node_id`` and ``enabled``.

Kept in step by the indexing services: points are upserted as nodes are written (a segment edit
re-writes its node, so its vector is replaced), deleted with them (segment delete or disable, child chunk
delete, document delete or disable, dataset delete). Searches confirm their hits against the node table
(one indexed read of ``top_k`` ids), so a point written by a transaction that then rolled back is never
returned.

Where Qdrant runs: ``QDRANT_URL`` (a server or cluster, with ``QDRANT_API_KEY``), or in this process at
``QDRANT_PATH``: by default on Qdrant Edge (the Qdrant engine itself, see ``knowledge.index.qdrant_edge``),
or with ``QDRANT_LOCAL_ENGINE=client`` in the client's local mode (a directory, or ``:memory:``): the same
API as a server, but a brute-force numpy search evaluating payload filters in Python (about 2 s a search
at 100k points), one process per directory. The store tests cover both local engines.

The helpers below (point ids, collection names, payloads, confirming hits) are shared with the Edge store.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings

from knowledge.index.base import Hit, vector_from_bytes

logger = logging.getLogger(__name__)

_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def qdrant_available() -> bool:
    try:
        import qdrant_client  # noqa: F401
    except ImportError:
        return False
    return True


def qdrant_client_for(*, url: str = "", path: str = "", api_key: str = "") -> Any:
    """One client per location and process: the local mode locks its directory, so a second client on
    the same path in the same process would be refused."""
    from qdrant_client import QdrantClient

    key = (url, path, api_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if url:
                client = QdrantClient(url=url, api_key=api_key or None, timeout=30)
            else:
                client = (
                    QdrantClient(location=":memory:") if path in ("", ":memory:") else QdrantClient(path=path)
                )
            _clients[key] = client
        return client


def point_id(node_id: str) -> str:
    """Qdrant takes UUIDs or integers as ids: a node id is a UUID; anything else maps to a stable one."""
    try:
        return str(uuid.UUID(str(node_id)))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dify-node:{node_id}"))


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")[:80] or "none"


def collection_name_for(prefix: str, provider: str, model: str, dimension: int) -> str:
    """``{prefix}_{provider}_{model}_{dimension}``: one collection (or Edge shard) per embedding model."""
    return f"{_slug(prefix)}_{_slug(f'{provider}_{model}')}_{int(dimension)}"


def dataset_models(dataset_ids: Iterable[Any]) -> dict[str, tuple[str, str]]:
    """(embedding provider, model) per dataset id: which collection a dataset's vectors live in."""
    from knowledge.models import Dataset

    rows = Dataset.objects.filter(id__in=list(set(dataset_ids))).values_list(
        "id", "embedding_model_provider", "embedding_model"
    )
    return {str(i): (provider or "", model or "") for i, provider, model in rows}


def nodes_by_collection(
    nodes: Sequence, collection_name: Callable[[str, str, int], str]
) -> dict[tuple[str, int], list[Any]]:
    """The nodes that carry a vector, grouped by (collection, dimension): where each one is upserted."""
    rows = [n for n in nodes if n.vector is not None]
    by_dataset = dataset_models(n.dataset_id for n in rows) if rows else {}
    groups: dict[tuple[str, int], list[Any]] = {}
    for node in rows:
        provider, model = by_dataset.get(str(node.dataset_id), ("", ""))
        groups.setdefault((collection_name(provider, model, node.dimension), node.dimension), []).append(node)
    return groups


def node_payload(node: Any) -> dict[str, str]:
    """What a point carries: the ids searches filter on inside Qdrant, and the node id hits come back as."""
    return {
        "node_id": node.node_id,
        "dataset_id": str(node.dataset_id),
        "document_id": str(node.document_id),
        "segment_id": str(node.segment_id),
    }


def confirmed_hits(scored: Iterable[tuple[str, float]]) -> list[Hit]:
    """(node id, score) best first, as hits: scores clamped to [0, 1], and only nodes still in the node
    table (one indexed read), so a point written by a transaction that rolled back is never returned."""
    from knowledge.models import IndexNode

    hits = [Hit(node_id, max(0.0, min(1.0, float(score)))) for node_id, score in scored]
    live = set(
        IndexNode.objects.filter(node_id__in=[h.node_id for h in hits]).values_list("node_id", flat=True)
    )
    return [h for h in hits if h.node_id in live]


class QdrantVectors:
    """The vector half of a store on Qdrant (see the module docstring)."""

    name = "qdrant"

    def __init__(
        self,
        *,
        url: str | None = None,
        path: str | None = None,
        api_key: str | None = None,
        prefix: str | None = None,
    ) -> None:
        self.url = settings.QDRANT_URL if url is None else url
        self.path = settings.QDRANT_PATH if path is None else path
        self.api_key = settings.QDRANT_API_KEY if api_key is None else api_key
        self.prefix = _slug(settings.QDRANT_COLLECTION_PREFIX if prefix is None else prefix)
        self.client = qdrant_client_for(url=self.url, path=self.path, api_key=self.api_key)
        self._collections: set[str] = set()
        self._lock = threading.Lock()

    # -- collections

    def collection_name(self, provider: str, model: str, dimension: int) -> str:
        return collection_name_for(self.prefix, provider, model, dimension)

    def _ensure(self, name: str, dimension: int) -> None:
        if name in self._collections:
            return
        from qdrant_client import models

        with self._lock:
            if name in self._collections:
                return
            if not self.client.collection_exists(name):
                self.client.create_collection(
                    name,
                    vectors_config=models.VectorParams(size=int(dimension), distance=models.Distance.COSINE),
                )
                if self.url:  # a server indexes payload fields; the local mode has no such indexes
                    for field in ("dataset_id", "document_id"):
                        self.client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)
                    self.client.create_payload_index(name, "enabled", models.PayloadSchemaType.BOOL)
            self._collections.add(name)

    def _our_collections(self) -> list[str]:
        names = [c.name for c in self.client.get_collections().collections]
        return [n for n in names if n.startswith(f"{self.prefix}_")]

    # -- writes

    def nodes_added(self, nodes: Sequence) -> None:
        from qdrant_client import models

        batches = {
            key: [
                models.PointStruct(
                    id=point_id(node.node_id),
                    vector=vector_from_bytes(node.vector),
                    payload={**node_payload(node), "enabled": True},
                )
                for node in group
            ]
            for key, group in nodes_by_collection(nodes, self.collection_name).items()
        }
        for (name, dimension), points in batches.items():
            self._ensure(name, dimension)
            for start in range(0, len(points), 512):
                self.client.upsert(name, points=points[start : start + 512], wait=True)

    def nodes_removed(self, rowids: Sequence[int], *, node_ids: Sequence[str] = ()) -> None:
        from qdrant_client import models

        ids = [point_id(n) for n in node_ids if n]
        if not ids:
            return
        for name in self._our_collections():
            for start in range(0, len(ids), 1000):
                self.client.delete(
                    name, points_selector=models.PointIdsList(points=ids[start : start + 1000])
                )

    def dataset_removed(self, dataset_id: str) -> None:
        from qdrant_client import models

        selector = models.FilterSelector(filter=self._filter(str(dataset_id), None))
        for name in self._our_collections():
            self.client.delete(name, points_selector=selector)

    # -- reads

    @staticmethod
    def _filter(dataset_id: str, document_ids: Sequence[str] | None, *, enabled_only: bool = False) -> Any:
        from qdrant_client import models

        must: list[Any] = [
            models.FieldCondition(key="dataset_id", match=models.MatchValue(value=dataset_id)),
        ]
        if enabled_only:
            must.append(models.FieldCondition(key="enabled", match=models.MatchValue(value=True)))
        if document_ids is not None:
            must.append(
                models.FieldCondition(
                    key="document_id", match=models.MatchAny(any=[str(d) for d in document_ids])
                )
            )
        return models.Filter(must=must)

    def count(self, *, dataset_id: str) -> int:
        """Points mirrored for a dataset, across collections (tests and `reindex_dataset` report it)."""
        return sum(
            self.client.count(name, count_filter=self._filter(str(dataset_id), None), exact=True).count
            for name in self._our_collections()
        )

    def search(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        if top_k <= 0 or (document_ids is not None and not document_ids):
            return []
        provider, model = dataset_models([dataset_id]).get(str(dataset_id), ("", ""))
        name = self.collection_name(provider, model, len(vector))
        self._ensure(name, len(vector))
        result = self.client.query_points(
            name,
            query=[float(v) for v in vector],
            # `enabled` is checked by a server (an indexed payload field, free); the local mode evaluates
            # each condition per point in Python, and disabling removes the points anyway.
            query_filter=self._filter(str(dataset_id), document_ids, enabled_only=bool(self.url)),
            limit=top_k,
            with_payload=["node_id"],
        )
        return confirmed_hits((p.payload["node_id"], p.score) for p in result.points)
