"""The in-memory vector matrices behind the sqlite-vec store (``knowledge.index.matrix``): exact answers
while other writers add and delete rows behind the cache's back. Runs on any SQLite (the search rowids
come from the full-text trigger, not from sqlite-vec)."""

from __future__ import annotations

import pytest
from django.db import connection

from knowledge.index.base import normalise
from knowledge.index.matrix import MatrixCache
from knowledge.models import DocumentSegment, IndexNode
from knowledge.services.documents import document_delete
from tests.support.fake_llm import fake_vector

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite search rowids"),
]

TEXT = "Cats purr when they are happy.\n\nDogs bark at strangers.\n\nParrots can mimic human speech."
RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 100}},
}


def vec(text: str) -> list[float]:
    return normalise(fake_vector(text, 8))


def exact_top(dataset, text: str, k: int, document_ids=None) -> list[str]:
    from knowledge.index.stores import ExactVectors

    hits = ExactVectors().search(
        dataset_id=str(dataset.id), vector=vec(text), top_k=k, document_ids=document_ids
    )
    return [h.node_id for h in hits]


def cache_top(cache: MatrixCache, dataset, text: str, k: int, document_ids=None) -> list[str]:
    hits = cache.search(dataset_id=str(dataset.id), vector=vec(text), top_k=k, document_ids=document_ids)
    assert hits is not None
    return [h.node_id for h in hits]


def test_rows_written_after_the_first_search_are_found(workspace, make_dataset, index_text):
    # given a matrix loaded by a first search
    dataset = make_dataset(workspace)
    index_text(dataset, TEXT, process_rule=RULE, name="a.txt")
    cache = MatrixCache()
    assert len(cache_top(cache, dataset, "Owls hunt at night.", 10)) == 3
    # when another document is indexed (the cache is not told)
    later = index_text(dataset, "Owls hunt at night.", name="b.txt")
    # then the next search finds it first, with a cosine of 1, and agrees with exact search
    hits = cache.search(
        dataset_id=str(dataset.id), vector=vec("Owls hunt at night."), top_k=4, document_ids=None
    )
    assert hits[0].node_id == IndexNode.objects.get(document=later).node_id
    assert hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert [h.node_id for h in hits] == exact_top(dataset, "Owls hunt at night.", 4)


def test_rows_deleted_behind_its_back_are_never_returned(workspace, make_dataset, index_text, owner):
    dataset = make_dataset(workspace)
    doomed = index_text(dataset, TEXT, process_rule=RULE, name="a.txt")
    kept = index_text(dataset, "Owls hunt at night.\n\nBats hunt at dusk.", process_rule=RULE, name="b.txt")
    cache = MatrixCache()
    assert len(cache_top(cache, dataset, "Dogs bark at strangers.", 5)) == 5
    # when a whole document's rows go by a plain SQL delete (as a cascade or another process would)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM knowledge_indexnode WHERE document_id = %s", [doomed.id.hex])
    # then its rows are gone from the answer even though they were the best candidates
    left = cache_top(cache, dataset, "Dogs bark at strangers.", 5)
    assert left == exact_top(dataset, "Dogs bark at strangers.", 5)
    assert set(left) == set(IndexNode.objects.filter(document=kept).values_list("node_id", flat=True))
    document_delete(document=kept)
    assert cache_top(cache, dataset, "Owls hunt at night.", 3) == []


def test_a_rewritten_newest_node_gets_a_new_rowid(workspace, make_dataset, index_text, owner):
    # given the newest node of the table
    dataset = make_dataset(workspace)
    document = index_text(dataset, "Foxes are clever.", name="a.txt")
    node = IndexNode.objects.get(document=document)
    cache = MatrixCache()
    assert cache_top(cache, dataset, "Foxes are clever.", 1) == [node.node_id]
    # when it is deleted and written again with another text (a segment edit of the newest segment)
    from knowledge.services.segments import segment_update

    segment = DocumentSegment.objects.get(document=document)
    segment_update(segment=segment, data={"content": "Wolves howl at the moon."}, account_id=owner.id)
    rewritten = IndexNode.objects.get(document=document)
    # then its rowid is above the old one (never reused), and the matrix scores the new vector
    assert rewritten.search_rowid > node.search_rowid
    hits = cache.search(
        dataset_id=str(dataset.id), vector=vec("Wolves howl at the moon."), top_k=1, document_ids=None
    )
    assert hits[0].node_id == rewritten.node_id and hits[0].score == pytest.approx(1.0, abs=1e-6)


def test_a_document_filter_is_applied_inside_the_scan(workspace, make_dataset, index_text):
    dataset = make_dataset(workspace)
    index_text(dataset, TEXT, process_rule=RULE, name="a.txt")
    second = index_text(dataset, "Parrots live for decades.", name="b.txt")
    cache = MatrixCache()
    # the best match overall is in the first document; restricted to the second, its node comes back
    only = cache_top(cache, dataset, "Cats purr when they are happy.", 1, document_ids=[str(second.id)])
    assert only == [IndexNode.objects.get(document=second).node_id]
    assert cache_top(cache, dataset, "Cats purr when they are happy.", 3, document_ids=[]) == []


def test_a_dataset_over_the_budget_is_left_to_the_store(workspace, make_dataset, index_text):
    dataset = make_dataset(workspace)
    index_text(dataset, TEXT, process_rule=RULE)
    cache = MatrixCache(budget_bytes=64)  # three 8-dimensional vectors need more than this
    assert cache.search(dataset_id=str(dataset.id), vector=vec("Cats"), top_k=3, document_ids=None) is None
