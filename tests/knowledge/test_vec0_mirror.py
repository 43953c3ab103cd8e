"""sqlite-vec's vec0 mirror: only datasets on their way past the matrix budget are written into vec0,
a dataset crossing the line is caught up part by part, and vec0 is searched only once it holds the
whole dataset (``knowledge.index.vec0_mirror``). Runs under ``--ds=tests.knowledge.settings_sqlite_vec``
(sqlite-vec loaded); skipped elsewhere.

The loopback model's vectors have 8 dimensions: a matrix budget of 48 bytes per node fits that many
nodes, and mirroring starts at half of them.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.db import connection

from knowledge.index import chooser, vec0_mirror
from knowledge.index.base import normalise
from knowledge.index.matrix import MatrixCache
from knowledge.index.stores import SqliteStore, SqliteVecVectors, sqlite_vec_available
from knowledge.models import IndexNode
from knowledge.services.datasets import dataset_delete
from tests.support.fake_llm import fake_vector

pytestmark = pytest.mark.django_db

RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 100}},
}
PER_NODE = 8 * 4 * 1.5  # what the matrix budget counts per 8-dimension node


def paragraphs(name: str, count: int) -> list[str]:
    return [f"{name} paragraph {i} about {name.lower()}s." for i in range(count)]


def store_fitting(nodes: int) -> SqliteStore:
    """The sqlite-vec store with a matrix budget of `nodes` nodes (mirroring from half of them),
    installed as the process's store."""
    if not sqlite_vec_available():
        pytest.skip("sqlite-vec is not loaded (run with --ds=tests.knowledge.settings_sqlite_vec)")
    vectors = SqliteVecVectors()
    vectors.matrices = MatrixCache(budget_bytes=int(nodes * PER_NODE))
    store = SqliteStore(vectors=vectors)
    chooser.reset_search_store()
    chooser._stores[connection.vendor] = store
    return store


@pytest.fixture(autouse=True)
def _restore_store() -> Iterator[None]:
    yield
    chooser.reset_search_store()


def mirrored_rowids(dataset) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'knowledge_vec_8'")
        if cursor.fetchone() is None:
            return set()
        cursor.execute("SELECT rowid FROM knowledge_vec_8")
        mirrored = {int(r) for (r,) in cursor.fetchall()}
    return mirrored & node_rowids(dataset)


def node_rowids(dataset) -> set[int]:
    return set(IndexNode.objects.filter(dataset=dataset).values_list("search_rowid", flat=True))


def state(dataset_id) -> tuple[int, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT start, done FROM knowledge_vec_mirror WHERE dataset_id = %s AND dimension = 8",
            [uuid.UUID(str(dataset_id)).hex],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def best(store: SqliteStore, dataset, text: str) -> tuple[str, float]:
    hits = store.search_vector(
        dataset_id=str(dataset.id), vector=normalise(fake_vector(text, 8)), top_k=3, document_ids=None
    )
    return hits[0].node_id, round(hits[0].score, 4)


def node_of(dataset, text: str) -> str:
    return IndexNode.objects.get(dataset=dataset, content=text).node_id


def test_a_small_dataset_is_not_written_into_vec0_and_is_searched_from_its_matrix(
    workspace, make_dataset, index_text
):
    store = store_fitting(100)  # mirrored from 50 nodes
    dataset = make_dataset(workspace)
    texts = paragraphs("Cat", 5)
    index_text(dataset, "\n\n".join(texts), process_rule=RULE)
    assert len(node_rowids(dataset)) == 5
    assert mirrored_rowids(dataset) == set() and state(dataset.id) is None
    assert best(store, dataset, texts[3]) == (node_of(dataset, texts[3]), 1.0)


def test_a_dataset_crossing_the_line_is_copied_whole_then_written_on_insert_and_searched_in_vec0(
    workspace, make_dataset, index_text
):
    store = store_fitting(8)  # mirrored from 4 nodes; more than 8 are searched outside the matrix
    dataset = make_dataset(workspace)
    first, second, third = paragraphs("Cat", 3), paragraphs("Dog", 3), paragraphs("Owl", 3)
    index_text(dataset, "\n\n".join(first), process_rule=RULE, name="cats.txt")
    assert mirrored_rowids(dataset) == set()  # 3 nodes: below the line
    index_text(dataset, "\n\n".join(second), process_rule=RULE, name="dogs.txt")
    # 6 nodes: the mirror began with the second document's batch and copied the first document too
    assert mirrored_rowids(dataset) == node_rowids(dataset) and len(node_rowids(dataset)) == 6
    start, done = state(dataset.id)
    assert done >= start
    index_text(dataset, "\n\n".join(third), process_rule=RULE, name="owls.txt")
    assert mirrored_rowids(dataset) == node_rowids(dataset) and len(node_rowids(dataset)) == 9
    # 9 nodes do not fit the matrix: the search is vec0's, and it finds each document's text
    assert (
        store.vectors.matrices.search(
            dataset_id=str(dataset.id), vector=normalise(fake_vector(first[0], 8)), top_k=3, document_ids=None
        )
        is None
    )
    for text in (first[0], second[1], third[2]):
        assert best(store, dataset, text) == (node_of(dataset, text), 1.0)


def test_an_unfinished_copy_is_not_searched_and_catch_up_finishes_it(
    workspace, make_dataset, index_text, monkeypatch
):
    monkeypatch.setattr(vec0_mirror, "BACKFILL_ROWS", 2)
    store = store_fitting(4)  # mirrored from 2 nodes
    dataset = make_dataset(workspace)
    texts = paragraphs("Fox", 6)
    index_text(dataset, "\n\n".join(texts), process_rule=RULE)
    # the one batch began the mirror and copied two of its six nodes
    assert len(mirrored_rowids(dataset)) == 2
    assert not store.vectors.mirror.complete(connection.cursor(), uuid.UUID(str(dataset.id)).hex, 8)
    last = IndexNode.objects.filter(dataset=dataset).order_by("-search_rowid").first()
    assert last.search_rowid not in mirrored_rowids(dataset)
    # too big for the matrix and not in vec0 yet: searched exactly, so the missing node is still found
    assert best(store, dataset, last.content) == (last.node_id, 1.0)
    store.vectors.catch_up(str(dataset.id), 8)
    assert mirrored_rowids(dataset) == node_rowids(dataset)
    assert best(store, dataset, last.content) == (last.node_id, 1.0)


def test_deleting_a_dataset_forgets_its_mirror(workspace, make_dataset, index_text):
    store_fitting(2)  # mirrored from 1 node
    dataset = make_dataset(workspace)
    index_text(dataset, "\n\n".join(paragraphs("Elk", 2)), process_rule=RULE)
    dataset_id = dataset.id
    assert state(dataset_id) is not None
    dataset_delete(dataset=dataset)
    assert state(dataset_id) is None


def test_the_migration_records_datasets_mirrored_before_it_as_complete(workspace, make_dataset, index_text):
    store_fitting(2)
    dataset = make_dataset(workspace)
    index_text(dataset, "\n\n".join(paragraphs("Yak", 3)), process_rule=RULE)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM knowledge_vec_mirror")  # as before the migration
    migration = importlib.import_module("knowledge.migrations.0007_vec0_mirror")
    # (the schema editor cannot open inside the test's transaction; forward only needs its connection)
    migration.forward(None, SimpleNamespace(connection=connection))
    assert state(dataset.id) == (0, 0)  # every node above rowid 0 is in vec0
