"""The search store: vectors and full text behind one small interface.

Every searchable unit is an ``IndexNode`` row (text + float32 vector). What differs per database is how
it is searched:

============  ===================================================  ==========================================
mode          full text                                            vectors
============  ===================================================  ==========================================
embedded      SQLite FTS5 table ``knowledge_fts`` kept by          ``sqlite-vec`` (vec0 tables, one per
(SQLite)      triggers (migration 0002), bm25 ranking              dimension) when the sqlite3 module can load
                                                                   extensions; otherwise exact cosine
scaled        GIN index on the nodes' ``to_tsvector``,        ``pgvector`` when the ``vector`` extension
(PostgreSQL)  ``ts_rank_cd`` ranking                               is installed; otherwise exact cosine
scale-out     the database's, as above (FTS5 or PostgreSQL)        Qdrant (``VECTOR_STORE=qdrant``): a server
                                                                   (``knowledge.index.qdrant``), or Qdrant
                                                                   Edge in this process (``qdrant_edge``)
============  ===================================================  ==========================================

"Exact cosine" (``ExactVectors``) reads the dataset's vectors (optionally only some documents') and
scores them with numpy: correct results, cost linear in the dataset (about 1 ms per 10k vectors of 1536
dimensions plus the read). It suits datasets up to some 100k chunks; beyond that install pgvector (or use
sqlite-vec). The choice is made once per process from ``settings.VECTOR_STORE`` (``auto`` by default,
or ``exact``, ``sqlite-vec``, ``pgvector``, ``qdrant``) and logged; ``manage.py reindex_dataset --to``
copies datasets' vectors into another store before a switch.

Scores: vector search returns cosine similarity in [0, 1] (negatives clipped); full-text search maps
its rank r to r / (1 + r), so both can meet a score threshold.
"""

from __future__ import annotations

from knowledge.index.base import Hit, SearchStore, vector_from_bytes, vector_to_bytes
from knowledge.index.chooser import reset_search_store, search_store

__all__ = ["Hit", "SearchStore", "reset_search_store", "search_store", "vector_from_bytes", "vector_to_bytes"]
