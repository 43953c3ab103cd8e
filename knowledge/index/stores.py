# ruff: noqa: S608 - table names are built from integer dimensions only; every value is a query parameter
"""The store implementations (see the package docstring for which runs where)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection

from knowledge.index.base import (
    Hit,
    SearchStore,
    best_by_cosine,
    query_terms,
    vector_from_bytes,
    vector_to_bytes,
)
from knowledge.index.vec0_mirror import Vec0Mirror, vec0_table

logger = logging.getLogger(__name__)


def _hex(value: Any) -> str:
    """How Django stores a UUID in SQLite (32 hex characters)."""
    return uuid.UUID(str(value)).hex


def _rank_score(rank: float) -> float:
    rank = abs(float(rank))
    return rank / (1.0 + rank)


# --- vectors -------------------------------------------------------------------------------------------


class ExactVectors:
    """Exact cosine over the dataset's stored vectors, with numpy. Nothing to mirror."""

    name = "exact"

    def nodes_added(self, nodes: Sequence) -> None:
        return None

    def nodes_removed(self, rowids: Sequence[int], *, node_ids: Sequence[str] = ()) -> None:
        return None

    def search(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        from knowledge.models import IndexNode

        rows = IndexNode.objects.filter(dataset_id=dataset_id, dimension=len(vector)).exclude(vector=None)
        if document_ids is not None:
            rows = rows.filter(document_id__in=list(document_ids))
        pairs = list(rows.values_list("node_id", "vector"))
        best = best_by_cosine([blob for _, blob in pairs], vector, top_k)
        return [Hit(pairs[i][0], max(0.0, min(1.0, score))) for i, score in best]


def sqlite_vec_available() -> bool:
    """Whether Django's SQLite connection has sqlite-vec loaded (see ``knowledge.apps``)."""
    if connection.vendor != "sqlite":
        return False
    connection.ensure_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT vec_version()")
        return True
    except Exception:  # OperationalError: no such function
        return False


def load_sqlite_vec(raw_connection: Any) -> bool:
    """Load sqlite-vec into a DB-API SQLite connection, if the module and the driver allow it."""
    if not hasattr(raw_connection, "enable_load_extension"):
        return False
    try:
        import sqlite_vec
    except ImportError:
        return False
    try:
        raw_connection.enable_load_extension(True)
        sqlite_vec.load(raw_connection)
        raw_connection.enable_load_extension(False)
    except Exception:  # the driver refused (built without extension support)
        logger.warning("sqlite-vec could not be loaded into the SQLite connection", exc_info=True)
        return False
    return True


class SqliteVecVectors:
    """sqlite-vec: one vec0 table per dimension, partitioned by dataset, keyed by IndexNode.search_rowid,
    searched through an in-memory matrix per dataset (``knowledge.index.matrix``: exact, about ten times
    faster than vec0's scan) while the dataset fits the process's budget; by vec0 beyond it. Only datasets
    on their way to that size are written into vec0 (``knowledge.index.vec0_mirror``).

    Without the matrix, a search restricted to some documents (metadata filters) goes to the exact path:
    vec0's KNN cannot take an arbitrary id list. Rows of nodes deleted by a cascade linger until the next
    explicit removal; searches join back to IndexNode, so they are never returned.
    """

    name = "sqlite-vec"

    def __init__(self, *, matrices: bool = True) -> None:
        from knowledge.index.matrix import MatrixCache

        self.exact = ExactVectors()
        self.dimensions: set[int] = set()
        self.matrices = MatrixCache() if matrices else None
        self.mirror = Vec0Mirror(self._mirror_from)

    def dataset_removed(self, dataset_id: str) -> None:
        if self.matrices is not None:
            self.matrices.forget(dataset_id)
        with connection.cursor() as cursor:
            self.mirror.forget(cursor, _hex(dataset_id))

    @staticmethod
    def _table(dimension: int) -> str:
        return vec0_table(dimension)

    def _ensure(self, cursor: Any, dimension: int) -> None:
        if dimension in self.dimensions:
            # Remembered, but a rolled-back transaction may have taken the table with it: check (cheap).
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [self._table(dimension)])
            if cursor.fetchone() is not None:
                return
            self.dimensions.discard(dimension)
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self._table(dimension)} USING vec0("
            f"dataset_id text partition key, embedding float[{int(dimension)}] distance_metric=cosine)"
        )
        self.dimensions.add(dimension)

    def nodes_added(self, nodes: Sequence) -> None:
        from knowledge.models import IndexNode

        with_vectors = [n for n in nodes if n.vector is not None]
        if not with_vectors:
            return
        groups: dict[tuple[str, int], list[Any]] = {}
        for node in with_vectors:
            groups.setdefault((_hex(node.dataset_id), node.dimension), []).append(node)

        def rows(dataset_hex: str, group: list[Any]) -> list[tuple[Any, str, bytes]]:
            # The rowid comes from the insert trigger, so it is read back; the vectors are in hand already.
            rowids = dict(
                IndexNode.objects.filter(node_id__in=[n.node_id for n in group]).values_list(
                    "node_id", "search_rowid"
                )
            )
            return [(rowids[n.node_id], dataset_hex, bytes(n.vector)) for n in group if n.node_id in rowids]

        with connection.cursor() as cursor:
            for (dataset_hex, dimension), group in groups.items():
                self._ensure(cursor, dimension)
                self.mirror.added(
                    cursor, dataset_hex, dimension, len(group), lambda h=dataset_hex, g=group: rows(h, g)
                )

    def _mirror_from(self, dimension: int) -> int:
        """Half of the nodes a dataset's matrix may hold: vec0 is ready long before it is needed. Every
        node without matrices."""
        if self.matrices is None:
            return 0
        return int(self.matrices.budget / (int(dimension) * 4 * 1.5) / 2)

    def catch_up(self, dataset_id: str, dimension: int) -> None:
        """Mirror a dataset into vec0 now, whatever its size (see ``knowledge.index.vec0_mirror``)."""
        with connection.cursor() as cursor:
            self._ensure(cursor, dimension)
        self.mirror.catch_up(_hex(dataset_id), dimension)

    def nodes_removed(self, rowids: Sequence[int], *, node_ids: Sequence[str] = ()) -> None:
        rowids = [r for r in rowids if r is not None]
        if not rowids:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'knowledge_vec_%'"
            )
            # vec0's shadow tables (knowledge_vec_8_chunks...) share the prefix; only the main ones.
            tables = [name for (name,) in cursor.fetchall() if re.fullmatch(r"knowledge_vec_\d+", name)]
            for table in tables:
                for start in range(0, len(rowids), 500):
                    part = rowids[start : start + 500]
                    cursor.execute(
                        f"DELETE FROM {table} WHERE rowid IN ({', '.join(['%s'] * len(part))})", part
                    )

    def search(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        if self.matrices is not None:
            hits = self.matrices.search(
                dataset_id=dataset_id, vector=vector, top_k=top_k, document_ids=document_ids
            )
            if hits is not None:
                return hits
        if top_k <= 0:
            return []
        dimension = len(vector)
        with connection.cursor() as cursor:
            mirrored = self.mirror.complete(cursor, _hex(dataset_id), dimension)
        if document_ids is not None or not mirrored:
            return self.exact.search(
                dataset_id=dataset_id, vector=vector, top_k=top_k, document_ids=document_ids
            )
        query = vector_to_bytes(vector)
        with connection.cursor() as cursor:
            self._ensure(cursor, dimension)
            # Over-fetch a little: stale rows of cascaded deletes are filtered by the join.
            cursor.execute(
                f"SELECT n.node_id, v.distance FROM (SELECT rowid, distance FROM {self._table(dimension)} "
                "WHERE embedding MATCH %s AND k = %s AND dataset_id = %s) v "
                "JOIN knowledge_indexnode n ON n.search_rowid = v.rowid ORDER BY v.distance",
                [query, top_k + 16, _hex(dataset_id)],
            )
            rows = cursor.fetchall()
        return [Hit(node_id, max(0.0, min(1.0, 1.0 - float(distance)))) for node_id, distance in rows][:top_k]


def pgvector_available() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        return cursor.fetchone() is not None


class PgVectorVectors:
    """pgvector: a side table of ``vector`` values (any dimension; cascade-deleted with their node).

    Vectors of mixed dimensions share the table, so there is no ANN index: PostgreSQL scans the dataset's
    rows exactly, in C. A deployment with one embedding model can add an HNSW index on
    ``(embedding::vector(N))`` for approximate search.
    """

    name = "pgvector"
    _ready = False

    def _ensure(self, cursor: Any) -> None:
        if self._ready:
            return
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS knowledge_pgvector ("
            " node_id varchar(64) PRIMARY KEY REFERENCES knowledge_indexnode (node_id) ON DELETE CASCADE,"
            " dataset_id uuid NOT NULL, document_id uuid NOT NULL, dimension integer NOT NULL,"
            " embedding vector NOT NULL)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS knowledge_pgvector_dataset ON knowledge_pgvector (dataset_id, dimension)"
        )
        type(self)._ready = True

    def nodes_added(self, nodes: Sequence) -> None:
        rows = [n for n in nodes if n.vector is not None]
        if not rows:
            return
        with connection.cursor() as cursor:
            self._ensure(cursor)
            for node in rows:
                text = "[" + ",".join(repr(float(v)) for v in vector_from_bytes(node.vector)) + "]"
                cursor.execute(
                    "INSERT INTO knowledge_pgvector (node_id, dataset_id, document_id, dimension, embedding)"
                    " VALUES (%s, %s, %s, %s, %s::vector) ON CONFLICT (node_id) DO UPDATE"
                    " SET embedding = EXCLUDED.embedding, dimension = EXCLUDED.dimension",
                    [node.node_id, str(node.dataset_id), str(node.document_id), node.dimension, text],
                )

    def nodes_removed(self, rowids: Sequence[int], *, node_ids: Sequence[str] = ()) -> None:
        return None  # ON DELETE CASCADE follows the IndexNode rows

    def search(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        if top_k <= 0:
            return []
        text = "[" + ",".join(repr(float(v)) for v in vector) + "]"
        sql = (
            "SELECT node_id, 1 - (embedding <=> %s::vector) FROM knowledge_pgvector"
            " WHERE dataset_id = %s AND dimension = %s"
        )
        params: list[Any] = [text, str(dataset_id), len(vector)]
        if document_ids is not None:
            sql += " AND document_id = ANY(%s::uuid[])"
            params.append([str(d) for d in document_ids])
        sql += " ORDER BY embedding <=> %s::vector LIMIT %s"
        params += [text, top_k]
        with connection.cursor() as cursor:
            self._ensure(cursor)
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [Hit(node_id, max(0.0, min(1.0, float(score)))) for node_id, score in rows]


# --- stores --------------------------------------------------------------------------------------------


class _Store(SearchStore):
    def __init__(self, *, vectors: Any) -> None:
        self.vectors = vectors
        self.name = f"{self.kind}+{vectors.name}"

    kind = "base"

    def nodes_added(self, nodes: Sequence) -> None:
        self.vectors.nodes_added(nodes)

    def nodes_removed(self, rowids: Sequence[int], *, node_ids: Sequence[str] = ()) -> None:
        self.vectors.nodes_removed(rowids, node_ids=node_ids)

    def dataset_removed(self, dataset_id: str) -> None:
        removed = getattr(self.vectors, "dataset_removed", None)
        if removed is not None:
            removed(dataset_id)

    def search_vector(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        return self.vectors.search(
            dataset_id=dataset_id, vector=vector, top_k=top_k, document_ids=document_ids
        )


class SqliteStore(_Store):
    """SQLite FTS5 (bm25) for full text."""

    kind = "sqlite-fts5"

    def search_full_text(
        self, *, dataset_id: str, query: str, top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        terms = query_terms(query)
        if not terms or top_k <= 0:
            return []
        match = " OR ".join(f'"{term}"' for term in terms)
        sql = (
            "SELECT node_id, bm25(knowledge_fts) AS rank FROM knowledge_fts"
            " WHERE knowledge_fts MATCH %s AND dataset_id = %s"
        )
        params: list[Any] = [match, _hex(dataset_id)]
        if document_ids is not None:
            ids = [_hex(d) for d in document_ids]
            if not ids:
                return []
            sql += f" AND document_id IN ({', '.join(['%s'] * len(ids))})"
            params += ids
        sql += " ORDER BY rank LIMIT %s"
        params.append(top_k)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [Hit(node_id, _rank_score(rank)) for node_id, rank in rows]


# The indexed expression (migration 0005): a query must use it exactly for the GIN index to serve it.
TSVECTOR = "to_tsvector('simple', coalesce(search_text, content))"


class PostgresStore(_Store):
    """PostgreSQL full text (GIN index on to_tsvector('simple', coalesce(search_text, content)),
    ts_rank_cd); `search_text` is set where the content is Chinese (split into words)."""

    kind = "postgres-fts"

    def search_full_text(
        self, *, dataset_id: str, query: str, top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        terms = query_terms(query)
        if not terms or top_k <= 0:
            return []
        sql = (
            f"SELECT node_id, ts_rank_cd({TSVECTOR}, q) AS rank"
            " FROM knowledge_indexnode, to_tsquery('simple', %s) q"
            f" WHERE dataset_id = %s AND {TSVECTOR} @@ q"
        )
        params: list[Any] = [" | ".join(terms), str(dataset_id)]
        if document_ids is not None:
            sql += " AND document_id = ANY(%s::uuid[])"
            params.append([str(d) for d in document_ids])
        sql += " ORDER BY rank DESC LIMIT %s"
        params.append(top_k)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [Hit(node_id, _rank_score(rank)) for node_id, rank in rows]
