"""Moving a dataset's vectors into another search store (``manage.py reindex_dataset --to``).

The node table holds every vector (it is the source of truth in every mode), so a move calls no model:
the dataset's ``IndexNode`` rows are read in batches and written into the target store's own structure
(sqlite-vec tables, the pgvector table, Qdrant collections). Idempotent: a node already there is
overwritten with the same vector, so an interrupted move can simply be run again. Full text needs no
move: it is kept by the database in every mode.
"""

from __future__ import annotations

from collections.abc import Callable

from knowledge.index.base import SearchStore
from knowledge.models import Dataset, IndexNode

BATCH = 500


def dataset_reindex_to(
    *,
    dataset: Dataset,
    store: SearchStore,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Mirror `dataset`'s vectors into `store`, `batch` nodes at a time; `progress(done, total)` after each
    batch. Returns how many nodes were written. Economy datasets have no vectors: nothing to move."""
    rows = IndexNode.objects.filter(dataset=dataset).exclude(vector=None).order_by("node_id")
    total = rows.count()
    done = 0
    last = ""
    while done < total:
        page = list(rows.filter(node_id__gt=last)[:batch])
        if not page:
            break
        store.nodes_added(page)
        done += len(page)
        last = page[-1].node_id
        if progress is not None:
            progress(done, total)
    return done
