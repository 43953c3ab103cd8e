"""Qdrant in this process: the vector half of ``VECTOR_STORE=qdrant`` when no ``QDRANT_URL`` is set.

Qdrant Edge (``qdrant-edge-py``) is the Qdrant engine itself, in Rust, embedded: payload indexes, SIMD
distance, HNSW once optimised. It replaces the client's local mode (``qdrant.QdrantVectors`` at a path), a
numpy brute force that evaluates payload filters in Python (about 2 s a search at 100k points).

Same layout and semantics as ``QdrantVectors``: one shard (a directory ``{QDRANT_PATH}/{collection}``,
named as the collections are) per embedding model and dimension, created on the first write with keyword
indexes on ``dataset_id`` and ``document_id``; points keyed by ``qdrant.point_id(node_id)`` with the
payload ``qdrant.node_payload``; searches filter by dataset and documents inside the engine and confirm
their hits against the node table. There is no ``enabled`` field: disabling removes the points (and a
bool field matched with True found nothing in this binding, which seems to pass it on as the integer 1).

Limits, from the engine:
- One process per directory: a shard owns its files (its write-ahead log is locked), so a second process
  opening it fails. The web server, a Celery worker that indexes and ``manage.py reindex_dataset`` cannot
  share one ``QDRANT_PATH`` at the same time; several processes need a Qdrant server (``QDRANT_URL``).
- Writes go to plain (unindexed) segments: an exact SIMD scan over the dataset's points, 15-20 ms at 100k.
  ``optimize()`` builds HNSW (about 1.6 ms a search at 100k) but blocks the whole process while it runs
  (a minute at 100k on 2 cores, holding the GIL), so it is never called while serving: ``reindex_dataset``
  calls it at the end of a run (with the server stopped, as above), the benchmark after its copy.
- Durability: an update is in the write-ahead log when it returns (it survives a crash); shards are
  flushed and closed at exit, so the next start does not replay the log.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from knowledge.index.base import Hit, vector_from_bytes
from knowledge.index.qdrant import (
    _slug,
    collection_name_for,
    confirmed_hits,
    dataset_models,
    node_payload,
    nodes_by_collection,
    point_id,
)

logger = logging.getLogger(__name__)

UPSERT_BATCH = 512
DELETE_BATCH = 1000
_CONFIG_FILE = "edge_config.json"  # written by EdgeShard.create: marks a directory holding a shard

# The process's open shards by absolute directory: the engine refuses a second EdgeShard on a directory.
_shards: dict[str, Any] = {}
_shards_lock = threading.Lock()
_ephemeral_roots: list[str] = []


def edge_available() -> bool:
    try:
        import qdrant_edge  # noqa: F401
    except ImportError:
        return False
    return True


def _ephemeral_root() -> str:
    """``QDRANT_PATH=:memory:`` with Edge: a directory of this process, removed at exit (Edge has no
    in-memory mode), so the setting keeps its meaning of "nothing kept" in both local engines."""
    with _shards_lock:
        if not _ephemeral_roots:
            _ephemeral_roots.append(tempfile.mkdtemp(prefix="qdrant-edge-"))
        return _ephemeral_roots[0]


def _open(directory: str, dimension: int | None) -> Any | None:
    """The process's shard at `directory`: open already, loaded, or (given a dimension) created with its
    payload indexes. None when there is no shard there and none is to be created."""
    shard = _shards.get(directory)
    if shard is not None:
        return shard
    import qdrant_edge as qe

    with _shards_lock:
        shard = _shards.get(directory)
        if shard is not None:
            return shard
        exists = (Path(directory) / _CONFIG_FILE).exists()
        if not exists and dimension is None:
            return None
        try:
            if exists:
                shard = qe.EdgeShard.load(directory)
            else:
                config = qe.EdgeConfig(
                    vectors={"": qe.EdgeVectorParams(size=int(dimension), distance=qe.Distance.Cosine)}
                )
                shard = qe.EdgeShard.create(directory, config)
        except Exception as exc:
            if "WouldBlock" in str(exc):  # the write-ahead log is locked by another process
                raise RuntimeError(
                    f"Qdrant Edge shard {directory} is open in another process: one process per "
                    "directory (stop the server before `manage.py reindex_dataset`, or use QDRANT_URL)"
                ) from exc
            raise
        # Also on load: a shard created by a process that stopped before its indexes were made gets them.
        indexed = set(shard.info().payload_schema)
        for field in ("dataset_id", "document_id"):
            if field not in indexed:
                shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
        _shards[directory] = shard
        return shard


def close_shards(directories: Sequence[str] | None = None) -> None:
    """Flush and close shards (all of the process's by default), forgetting them: a later use reloads."""
    with _shards_lock:
        for directory in list(_shards) if directories is None else directories:
            shard = _shards.pop(directory, None)
            if shard is None:
                continue
            try:
                shard.flush()
                shard.close()
            except Exception:  # at exit, one shard failing to close must not keep the others open
                logger.exception("Could not close the Qdrant Edge shard %s", directory)


def _at_exit() -> None:
    close_shards()
    for root in _ephemeral_roots:
        shutil.rmtree(root, ignore_errors=True)


atexit.register(_at_exit)


class QdrantEdgeVectors:
    """The vector half of a store on Qdrant Edge, in this process (see the module docstring)."""

    name = "qdrant-edge"

    def __init__(self, *, path: str | None = None, prefix: str | None = None) -> None:
        path = settings.QDRANT_PATH if path is None else path
        self.path = _ephemeral_root() if path in ("", ":memory:") else str(Path(path).absolute())
        self.prefix = _slug(settings.QDRANT_COLLECTION_PREFIX if prefix is None else prefix)

    # -- shards

    def collection_name(self, provider: str, model: str, dimension: int) -> str:
        return collection_name_for(self.prefix, provider, model, dimension)

    def _shard(self, name: str, dimension: int | None = None) -> Any | None:
        return _open(str(Path(self.path) / name), dimension)

    def _our_shards(self) -> list[Any]:
        """Every shard under our path with our prefix (other models' included), opened."""
        try:
            entries = sorted(Path(self.path).iterdir())
        except FileNotFoundError:
            return []
        names = [
            e.name for e in entries if e.name.startswith(f"{self.prefix}_") and (e / _CONFIG_FILE).exists()
        ]
        return [s for s in (self._shard(n) for n in names) if s is not None]

    def close(self) -> None:
        """Flush and close this store's shards (tests; a process closes them all at exit anyway)."""
        prefix = str(Path(self.path) / f"{self.prefix}_")
        close_shards([d for d in list(_shards) if d.startswith(prefix)])

    def optimize(self) -> float:
        """Build HNSW and merge segments in every shard of ours; returns the seconds it took. Blocks the
        process (the engine holds the GIL): call it only where nothing is being served."""
        started = time.perf_counter()
        for shard in self._our_shards():
            shard.optimize()
        return time.perf_counter() - started

    # -- writes

    def nodes_added(self, nodes: Sequence) -> None:
        import qdrant_edge as qe

        batches = {
            key: [
                qe.Point(point_id(node.node_id), {"": vector_from_bytes(node.vector)}, node_payload(node))
                for node in group
            ]
            for key, group in nodes_by_collection(nodes, self.collection_name).items()
        }
        for (name, dimension), points in batches.items():
            shard = self._shard(name, dimension)
            for start in range(0, len(points), UPSERT_BATCH):
                shard.update(qe.UpdateOperation.upsert_points(points[start : start + UPSERT_BATCH]))

    def nodes_removed(self, rowids: Sequence[int], *, node_ids: Sequence[str] = ()) -> None:
        import qdrant_edge as qe

        ids = [point_id(n) for n in node_ids if n]
        if not ids:
            return
        for shard in self._our_shards():
            for start in range(0, len(ids), DELETE_BATCH):
                shard.update(qe.UpdateOperation.delete_points(ids[start : start + DELETE_BATCH]))

    def dataset_removed(self, dataset_id: str) -> None:
        import qdrant_edge as qe

        operation = qe.UpdateOperation.delete_points_by_filter(self._filter(str(dataset_id), None))
        for shard in self._our_shards():
            shard.update(operation)

    # -- reads

    @staticmethod
    def _filter(dataset_id: str, document_ids: Sequence[str] | None) -> Any:
        import qdrant_edge as qe

        must: list[Any] = [qe.FieldCondition("dataset_id", match=qe.MatchValue(dataset_id))]
        if document_ids is not None:
            must.append(qe.FieldCondition("document_id", match=qe.MatchAny([str(d) for d in document_ids])))
        return qe.Filter(must=must)

    def count(self, *, dataset_id: str) -> int:
        """Points mirrored for a dataset, across shards (tests and `reindex_dataset` report it)."""
        import qdrant_edge as qe

        request = qe.CountRequest(filter=self._filter(str(dataset_id), None))
        return sum(shard.count(request) for shard in self._our_shards())

    def search(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        import qdrant_edge as qe

        if top_k <= 0 or (document_ids is not None and not document_ids):
            return []
        provider, model = dataset_models([dataset_id]).get(str(dataset_id), ("", ""))
        shard = self._shard(self.collection_name(provider, model, len(vector)))
        if shard is None:  # nothing written for this model yet: no shard to create on a read
            return []
        points = shard.query(
            qe.QueryRequest(
                limit=top_k,
                query=qe.Query.Nearest([float(v) for v in vector]),
                filter=self._filter(str(dataset_id), document_ids),
                with_payload=["node_id"],
            )
        )
        return confirmed_hits((p.payload["node_id"], p.score) for p in points)
