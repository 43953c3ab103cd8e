# ruff: noqa: S608 - table names are built from integer dimensions only; every value is a query parameter
"""Which datasets the sqlite-vec store mirrors into its ``vec0`` tables, and catching a dataset up.

Why: a dataset's vectors are searched from an in-memory matrix (``knowledge.index.matrix``) while they
fit the process's budget; ``vec0`` is only searched beyond it. Writing every vector into ``vec0`` too
was over a third of indexing's own time (bench/knowledge.py), for a table most datasets never read. So a
dataset (per dimension) is mirrored once it holds half of what the budget fits (``mirror_from``), long
before it outgrows the matrix:

* ``knowledge_vec_mirror`` holds one row per mirrored (dataset, dimension): ``start``, the highest search
  rowid when mirroring began, and ``done``, how far the rows up to ``start`` have been copied. Nodes
  with a rowid above ``start`` are written by whoever inserts them (``nodes_added``); those up to it are
  copied ``BACKFILL_ROWS`` at a time, by each later write to the dataset, in the writer's transaction.
* Search rowids only grow (migration 0003) and SQLite has one writer (indexing writes in IMMEDIATE
  transactions), so a node inserted before the row above is covered by ``start`` and one inserted after
  sees the row: none is missed or written twice.
* ``vec0`` is searched only once a dataset's copy is complete (``done >= start``); until then a dataset
  beyond the matrix budget is searched exactly.

Datasets indexed before this table existed were mirrored whole: migration 0007 records them complete.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, transaction

TABLE = "knowledge_vec_mirror"
BACKFILL_ROWS = 2048  # copied per write: about 0.3 s, in a transaction other writers wait on
COUNT_SECONDS = 60.0  # a dataset's node count is read again after this long (added batches are counted)


def vec0_table(dimension: int) -> str:
    return f"knowledge_vec_{int(dimension)}"


def write_rows(cursor: Any, dimension: int, rows: Sequence[tuple[int, str, bytes]]) -> None:
    """(rowid, dataset hex, float32 vector) rows into the dimension's vec0 table. vec0 has no upsert: a
    row written again (a reindex) is deleted first. One statement per batch, not per row."""
    if not rows:
        return
    table = vec0_table(dimension)
    cursor.executemany(f"DELETE FROM {table} WHERE rowid = %s", [[row[0]] for row in rows])
    cursor.executemany(
        f"INSERT INTO {table} (rowid, dataset_id, embedding) VALUES (%s, %s, %s)", [list(r) for r in rows]
    )


class Vec0Mirror:
    """The mirror's bookkeeping for one store (see the module docstring). `mirror_from(dimension)`: the
    node count from which a dataset is mirrored (0: every dataset, as when there are no matrices)."""

    def __init__(self, mirror_from: Any) -> None:
        self.mirror_from = mirror_from
        self._complete: set[tuple[str, str, int]] = set()
        self._counts: dict[tuple[str, str, int], tuple[int, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(dataset_hex: str, dimension: int) -> tuple[str, str, int]:
        return (str(connection.settings_dict.get("NAME")), dataset_hex, int(dimension))

    def _state(self, cursor: Any, dataset_hex: str, dimension: int) -> tuple[int, int] | None:
        cursor.execute(
            f"SELECT start, done FROM {TABLE} WHERE dataset_id = %s AND dimension = %s",
            [dataset_hex, dimension],
        )
        row = cursor.fetchone()
        return (int(row[0]), int(row[1])) if row is not None else None

    def _count(self, cursor: Any, key: tuple[str, str, int], added: int) -> int:
        with self._lock:
            known = self._counts.get(key)
        if known is not None and time.monotonic() - known[1] < COUNT_SECONDS:
            count = known[0] + added
            checked = known[1]
        else:
            cursor.execute(
                "SELECT count(*) FROM knowledge_indexnode WHERE dataset_id = %s AND dimension = %s",
                [key[1], key[2]],
            )
            count, checked = int(cursor.fetchone()[0]), time.monotonic()
        with self._lock:
            self._counts[key] = (count, checked)
        return count

    def added(
        self,
        cursor: Any,
        dataset_hex: str,
        dimension: int,
        count: int,
        rows: Callable[[], Sequence[tuple[int, str, bytes]]],
    ) -> None:
        """`count` nodes of one dataset and dimension were inserted (`rows()` reads them back as
        ``write_rows`` takes them, only when the mirror wants them): write what this writer owes the
        mirror, starting it when the dataset has grown enough, and copy the next part it lacks."""
        key = self._key(dataset_hex, dimension)
        if key in self._complete:
            write_rows(cursor, dimension, rows())
            return
        state = self._state(cursor, dataset_hex, dimension)
        if state is None:
            if self._count(cursor, key, count) < self.mirror_from(dimension):
                return
            state = self._begin(cursor, dataset_hex, dimension)  # these rows included: the copy takes them
        start, done = state
        # Above `start`: this writer's to write. Up to `done`: copied already, so written again (a reindex).
        write_rows(cursor, dimension, [r for r in rows() if r[0] > start or r[0] <= done])
        self._catch_up(cursor, dataset_hex, dimension, start, done)

    def _begin(self, cursor: Any, dataset_hex: str, dimension: int) -> tuple[int, int]:
        cursor.execute("SELECT coalesce(max(search_rowid), 0) FROM knowledge_indexnode")
        (start,) = cursor.fetchone()
        cursor.execute(  # OR IGNORE: another writer began it first (then its row is the one read back)
            f"INSERT OR IGNORE INTO {TABLE} (dataset_id, dimension, start, done) VALUES (%s, %s, %s, 0)",
            [dataset_hex, dimension, int(start)],
        )
        state = self._state(cursor, dataset_hex, dimension)
        assert state is not None
        return state

    def _catch_up(self, cursor: Any, dataset_hex: str, dimension: int, start: int, done: int) -> int:
        """Copy the next ``BACKFILL_ROWS`` rows up to `start`; returns how far the copy has come."""
        if done < start:
            # `+` keeps SQLite on the rowid index: the next rows after `done`, not a sort of the dataset.
            cursor.execute(
                "SELECT search_rowid, vector FROM knowledge_indexnode WHERE search_rowid > %s"
                " AND search_rowid <= %s AND +dataset_id = %s AND +dimension = %s AND vector IS NOT NULL"
                " ORDER BY search_rowid LIMIT %s",
                [done, start, dataset_hex, dimension, BACKFILL_ROWS],
            )
            found = cursor.fetchall()
            write_rows(cursor, dimension, [(rowid, dataset_hex, bytes(blob)) for rowid, blob in found])
            done = int(found[-1][0]) if len(found) == BACKFILL_ROWS else start
            cursor.execute(
                f"UPDATE {TABLE} SET done = %s WHERE dataset_id = %s AND dimension = %s",
                [done, dataset_hex, dimension],
            )
        return done

    def complete(self, cursor: Any, dataset_hex: str, dimension: int) -> bool:
        """Whether vec0 holds all of the dataset's vectors of this dimension (it may be searched)."""
        key = self._key(dataset_hex, dimension)
        if key in self._complete:
            return True
        state = self._state(cursor, dataset_hex, dimension)
        if state is None or state[1] < state[0]:
            return False
        if not connection.in_atomic_block:  # committed, so remembered (a rolled-back one could undo it)
            self._complete.add(key)
        return True

    def catch_up(self, dataset_hex: str, dimension: int) -> None:
        """Start (whatever the dataset's size) and finish one dataset's mirror now: ``reindex_dataset``
        and the benchmark's vec0 store, which search vec0 at any size."""
        with connection.cursor() as cursor:
            start, done = self._state(cursor, dataset_hex, dimension) or self._begin(
                cursor, dataset_hex, dimension
            )
            while done < start:
                with transaction.atomic():  # a part at a time: other writers wait on one part only
                    done = self._catch_up(cursor, dataset_hex, dimension, start, done)

    def forget(self, cursor: Any, dataset_hex: str) -> None:
        """The dataset is being deleted."""
        cursor.execute(f"DELETE FROM {TABLE} WHERE dataset_id = %s", [dataset_hex])
        with self._lock:
            self._counts = {k: v for k, v in self._counts.items() if k[1] != dataset_hex}
        self._complete = {k for k in self._complete if k[1] != dataset_hex}
