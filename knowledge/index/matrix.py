# ruff: noqa: S608 - the SQL below is built from constant fragments and placeholder lists only
"""Exact vector search from memory: each searched dataset's vectors as one float32 matrix per process.

Why: a sqlite-vec ``vec0`` KNN query is a brute-force scan in C without SIMD (this build has none):
about 50 ms for 100k vectors of 384 dimensions on an idle core, several times that on a loaded machine.
The same scan as one numpy matrix product over vectors already in memory takes about 5 ms, and it is
exact (recall 1.0), where a binary-quantised pre-filter keeps only about 0.9 of the true top 10 even
after re-ranking 2,000 candidates (measured on the benchmark's vectors).

Kept correct without a cache-invalidation protocol, by three properties of the SQLite tables:

* ``IndexNode.search_rowid`` only grows (migration 0003 takes it from a sequence, never reusing a value)
  and SQLite has one writer, so rows committed since the matrix was read are exactly those with a rowid
  above the highest one it has seen: each search reads those first (one indexed ``max()`` when none);
* a node's vector never changes in place (a re-written node is deleted and inserted, with a new rowid);
* every search confirms its candidates against the table by (rowid, node id) and re-scores them with
  the stored vectors, so a row deleted by anyone (another process, a cascade) is never returned; it is
  marked dead in the matrix, which is rebuilt when a fifth of it is dead.

Memory is bounded (``KNOWLEDGE_VECTOR_MEMORY_MB`` per process, least recently searched datasets go
first); a dataset larger than the budget is searched by the store's own structure instead.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection

from knowledge.index.base import Hit

DEAD_SHARE_REBUILD = 0.2  # rebuild a matrix once this share of its rows is known to be deleted
MIN_SLACK = 16  # candidates beyond top_k, so that a few deleted rows do not shorten the answer


def _hex(value: Any) -> str:
    return uuid.UUID(str(value)).hex


@dataclass
class _Matrix:
    """One dataset's vectors of one dimension, appended in place (capacity grows by half)."""

    dimension: int
    max_rowid: int = 0
    size: int = 0
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    rowids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    documents: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    node_ids: list[str] = field(default_factory=list)
    document_codes: dict[str, int] = field(default_factory=dict)
    dead: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes + self.rowids.nbytes + self.documents.nbytes) + 80 * len(self.node_ids)

    def append(self, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
        """Add (rowid, node id, document id hex, float32 blob) rows; the caller holds the lock."""
        if not rows:
            return
        count = len(rows)
        needed = self.size + count
        if needed > len(self.rowids):
            capacity = max(needed, int(len(self.rowids) * 1.5), 1024)
            self.vectors = _grow(self.vectors, (capacity, self.dimension), self.size)
            self.rowids = _grow(self.rowids, (capacity,), self.size)
            self.documents = _grow(self.documents, (capacity,), self.size)
            self.alive = _grow(self.alive, (capacity,), self.size)
        start = self.size
        block = np.frombuffer(b"".join(bytes(r[3]) for r in rows), dtype=np.float32)
        self.vectors[start:needed] = block.reshape(count, self.dimension)
        self.rowids[start:needed] = [r[0] for r in rows]
        codes = self.document_codes
        self.documents[start:needed] = [codes.setdefault(r[2], len(codes)) for r in rows]
        self.alive[start:needed] = True
        self.node_ids.extend(r[1] for r in rows)
        # Publish the new size last: a concurrent reader sees either the old rows or all of the new ones.
        self.size = needed
        self.max_rowid = max(self.max_rowid, max(r[0] for r in rows))


def _grow(array: np.ndarray, shape: tuple[int, ...], keep: int) -> np.ndarray:
    grown = np.zeros(shape, dtype=array.dtype)
    if keep:
        grown[:keep] = array[:keep]
    return grown


class MatrixCache:
    """The per-process matrices (see the module docstring). Thread-safe; one instance per store."""

    def __init__(self, *, budget_bytes: int | None = None) -> None:
        if budget_bytes is None:
            budget_bytes = int(getattr(settings, "KNOWLEDGE_VECTOR_MEMORY_MB", 1024)) * 1024 * 1024
        self.budget = budget_bytes
        self._matrices: OrderedDict[tuple[str, str, int], _Matrix] = OrderedDict()
        self._too_big: dict[tuple[str, str, int], float] = {}
        self._lock = threading.Lock()

    # -- keeping the matrices

    @staticmethod
    def _key(dataset_id: str, dimension: int) -> tuple[str, str, int]:
        return (str(connection.settings_dict.get("NAME")), _hex(dataset_id), int(dimension))

    def forget(self, dataset_id: str) -> None:
        """Drop a dataset's matrices (it is being deleted)."""
        wanted = _hex(dataset_id)
        with self._lock:
            for key in [k for k in self._matrices if k[1] == wanted]:
                del self._matrices[key]

    def _fits(self, cursor: Any, dataset_hex: str, dimension: int) -> bool:
        cursor.execute(
            "SELECT count(*) FROM knowledge_indexnode WHERE dataset_id = %s AND dimension = %s",
            [dataset_hex, dimension],
        )
        (count,) = cursor.fetchone()
        return count * dimension * 4 * 1.5 <= self.budget

    def _matrix(self, cursor: Any, dataset_id: str, dimension: int) -> _Matrix | None:
        key = self._key(dataset_id, dimension)
        with self._lock:
            matrix = self._matrices.get(key)
            if matrix is not None:
                self._matrices.move_to_end(key)
        if matrix is None:
            if time.monotonic() < self._too_big.get(key, 0.0):
                return None
            if not self._fits(cursor, key[1], dimension):
                self._too_big[key] = time.monotonic() + 60.0  # counted again in a minute
                return None
            matrix = _Matrix(dimension=dimension)
            with self._lock:
                matrix = self._matrices.setdefault(key, matrix)
        self._refresh(cursor, matrix, key[1])
        self._evict()
        return matrix

    def _refresh(self, cursor: Any, matrix: _Matrix, dataset_hex: str) -> None:
        cursor.execute("SELECT max(search_rowid) FROM knowledge_indexnode")
        (newest,) = cursor.fetchone()
        if newest is None or newest <= matrix.max_rowid:
            return
        with matrix.lock:
            if newest <= matrix.max_rowid:
                return
            if matrix.size == 0:  # the first read: the dataset's index, not the rowid range
                where = "dataset_id = %s AND dimension = %s AND search_rowid <= %s"
                params = [dataset_hex, matrix.dimension, newest]
            else:  # `+` keeps SQLite on the rowid index: only the few rows written since the last read
                where = "search_rowid > %s AND search_rowid <= %s AND +dataset_id = %s AND +dimension = %s"
                params = [matrix.max_rowid, newest, dataset_hex, matrix.dimension]
            cursor.execute(
                "SELECT search_rowid, node_id, document_id, vector FROM knowledge_indexnode"
                f" WHERE {where} AND vector IS NOT NULL ORDER BY search_rowid",
                params,
            )
            matrix.append(cursor.fetchall())
            matrix.max_rowid = max(matrix.max_rowid, int(newest))

    def _evict(self) -> None:
        with self._lock:
            total = sum(m.nbytes for m in self._matrices.values())
            while total > self.budget and len(self._matrices) > 1:
                _, oldest = self._matrices.popitem(last=False)
                total -= oldest.nbytes

    def _rebuild(self, dataset_id: str, dimension: int) -> None:
        with self._lock:
            self._matrices.pop(self._key(dataset_id, dimension), None)

    # -- searching

    def search(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit] | None:
        """Exact top `top_k` by cosine, best first; None when the dataset does not fit the budget (the
        caller searches another way). One matrix product, one indexed read of the candidates."""
        if top_k <= 0:
            return []
        dimension = len(vector)
        with connection.cursor() as cursor:
            matrix = self._matrix(cursor, dataset_id, dimension)
            if matrix is None:
                return None
            hits = self._search(cursor, matrix, vector, top_k, document_ids)
        if matrix.dead > DEAD_SHARE_REBUILD * max(1, matrix.size):
            self._rebuild(dataset_id, dimension)
        return hits

    def _search(
        self,
        cursor: Any,
        matrix: _Matrix,
        vector: Sequence[float],
        top_k: int,
        document_ids: Sequence[str] | None,
    ) -> list[Hit]:
        size = matrix.size
        query = np.asarray(vector, dtype=np.float32)
        query = query / (float(np.linalg.norm(query)) or 1.0)
        mask = matrix.alive[:size]
        if document_ids is not None:
            codes = [matrix.document_codes[c] for c in map(_hex, document_ids) if c in matrix.document_codes]
            if not codes:
                return []
            mask = mask & np.isin(matrix.documents[:size], np.asarray(codes, dtype=np.int32))
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return []
        # Rows are L2-normalised when written, so the dot product is the cosine.
        if positions.size == size:
            scores = matrix.vectors[:size] @ query
        else:
            scores = matrix.vectors[positions] @ query
        # Take the best candidates, confirm them; when deleted rows leave fewer than top_k, the next
        # best (all scoring lower than those already kept), and so on.
        kept: list[Hit] = []
        wanted, left = top_k + max(MIN_SLACK, top_k), int(scores.size)
        while left and len(kept) < top_k:
            count = min(wanted, left)
            best = np.argpartition(-scores, count - 1)[:count]
            kept += self._confirm(cursor, matrix, positions[best], query)
            scores[best] = -np.inf
            left -= count
            wanted *= 4
        kept.sort(key=lambda h: h.score, reverse=True)
        return kept[:top_k]

    @staticmethod
    def _confirm(cursor: Any, matrix: _Matrix, candidates: np.ndarray, query: np.ndarray) -> list[Hit]:
        """The candidates that still exist, scored with their stored vectors, best first; the others
        are marked dead in the matrix."""
        rowids = [int(matrix.rowids[p]) for p in candidates]
        cursor.execute(
            "SELECT search_rowid, node_id, vector FROM knowledge_indexnode"
            f" WHERE search_rowid IN ({', '.join(['%s'] * len(rowids))})",
            rowids,
        )
        live = {int(rowid): (node_id, blob) for rowid, node_id, blob in cursor.fetchall()}
        hits: list[Hit] = []
        for position, rowid in zip(candidates, rowids, strict=True):
            row = live.get(rowid)
            if row is None or row[0] != matrix.node_ids[position] or row[1] is None:
                if matrix.alive[position]:
                    matrix.alive[position] = False
                    matrix.dead += 1
                continue
            score = float(np.frombuffer(bytes(row[1]), dtype=np.float32) @ query)
            hits.append(Hit(row[0], max(0.0, min(1.0, score))))
        return hits
