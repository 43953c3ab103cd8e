"""Rerank and embeddings over plain HTTP APIs: Jina/Cohere-style `POST {base_url}/rerank` (also served by
TEI, Xinference, vLLM, Infinity...) and OpenAI-shaped `POST {base_url}/embeddings` (Jina).

Rerank request `{model, query, documents, top_n}`; answer `{results: [{index, relevance_score,
document?}]}`. Cohere's v2 API returns no document text, so texts come from our own input by index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from providers.runtime.adapters.base import EmbeddingVectors, ModelAdapter, expect
from providers.runtime.adapters.http_json import bearer, request_json
from providers.runtime.http import Timeouts
from providers.runtime.results import RerankDocument
from providers.runtime.schema import ModelSchema


async def rerank_via_http(
    adapter: ModelAdapter,
    *,
    base_url: str,
    api_key: str | None,
    model: str,
    query: str,
    documents: Sequence[str],
    top_n: int | None,
    timeouts: Timeouts,
) -> list[RerankDocument]:
    if not documents:
        return []
    payload = {"model": model, "query": query, "documents": list(documents), "top_n": top_n or len(documents)}
    data = await request_json(
        adapter.http,
        "POST",
        f"{base_url}/rerank",
        provider=adapter.provider,
        timeouts=timeouts,
        json_body=payload,
        headers=bearer(api_key),
    )
    results = data.get("results") if isinstance(data, Mapping) else None
    expect(isinstance(results, list), "no `results` list in the rerank answer", adapter.provider)
    ranked = []
    for item in results:
        index = item.get("index") if isinstance(item, Mapping) else None
        score = item.get("relevance_score", item.get("score")) if isinstance(item, Mapping) else None
        expect(
            isinstance(index, int) and 0 <= index < len(documents) and isinstance(score, int | float),
            f"a rerank result has an invalid index or score ({item!r})",
            adapter.provider,
        )
        ranked.append(RerankDocument(index=index, text=documents[index], score=float(score)))
    ranked.sort(key=lambda doc: doc.score, reverse=True)
    return ranked


class HttpApiAdapter(ModelAdapter):
    """Providers whose API is plain JSON over HTTP with a bearer key (Jina, Cohere)."""

    name = "http_api"

    def __init__(self, *, http: Any, provider: str, default_base_url: str | None = None) -> None:
        super().__init__(http=http, provider=provider)
        self.default_base_url = default_base_url

    def base_url(self, credentials: Mapping[str, Any]) -> str:
        base = str(credentials.get("base_url") or self.default_base_url or "").strip().rstrip("/")
        if not base:
            from providers.runtime.errors import MissingCredentialError

            raise MissingCredentialError("base_url", self.provider)
        return base

    def api_key(self, credentials: Mapping[str, Any]) -> str | None:
        return str(credentials.get("api_key") or "").strip() or None

    async def invoke_rerank(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        query: str,
        documents: Sequence[str],
        top_n: int | None,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> list[RerankDocument]:
        return await rerank_via_http(
            self,
            base_url=self.base_url(credentials),
            api_key=self.api_key(credentials),
            model=model,
            query=query,
            documents=documents,
            top_n=top_n,
            timeouts=timeouts,
        )

    async def invoke_embedding(
        self,
        *,
        model: str,
        credentials: Mapping[str, Any],
        texts: Sequence[str],
        input_type: str,
        schema: ModelSchema,
        timeouts: Timeouts,
    ) -> EmbeddingVectors:
        payload: dict[str, Any] = {"model": model, "input": list(texts)}
        if credentials.get("task"):
            payload["task"] = credentials["task"]
        data = await request_json(
            self.http,
            "POST",
            f"{self.base_url(credentials)}/embeddings",
            provider=self.provider,
            timeouts=timeouts,
            json_body=payload,
            headers=bearer(self.api_key(credentials)),
        )
        items = data.get("data") if isinstance(data, Mapping) else None
        expect(
            isinstance(items, list) and len(items) == len(texts),
            "the embeddings do not match the inputs",
            self.provider,
        )
        vectors = [
            list(map(float, item["embedding"]))
            for item in sorted(items, key=lambda item: item.get("index", 0))
        ]
        usage = data.get("usage") or {}
        tokens = usage.get("prompt_tokens") or usage.get("total_tokens")
        return EmbeddingVectors(embeddings=vectors, tokens=int(tokens) if tokens is not None else None)

    async def validate_credentials(
        self,
        *,
        credentials: Mapping[str, Any],
        model: str | None,
        model_type: str | None,
        schema: ModelSchema | None,
        timeouts: Timeouts,
    ) -> None:
        # These APIs list no models; a real two-document rerank is the cheapest authenticated call.
        if model is None or schema is None:
            raise self._unsupported("Validating without a model")
        await super().validate_credentials(
            credentials=credentials, model=model, model_type=model_type, schema=schema, timeouts=timeouts
        )
