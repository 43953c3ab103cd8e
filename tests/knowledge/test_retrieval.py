"""Retrieval modes against the fake model server: its embeddings are deterministic per text (a query equal
to a chunk has cosine 1 with it, others are unrelated), its rerank scores by word overlap."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from knowledge.models import DatasetQuery, DocumentSegment
from knowledge.retrieval import MultiRequest, retrieve
from knowledge.retrieval_port import TenantRetrievalPort, retrieve_context
from knowledge.services.metadata import documents_metadata_update, metadata_create
from tests.knowledge.conftest import RERANK
from workflows.engine.ports import RetrievalRequest

pytestmark = pytest.mark.django_db(transaction=True)

PARAGRAPHS = [
    "Cats purr when they are happy.",
    "Dogs bark at strangers near the house.",
    "Parrots can mimic human speech.",
    "Goldfish have a memory longer than three seconds.",
]
RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 200}},
}


@pytest.fixture
def animals(workspace, make_dataset, index_text):
    dataset = make_dataset(workspace, name="Animals")
    document = index_text(dataset, "\n\n".join(PARAGRAPHS), process_rule=RULE)
    assert document.indexing_status == "completed", document.error
    return dataset


def hit_test(dataset, query, **model):
    from knowledge.retrieval import hit_test as run

    retrieval_model = {"search_method": "semantic_search", "top_k": 4, **model} if model else None
    return async_to_sync(run)(dataset=dataset, query=query, retrieval_model=retrieval_model, account_id=None)


def contents(result):
    return [r["segment"]["content"] for r in result["records"]]


def test_semantic_search_finds_the_chunk_whose_meaning_matches(animals):
    result = hit_test(animals, "Parrots can mimic human speech.", search_method="semantic_search", top_k=2)
    assert contents(result)[0] == "Parrots can mimic human speech."
    assert result["records"][0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert len(result["records"]) == 2
    record = result["records"][0]
    assert record["segment"]["document"]["name"] == "doc.txt" and record["child_chunks"] == []
    assert DatasetQuery.objects.filter(dataset=animals, source="hit_testing").count() == 1


def test_score_threshold_drops_weak_matches(animals):
    result = hit_test(
        animals,
        "Parrots can mimic human speech.",
        top_k=4,
        score_threshold_enabled=True,
        score_threshold=0.99,
    )
    assert contents(result) == ["Parrots can mimic human speech."]


def test_full_text_search_matches_words(animals):
    result = hit_test(animals, "why do dogs bark?", search_method="full_text_search", top_k=4)
    assert contents(result)[0] == "Dogs bark at strangers near the house."
    assert all(0 < r["score"] < 1 for r in result["records"])


def test_semantic_search_reranked_by_a_model(animals, fake_llm):
    result = hit_test(
        animals,
        "goldfish memory",
        search_method="semantic_search",
        top_k=4,
        reranking_enable=True,
        reranking_model={"reranking_provider_name": RERANK[0], "reranking_model_name": RERANK[1]},
    )
    assert contents(result)[0] == "Goldfish have a memory longer than three seconds."
    assert fake_llm.requests_on("rerank.rerank")


def test_hybrid_search_with_weighted_score(animals):
    # keyword weight only: the chunk sharing the query's words wins, whatever the vectors say
    weights = {
        "weight_type": "customized",
        "vector_setting": {"vector_weight": 0.0, "embedding_provider_name": "", "embedding_model_name": ""},
        "keyword_setting": {"keyword_weight": 1.0},
    }
    result = hit_test(
        animals,
        "cats purr",
        search_method="hybrid_search",
        top_k=2,
        reranking_enable=True,
        reranking_mode="weighted_score",
        weights=weights,
    )
    assert contents(result)[0] == "Cats purr when they are happy."
    # vector weight only: the chunk equal to the query wins
    weights["vector_setting"]["vector_weight"], weights["keyword_setting"]["keyword_weight"] = 1.0, 0.0
    result = hit_test(
        animals,
        "Dogs bark at strangers near the house.",
        search_method="hybrid_search",
        top_k=2,
        reranking_enable=True,
        reranking_mode="weighted_score",
        weights=weights,
    )
    assert contents(result)[0] == "Dogs bark at strangers near the house."
    assert result["records"][0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_hybrid_search_reranked_by_a_model(animals):
    result = hit_test(
        animals,
        "parrots speech",
        search_method="hybrid_search",
        top_k=1,
        reranking_enable=True,
        reranking_mode="reranking_model",
        reranking_model={"reranking_provider_name": RERANK[0], "reranking_model_name": RERANK[1]},
    )
    assert contents(result) == ["Parrots can mimic human speech."]


def test_metadata_filters_restrict_the_documents(workspace, make_dataset, index_text, owner):
    dataset = make_dataset(workspace, name="Manuals")
    old = index_text(dataset, "Reset the router by holding the button.", name="old.txt")
    new = index_text(dataset, "Reset the router from the web console.", name="new.txt")
    field = metadata_create(dataset=dataset, name="year", type="number", account_id=owner.id)
    documents_metadata_update(
        dataset=dataset,
        operations=[
            {
                "document_id": str(old.id),
                "metadata_list": [{"id": str(field.id), "name": "year", "value": 2019}],
            },
            {
                "document_id": str(new.id),
                "metadata_list": [{"id": str(field.id), "name": "year", "value": 2024}],
            },
        ],
    )
    conditions = {
        "logical_operator": "and",
        "conditions": [{"name": "year", "comparison_operator": ">", "value": 2020}],
    }
    result = hit_test(
        dataset,
        "reset the router",
        search_method="full_text_search",
        top_k=4,
        metadata_filtering_conditions=conditions,
    )
    assert contents(result) == ["Reset the router from the web console."]
    conditions["conditions"][0]["value"] = 2030
    assert (
        hit_test(
            dataset,
            "reset the router",
            search_method="full_text_search",
            metadata_filtering_conditions=conditions,
        )["records"]
        == []
    )


def test_disabled_segments_and_documents_are_not_retrieved(animals, owner):
    from knowledge.services.documents import document_status_batch
    from knowledge.services.segments import segment_update

    segment = DocumentSegment.objects.get(dataset=animals, content__startswith="Parrots")
    segment_update(segment=segment, data={"enabled": False}, account_id=owner.id)
    assert "Parrots can mimic human speech." not in contents(
        hit_test(animals, "Parrots can mimic human speech.")
    )
    document_status_batch(
        dataset=animals, document_ids=[str(segment.document_id)], action="disable", account_id=owner.id
    )
    assert hit_test(animals, "Cats purr when they are happy.")["records"] == []


def test_multiple_datasets_merge_and_count_hits(workspace, make_dataset, index_text, animals):
    plants = make_dataset(workspace, name="Plants")
    index_text(plants, "Ferns grow in the shade.\n\nCacti store water.", process_rule=RULE)
    records = async_to_sync(retrieve)(
        tenant_id=str(workspace.id),
        request=MultiRequest(
            dataset_ids=[str(animals.id), str(plants.id)],
            query="Cacti store water.",
            top_k=2,
            reranking_enable=False,
        ),
        app_id="5d1b5a52-6f2c-4f0e-9f55-2c2b1c3d4e5f",
    )
    assert records[0].segment.content == "Cacti store water."
    assert len(records) == 2
    assert DocumentSegment.objects.get(content="Cacti store water.").hit_count == 1
    assert DatasetQuery.objects.filter(source="app").count() == 2


def test_another_workspaces_dataset_is_never_retrieved(animals, other_workspace):
    port = TenantRetrievalPort(tenant_id=str(other_workspace.id))
    chunks = async_to_sync(port.retrieve)(
        RetrievalRequest(dataset_ids=[str(animals.id), "not-a-uuid"], query="Cats purr when they are happy.")
    )
    assert chunks == []


def test_the_port_returns_difys_node_metadata(animals, workspace):
    port = TenantRetrievalPort(tenant_id=str(workspace.id), app_id=None)
    chunks = async_to_sync(port.retrieve)(
        RetrievalRequest(
            dataset_ids=[str(animals.id)],
            query="Cats purr when they are happy.",
            top_k=2,
            reranking={"reranking_enable": False},
        )
    )
    first = chunks[0]
    assert first.content == "Cats purr when they are happy." and first.title == "doc.txt"
    assert first.metadata["_source"] == "knowledge" and first.metadata["dataset_name"] == "Animals"
    assert first.metadata["retriever_from"] == "workflow"
    assert set(first.metadata) >= {
        "dataset_id",
        "document_id",
        "document_name",
        "segment_id",
        "score",
        "segment_hit_count",
        "segment_word_count",
        "segment_position",
        "segment_index_node_hash",
        "doc_metadata",
    }


def test_retrieve_context_for_chat_apps(animals, workspace):
    configs = {
        "retrieval_model": "multiple",
        "top_k": 2,
        "reranking_enable": False,
        "datasets": {
            "strategy": "router",
            "datasets": [{"dataset": {"enabled": True, "id": str(animals.id)}}],
        },
    }
    context, resources = async_to_sync(retrieve_context)(
        tenant_id=str(workspace.id),
        app_id="5d1b5a52-6f2c-4f0e-9f55-2c2b1c3d4e5f",
        dataset_configs=configs,
        query="Dogs bark at strangers near the house.",
        user="u1",
    )
    assert context.split("\n")[0] == "Dogs bark at strangers near the house."
    assert len(resources) == 2 and resources[0]["position"] == 1
    assert set(resources[0]) >= {
        "position",
        "dataset_id",
        "dataset_name",
        "document_id",
        "document_name",
        "data_source_type",
        "segment_id",
        "score",
        "hit_count",
        "word_count",
        "segment_position",
        "index_node_hash",
        "content",
    }
    # single mode with one dataset needs no routing model
    configs["retrieval_model"] = "single"
    context, resources = async_to_sync(retrieve_context)(
        tenant_id=str(workspace.id),
        app_id=None,
        dataset_configs=configs,
        query="Cats purr when they are happy.",
        user=None,
    )
    assert resources and resources[0]["content"] == "Cats purr when they are happy."
