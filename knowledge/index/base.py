"""The store interface, vector encoding, and the choice of implementation (see the package docstring)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hit:
    node_id: str
    score: float


def vector_to_bytes(vector: Sequence[float]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def vector_from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.float32)


def normalise(vector: Sequence[float]) -> list[float]:
    """L2-normalised, as Dify stores embeddings (so a dot product is the cosine)."""
    array = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(array))
    if not np.isfinite(norm) or norm == 0.0:
        return [float(v) for v in array]
    return [float(v) for v in array / norm]


_WORDS = re.compile(r"\w+", re.UNICODE)


def query_terms(query: str, limit: int = 32) -> list[str]:
    """The words of a query, deduplicated, lower-cased: full-text search ORs them (a question rarely
    contains every word of the passage that answers it)."""
    seen: dict[str, None] = {}
    for word in _WORDS.findall(query.lower()):
        seen.setdefault(word, None)
    return list(seen)[:limit]


class SearchStore:
    """What the indexing and retrieval services need from a store.

    Rows are written by the indexing service (``IndexNode`` with its vector); ``nodes_added`` and
    ``nodes_removed`` let an accelerated store mirror them. Searches are scoped to one dataset and
    optionally to some of its documents; they return hits best first.
    """

    name = "base"

    def nodes_added(self, nodes: Sequence) -> None:  # pragma: no cover - interface
        """Mirror freshly inserted IndexNode rows (with their vectors) into the store's own structure."""

    def nodes_removed(self, rowids: Sequence[int]) -> None:  # pragma: no cover - interface
        """Forget mirrored rows (by ``search_rowid``)."""

    def search_vector(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        raise NotImplementedError

    def search_full_text(
        self, *, dataset_id: str, query: str, top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        raise NotImplementedError


_lock = threading.Lock()
_stores: dict[str, SearchStore] = {}


def search_store() -> SearchStore:
    """The process's store for the default database, chosen once (``settings.VECTOR_STORE``) and logged."""
    vendor = connection.vendor
    store = _stores.get(vendor)
    if store is not None:
        return store
    with _lock:
        store = _stores.get(vendor)
        if store is None:
            store = _choose(vendor)
            _stores[vendor] = store
            logger.info("Knowledge search store: %s (database %s)", store.name, vendor)
    return store


def reset_search_store() -> None:
    """Forget the choice (tests that switch stores)."""
    with _lock:
        _stores.clear()


def _choose(vendor: str) -> SearchStore:
    from knowledge.index import stores

    wanted = str(getattr(settings, "VECTOR_STORE", "auto") or "auto").lower()
    if vendor == "sqlite":
        if wanted in ("auto", "sqlite-vec", "sqlite_vec") and stores.sqlite_vec_available():
            return stores.SqliteStore(vectors=stores.SqliteVecVectors())
        if wanted in ("sqlite-vec", "sqlite_vec"):
            logger.warning(
                "VECTOR_STORE=sqlite-vec but this Python's sqlite3 cannot load extensions "
                "(or sqlite-vec is not installed): using exact cosine search"
            )
        return stores.SqliteStore(vectors=stores.ExactVectors())
    if vendor == "postgresql":
        if wanted in ("auto", "pgvector") and stores.pgvector_available():
            return stores.PostgresStore(vectors=stores.PgVectorVectors())
        if wanted == "pgvector":
            logger.warning("VECTOR_STORE=pgvector but the `vector` extension is not installed: exact cosine")
        return stores.PostgresStore(vectors=stores.ExactVectors())
    raise RuntimeError(f"No knowledge search store for the {vendor} database")
