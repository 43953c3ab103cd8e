"""The choice of search store for a database: made once per process from ``settings.VECTOR_STORE``.

Apart from `base` (the interface the stores implement) so that the stores import the interface and this
module imports the stores, never both ways.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection

from knowledge.index import stores
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


def reset_search_store() -> None:
    """Forget the choice (tests that switch stores)."""
    with _lock:
        _stores.clear()


def _choose(vendor: str) -> SearchStore:
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
