"""One suite for every search store: the embedded ones (exact, sqlite-vec), pgvector where installed and
the scale-out one (Qdrant) in both in-process engines: Qdrant Edge (``qdrant-edge``, the default local
mode) and the client's local mode (``qdrant``). Each test indexes through the real
pipeline (the loopback model's vectors) and asks the store itself, so a store that keeps a stale mirror
fails here even where the result builder would hide it.

sqlite-vec (and ``vec0``, sqlite-vec without its in-memory matrices) runs under
``--ds=tests.knowledge.settings_sqlite_vec`` (the default sqlite3 module cannot
load extensions here), pgvector where the extension is installed; otherwise they are skipped, by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from knowledge.index import chooser
from knowledge.index.base import SearchStore, normalise
from knowledge.index.qdrant import QdrantVectors
from knowledge.index.qdrant_edge import QdrantEdgeVectors, edge_available
from knowledge.index.stores import SqliteVecVectors
from knowledge.models import ChildChunk, DocumentSegment, IndexNode
from knowledge.retrieval import hit_test
from knowledge.services.datasets import dataset_delete
from knowledge.services.documents import document_delete, document_status_batch
from knowledge.services.segments import child_chunk_delete, segment_update
from tests.support.fake_llm import fake_vector

pytestmark = pytest.mark.django_db(transaction=True)

# sqlite-vec searches small datasets from its matrices; "vec0" is the same store without them, which
# mirrors every dataset into vec0 and searches it there.
STORES = ["exact", "sqlite-vec", "vec0", "pgvector", "qdrant", "qdrant-edge"]
TEXT = "Cats purr when they are happy.\n\nDogs bark at strangers.\n\nParrots can mimic human speech."
RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 100}},
}


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[SearchStore]:
    """The store under test, installed as the process's choice for this database."""
    name = request.param
    try:
        if name == "qdrant":
            # The client's local mode; a fresh prefix per test: the in-memory client is shared by the process.
            built = chooser.build_store("exact")
            built = type(built)(vectors=QdrantVectors(path=":memory:", prefix=f"t{uuid.uuid4().hex[:12]}"))
        elif name == "qdrant-edge":
            if not edge_available():
                raise ValueError("qdrant-edge-py is not installed")
            built = chooser.build_store("exact")
            built = type(built)(vectors=QdrantEdgeVectors(path=str(tmp_path / "edge"), prefix="t"))
        elif name == "vec0":
            built = chooser.build_store("sqlite-vec")
            built = type(built)(vectors=SqliteVecVectors(matrices=False))
        else:
            built = chooser.build_store(name)
    except ValueError as exc:
        pytest.skip(f"{name}: {exc}")
    chooser.reset_search_store()
    chooser._stores[connection.vendor] = built
    yield built
    chooser.reset_search_store()
    close = getattr(built.vectors, "close", None)
    if close is not None:
        close()


def vec(text: str) -> list[float]:
    return normalise(fake_vector(text, 8))


def top(store: SearchStore, dataset, text: str, *, k: int = 3, document_ids=None) -> list[tuple[str, float]]:
    hits = store.search_vector(
        dataset_id=str(dataset.id), vector=vec(text), top_k=k, document_ids=document_ids
    )
    return [(h.node_id, round(h.score, 4)) for h in hits]


def node_of(segment: DocumentSegment) -> str:
    return IndexNode.objects.get(segment=segment, child_chunk=None).node_id


def mirrored(store: SearchStore, dataset) -> int | None:
    count = getattr(store.vectors, "count", None)
    return count(dataset_id=str(dataset.id)) if count else None


def test_vector_search_finds_the_segment_in_its_own_dataset_only(store, workspace, make_dataset, index_text):
    # given the same text indexed in two datasets
    mine, theirs = make_dataset(workspace, name="Mine"), make_dataset(workspace, name="Theirs")
    document = index_text(mine, TEXT, process_rule=RULE)
    index_text(theirs, TEXT, process_rule=RULE)
    dogs = DocumentSegment.objects.get(document=document, content="Dogs bark at strangers.")
    # when one dataset is searched with a segment's own vector
    hits = top(store, mine, "Dogs bark at strangers.")
    # then that segment comes first with a cosine of 1, and nothing of the other dataset is returned
    assert hits[0] == (node_of(dogs), 1.0)
    mine_nodes = set(IndexNode.objects.filter(dataset=mine).values_list("node_id", flat=True))
    assert {node for node, _ in hits} <= mine_nodes and len(hits) == 3
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    if mirrored(store, mine) is not None:
        assert mirrored(store, mine) == 3


def test_full_text_and_document_filters(store, workspace, make_dataset, index_text):
    dataset = make_dataset(workspace)
    first = index_text(dataset, TEXT, process_rule=RULE, name="a.txt")
    second = index_text(dataset, "Parrots live for decades.", name="b.txt")
    words = store.search_full_text(dataset_id=str(dataset.id), query="parrots", top_k=5, document_ids=None)
    assert len(words) == 2 and all(0 < h.score <= 1 for h in words)
    only_second = store.search_full_text(
        dataset_id=str(dataset.id), query="parrots", top_k=5, document_ids=[str(second.id)]
    )
    assert [h.node_id for h in only_second] == [IndexNode.objects.get(document=second).node_id]
    # a document filter is applied by the store, before top_k: the best hit outside it is not returned
    vector_hits = top(store, dataset, "Cats purr when they are happy.", k=1, document_ids=[str(second.id)])
    assert [n for n, _ in vector_hits] == [IndexNode.objects.get(document=second).node_id]
    assert top(store, dataset, "Cats purr when they are happy.", document_ids=[]) == []
    assert (
        top(store, dataset, "Cats purr when they are happy.", k=1, document_ids=[str(first.id)])[0][1] == 1.0
    )


def test_segment_edit_disable_and_enable_stay_in_step(store, workspace, make_dataset, index_text, owner):
    dataset = make_dataset(workspace)
    document = index_text(dataset, TEXT, process_rule=RULE)
    cats = DocumentSegment.objects.get(document=document, content="Cats purr when they are happy.")
    # an edit replaces the vector: the new text is found, the old one no longer matches exactly
    segment_update(segment=cats, data={"content": "Cats nap all afternoon."}, account_id=owner.id)
    assert top(store, dataset, "Cats nap all afternoon.", k=1) == [(node_of(cats), 1.0)]
    assert all(score < 0.999 for _, score in top(store, dataset, "Cats purr when they are happy."))
    # disabled: gone from vector and full-text search; enabled: back
    segment_update(segment=cats, data={"enabled": False}, account_id=owner.id)
    assert all(score < 0.999 for _, score in top(store, dataset, "Cats nap all afternoon."))
    assert not store.search_full_text(
        dataset_id=str(dataset.id), query="afternoon", top_k=3, document_ids=None
    )
    if mirrored(store, dataset) is not None:
        assert mirrored(store, dataset) == 2
    segment_update(
        segment=DocumentSegment.objects.get(id=cats.id), data={"enabled": True}, account_id=owner.id
    )
    assert top(store, dataset, "Cats nap all afternoon.", k=1)[0][1] == 1.0


def test_document_disable_delete_and_dataset_delete_clear_the_store(
    store, workspace, make_dataset, index_text, owner
):
    dataset = make_dataset(workspace)
    kept = index_text(dataset, "Owls hunt at night.", name="kept.txt")
    gone = index_text(dataset, TEXT, process_rule=RULE, name="gone.txt")
    document_status_batch(dataset=dataset, document_ids=[str(gone.id)], action="disable", account_id=owner.id)
    assert [n for n, _ in top(store, dataset, "Dogs bark at strangers.")] == [
        IndexNode.objects.get(document=kept).node_id
    ]
    document_delete(document=gone)
    if mirrored(store, dataset) is not None:
        assert mirrored(store, dataset) == 1
    dataset_id = dataset.id
    dataset_delete(dataset=dataset)
    dataset.id = dataset_id  # Django clears the pk of a deleted row; the store is asked by id
    assert top(store, dataset, "Owls hunt at night.") == []
    if mirrored(store, dataset) is not None:
        assert mirrored(store, dataset) == 0


def test_child_chunks_are_indexed_and_deleted(store, workspace, make_dataset, index_text):
    from tests.knowledge.test_modes import HIERARCHICAL

    dataset = make_dataset(workspace)
    document = index_text(
        dataset, "Install the app.\nOpen settings.", process_rule=HIERARCHICAL, doc_form="hierarchical_model"
    )
    chunk = ChildChunk.objects.get(document=document, content="Open settings.")
    assert top(store, dataset, "Open settings.", k=1) == [(chunk.index_node_id, 1.0)]
    child_chunk_delete(chunk=chunk)
    assert [n for n, _ in top(store, dataset, "Open settings.")] == [
        ChildChunk.objects.get(document=document).index_node_id
    ]


def test_hybrid_search_through_retrieval(store, workspace, make_dataset, index_text):
    dataset = make_dataset(workspace)
    index_text(dataset, TEXT, process_rule=RULE)
    result = async_to_sync(hit_test)(
        dataset=dataset,
        query="Parrots can mimic human speech.",
        account_id=None,
        retrieval_model={"search_method": "hybrid_search", "top_k": 2, "reranking_enable": False},
    )
    contents = [r["segment"]["content"] for r in result["records"]]
    assert contents[0] == "Parrots can mimic human speech." and len(contents) == 2


def test_reindex_dataset_moves_vectors_into_qdrant_with_progress(
    workspace, make_dataset, index_text, settings
):
    from io import StringIO

    from django.core.management import CommandError, call_command

    # given a dataset indexed in the embedded store
    chooser.reset_search_store()
    dataset = make_dataset(workspace)
    index_text(dataset, TEXT, process_rule=RULE)
    cats = DocumentSegment.objects.get(dataset=dataset, content="Cats purr when they are happy.")
    settings.QDRANT_PATH, settings.QDRANT_COLLECTION_PREFIX = ":memory:", f"m{uuid.uuid4().hex[:12]}"
    # when it is moved to Qdrant, two nodes per write
    out = StringIO()
    call_command("reindex_dataset", str(dataset.id), "--to", "qdrant", "--batch", "2", stdout=out)
    # then progress was shown and Qdrant answers with the same hits
    assert "2/3 nodes" in out.getvalue() and "3/3 nodes" in out.getvalue()
    target = chooser.build_store("qdrant")
    assert target.vectors.count(dataset_id=str(dataset.id)) == 3
    assert top(target, dataset, "Cats purr when they are happy.", k=1) == [(node_of(cats), 1.0)]
    # run again: idempotent
    call_command("reindex_dataset", "--all", "--to", "qdrant", stdout=StringIO())
    assert target.vectors.count(dataset_id=str(dataset.id)) == 3
    with pytest.raises(CommandError, match="No such dataset"):
        call_command("reindex_dataset", str(uuid.uuid4()), "--to", "qdrant", stdout=StringIO())
    with pytest.raises(CommandError, match="Name the datasets"):
        call_command("reindex_dataset", "--to", "exact", stdout=StringIO())
