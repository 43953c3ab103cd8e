"""Indexing end to end against the fake model server: statuses, segments, vectors, the embedding cache."""

from __future__ import annotations

import pytest

from knowledge.models import DocumentSegment, Embedding, IndexNode
from knowledge.services.indexing import document_index

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Cats purr when they are happy.\n\nDogs bark at strangers.\n\nParrots can mimic human speech."


def test_a_text_document_is_indexed_into_segments_with_vectors(workspace, make_dataset, index_text, fake_llm):
    # given a high-quality dataset and a custom rule splitting on blank lines
    dataset = make_dataset(workspace)
    rule = {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
            "segmentation": {"separator": "\\n\\n", "max_tokens": 100, "chunk_overlap": 0},
        },
    }
    # when a document is created and indexed
    document = index_text(dataset, TEXT, process_rule=rule)
    # then it completed with one segment per paragraph, each with a vector from the model
    assert document.indexing_status == "completed", document.error
    assert document.word_count == len(TEXT)
    assert [document.processing_started_at is not None, document.completed_at is not None] == [True, True]
    segments = list(DocumentSegment.objects.filter(document=document).order_by("position"))
    assert [s.content for s in segments] == [
        "Cats purr when they are happy.",
        "Dogs bark at strangers.",
        "Parrots can mimic human speech.",
    ]
    assert all(s.status == "completed" and s.completed_at for s in segments)
    nodes = IndexNode.objects.filter(document=document)
    assert nodes.count() == 3 and all(n.dimension == 8 for n in nodes)
    assert len(fake_llm.requests_on("openai.embeddings")) == 1


def test_the_embedding_cache_spares_the_model_on_reindex(workspace, make_dataset, index_text, fake_llm):
    dataset = make_dataset(workspace)
    first = index_text(dataset, TEXT, name="a.txt")
    calls = len(fake_llm.requests_on("openai.embeddings"))
    # when the same text is indexed again in another document
    second = index_text(dataset, TEXT, name="b.txt")
    # then no embedding request was made, and both documents are searchable
    assert second.indexing_status == "completed"
    assert len(fake_llm.requests_on("openai.embeddings")) == calls
    assert Embedding.objects.filter(tenant=workspace).count() == first.segments.count()


def test_a_model_failure_is_recorded_and_retry_completes(workspace, make_dataset, owner, fake_llm):
    from knowledge.services.documents import document_create, document_retry
    from tests.support.fake_llm import Reply

    dataset = make_dataset(workspace)
    document, _ = document_create(dataset=dataset, account_id=owner.id, name="x", text="Some words here.")
    fake_llm.push(Reply.error(401, "Incorrect API key provided"))  # not retried by the runtime
    document_index(document_id=str(document.id))
    document.refresh_from_db()
    assert document.indexing_status == "error" and document.error and document.stopped_at
    # when it is retried
    document_retry(documents=[document])
    document_index(document_id=str(document.id))
    document.refresh_from_db()
    assert document.indexing_status == "completed" and document.error is None


def test_a_duplicate_delivery_does_not_index_twice(workspace, make_dataset, owner, fake_llm):
    from knowledge.models import Document
    from knowledge.services.documents import document_create

    dataset = make_dataset(workspace)
    document, _ = document_create(dataset=dataset, account_id=owner.id, name="x", text="Only once.")
    # given a run already in progress (recent progress)
    Document.objects.filter(id=document.id).update(indexing_status="indexing")
    # when the task is delivered again, it leaves the document alone
    document_index(document_id=str(document.id))
    assert not fake_llm.requests_on("openai.embeddings")
    assert Document.objects.get(id=document.id).indexing_status == "indexing"
