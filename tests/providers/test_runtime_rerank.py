"""Rerank over Jina/Cohere-style `POST /rerank`, and Jina's OpenAI-shaped embeddings."""

from __future__ import annotations

import pytest

from providers.runtime import (
    AuthenticationError,
    CredentialsValidationError,
    InvalidResponseError,
    ModelRuntime,
)
from tests.providers.credentials import openai_compatible
from tests.support.fake_llm import FakeLLMServer, Reply

DOCS = ["Paris is the capital of France.", "Bananas are yellow.", "The capital of Italy is Rome."]


def jina(server: FakeLLMServer) -> dict[str, str]:
    return {"api_key": "jina_test_key_0000", "base_url": server.openai_base_url}


async def test_rerank_orders_documents_by_the_servers_scores(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(rerank=[(2, 0.91), (0, 0.45), (1, 0.02)]))
    result = await model_runtime.invoke_rerank(
        provider="jina",
        model="jina-reranker-v2-base-multilingual",
        credentials=jina(fake_llm),
        query="capital of Italy",
        documents=DOCS,
    )
    assert [(d.index, d.text, d.score) for d in result.docs] == [
        (2, DOCS[2], 0.91),
        (0, DOCS[0], 0.45),
        (1, DOCS[1], 0.02),
    ]
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/rerank"
    assert sent.headers["authorization"] == "Bearer jina_test_key_0000"
    assert sent.json == {
        "model": "jina-reranker-v2-base-multilingual",
        "query": "capital of Italy",
        "documents": DOCS,
        "top_n": 3,
    }


async def test_top_n_and_score_threshold_cut_the_results(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(rerank=[(2, 0.91), (0, 0.45), (1, 0.02)]))
    result = await model_runtime.invoke_rerank(
        provider="jina",
        model="jina-reranker-m0",
        credentials=jina(fake_llm),
        query="capital",
        documents=DOCS,
        top_n=2,
        score_threshold=0.5,
    )
    assert [d.index for d in result.docs] == [2]
    assert fake_llm.requests[-1].json["top_n"] == 2


async def test_cohere_style_answers_without_document_text_get_it_from_the_input(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(
        Reply(
            body={"results": [{"index": 1, "relevance_score": 0.8}], "meta": {}},
            content_type="application/json",
        )
    )
    result = await model_runtime.invoke_rerank(
        provider="cohere",
        model="rerank-v3.5",
        credentials={"api_key": "co-test-key-000000", "base_url": f"{fake_llm.url}/v2"},
        query="fruit",
        documents=DOCS,
        top_n=1,
    )
    assert [(d.index, d.text) for d in result.docs] == [(1, DOCS[1])]
    assert fake_llm.requests[-1].path == "/v2/rerank"


async def test_openai_compatible_servers_rerank_at_their_endpoint(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    result = await model_runtime.invoke_rerank(
        provider="openai_api_compatible",
        model="bge-reranker",
        credentials=openai_compatible(fake_llm),
        query="capital of France",
        documents=DOCS,
    )
    # the fake scores by word overlap: the Paris document shares the most words
    assert result.docs[0].index == 0
    assert result.docs[0].score > result.docs[-1].score
    assert fake_llm.requests[-1].path == "/v1/rerank"


async def test_no_documents_means_no_call(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    result = await model_runtime.invoke_rerank(
        provider="jina", model="jina-reranker-m0", credentials=jina(fake_llm), query="q", documents=[]
    )
    assert result.docs == []
    assert fake_llm.requests == []


async def test_a_malformed_rerank_answer_is_an_invalid_response(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(body={"data": []}, content_type="application/json"))
    with pytest.raises(InvalidResponseError, match="results"):
        await model_runtime.invoke_rerank(
            provider="jina", model="jina-reranker-m0", credentials=jina(fake_llm), query="q", documents=DOCS
        )
    fake_llm.push(Reply(rerank=[(7, 0.5)]))
    with pytest.raises(InvalidResponseError, match="invalid index"):
        await model_runtime.invoke_rerank(
            provider="jina", model="jina-reranker-m0", credentials=jina(fake_llm), query="q", documents=DOCS
        )


async def test_rerank_auth_errors_map(fake_llm: FakeLLMServer, model_runtime: ModelRuntime) -> None:
    fake_llm.push(Reply.error(401, "Invalid API key"))
    with pytest.raises(AuthenticationError):
        await model_runtime.invoke_rerank(
            provider="jina", model="jina-reranker-m0", credentials=jina(fake_llm), query="q", documents=DOCS
        )


async def test_provider_credentials_are_validated_with_a_small_rerank(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    await model_runtime.validate_credentials(provider="jina", credentials=jina(fake_llm))
    assert fake_llm.requests[-1].route == "rerank.rerank"
    assert len(fake_llm.requests[-1].json["documents"]) == 2
    fake_llm.push(Reply.error(403, "forbidden"))
    with pytest.raises(CredentialsValidationError, match="credentials"):
        await model_runtime.validate_credentials(provider="jina", credentials=jina(fake_llm))


async def test_jina_embeddings_are_openai_shaped(
    fake_llm: FakeLLMServer, model_runtime: ModelRuntime
) -> None:
    result = await model_runtime.invoke_embedding(
        provider="jina",
        model="jina-embeddings-v3",
        credentials={**jina(fake_llm), "task": "retrieval.passage"},
        texts=["one", "two words"],
    )
    assert len(result.embeddings) == 2
    assert result.usage.tokens == 3
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/embeddings"
    assert sent.json["task"] == "retrieval.passage"
