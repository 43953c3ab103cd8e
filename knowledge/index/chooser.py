"""The choice of search store for a database: made once per process from ``settings.VECTOR_STORE``.

Apart from `base` (the interface the stores implement) so that the stores import the interface and this
module imports the stores, never both ways.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection

from dify_project.db import db_sync_to_async
from knowledge.index import qdrant, qdrant_edge, stores
from knowledge.index.base import SearchStore

logger = logging.getLogger(__name__)

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


async def asearch_store() -> SearchStore:
    """`search_store` from async code: the first choice per process reads the database (is sqlite-vec
    loadable, is pgvector installed?), which Django allows only off the event loop."""
    store = _stores.get(connection.vendor)
    if store is not None:
        return store
    return await db_sync_to_async(search_store)()


def reset_search_store() -> None:
    """Forget the choice (tests that switch stores)."""
    with _lock:
        _stores.clear()


def _choose(vendor: str) -> SearchStore:
    wanted = str(getattr(settings, "VECTOR_STORE", "auto") or "auto").lower()
    if wanted in ("qdrant", "qdrant-client", "qdrant-edge"):
        return build_store(wanted, vendor=vendor)
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


# `qdrant` is Qdrant as configured (a server at QDRANT_URL, else in process, see `qdrant_vectors`);
# `qdrant-client` and `qdrant-edge` force one in-process engine (tests, the benchmark).
STORE_NAMES = ("exact", "sqlite-vec", "pgvector", "qdrant", "qdrant-client", "qdrant-edge")


def qdrant_vectors(name: str = "qdrant") -> qdrant.QdrantVectors | qdrant_edge.QdrantEdgeVectors:
    """The vector half for Qdrant: a server when QDRANT_URL is set (``qdrant``), else in this process on
    QDRANT_PATH: Qdrant Edge by default (``QDRANT_LOCAL_ENGINE=edge``), the client's local mode with
    ``client`` or when qdrant-edge-py is not installed. Refuses what cannot run here (ValueError)."""
    engine = str(getattr(settings, "QDRANT_LOCAL_ENGINE", "edge") or "edge").lower()
    if name == "qdrant-edge" or (name == "qdrant" and not settings.QDRANT_URL and engine == "edge"):
        if qdrant_edge.edge_available():
            return qdrant_edge.QdrantEdgeVectors()
        if name == "qdrant-edge":
            raise ValueError("qdrant-edge needs qdrant-edge-py (pip install qdrant-edge-py)")
        logger.warning(
            "QDRANT_LOCAL_ENGINE=edge but qdrant-edge-py is not installed: the client's local mode"
        )
    if not qdrant.qdrant_available():
        raise ValueError("VECTOR_STORE=qdrant needs qdrant-client (pip install qdrant-client)")
    return qdrant.QdrantVectors()


def build_store(name: str, *, vendor: str | None = None) -> SearchStore:
    """A store by name on this database, whatever the process's choice (``reindex_dataset --to``, the
    benchmark, the store tests). Refuses one that cannot run here (ValueError, naming why)."""
    vendor = vendor or connection.vendor
    name = name.lower().replace("_", "-")
    full_text = {"sqlite": stores.SqliteStore, "postgresql": stores.PostgresStore}.get(vendor)
    if full_text is None:
        raise ValueError(f"No knowledge search store for the {vendor} database")
    if name == "exact":
        return full_text(vectors=stores.ExactVectors())
    if name == "sqlite-vec":
        if not stores.sqlite_vec_available():
            raise ValueError(
                "sqlite-vec is not loaded in this database connection (see knowledge.sqlite_vec)"
            )
        return full_text(vectors=stores.SqliteVecVectors())
    if name == "pgvector":
        if not stores.pgvector_available():
            raise ValueError("pgvector needs PostgreSQL with the `vector` extension installed")
        return full_text(vectors=stores.PgVectorVectors())
    if name in ("qdrant", "qdrant-client", "qdrant-edge"):
        # Full text stays in the database (FTS5 or PostgreSQL), so hybrid search works unchanged.
        return full_text(vectors=qdrant_vectors(name))
    raise ValueError(f"Unknown vector store {name!r}: one of {', '.join(STORE_NAMES)}")
