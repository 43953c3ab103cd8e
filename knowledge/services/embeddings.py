"""Embeddings with a cache: documents by content hash in the ``Embedding`` table, queries in the cache.

As Dify's CacheEmbedding: texts already embedded by the same workspace, provider and model are not sent
again (re-indexing, enabling a segment, a document uploaded twice cost nothing); misses go to the model
in batches; vectors are L2-normalised before they are stored. A query vector is kept 10 minutes in the
Django cache (Redis in the scaled mode), refreshed on hit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync
from django.core.cache import cache

from dify_project.bulk_insert import insert_objects
from knowledge.index import vector_from_bytes, vector_to_bytes
from knowledge.index.base import normalise, normalised_blobs
from knowledge.models import Embedding

BATCH_SIZE = 32
QUERY_CACHE_SECONDS = 600
T = TypeVar("T")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run_async(fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
    """Call async model code from sync code (indexing runs in a Celery worker or a request thread).

    Through asgiref's async_to_sync, so database calls the model service makes (``sync_to_async``) come
    back to this thread instead of deadlocking on it. Outside the web server's loop the call gets a loop
    of its own: its HTTP client is closed before the loop ends. Meter rows the call left to be written
    later (document embeddings) are written before it returns.
    """
    from providers.services.invocation import usage_writes_settle

    main_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    temporary = not (main_loop is not None and main_loop.is_running())

    async def call() -> T:
        try:
            return await fn(*args, **kwargs)
        finally:
            await usage_writes_settle()
            if temporary:
                from providers.services.runtime import model_runtime

                await model_runtime().http.aclose()

    return async_to_sync(call)()


def _cached_vectors(tenant_id: str, provider: str, model: str, hashes: Sequence[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), 500):
        rows = Embedding.objects.filter(
            tenant_id=tenant_id,
            provider_name=provider,
            model_name=model,
            hash__in=unique[start : start + 500],
        ).values_list("hash", "embedding")
        found.update((h, bytes(blob)) for h, blob in rows)
    return found


def _store_vectors(tenant_id: str, provider: str, model: str, vectors: dict[str, bytes]) -> None:
    insert_objects(
        [
            Embedding(
                tenant_id=tenant_id,
                provider_name=provider,
                model_name=model,
                hash=digest,
                embedding=blob,
            )
            for digest, blob in vectors.items()
        ],
        ignore_conflicts=True,  # a concurrent indexing of the same text stored it first: same vector
    )


async def _embed_batches(
    *, tenant_id: str, provider: str, model: str, texts: list[str], source: dict | None
) -> list[list[float]]:
    from providers.services.invocation import embed

    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH_SIZE):
        result = await embed(
            tenant_id=tenant_id,
            provider=provider,
            model=model,
            texts=texts[start : start + BATCH_SIZE],
            input_type="document",
            source=source,
            wait_for_meter=False,  # the next batch goes to the model at once; run_async writes the rows
        )
        vectors.extend(result.embeddings)
    return vectors


@dataclass
class DocumentPlan:
    """Texts to embed, split into what the cache already holds and what must go to the model."""

    tenant_id: str
    provider: str
    model: str
    source: dict | None
    hashes: list[str]
    cached: dict[str, bytes]
    missing: dict[str, str] = field(default_factory=dict)  # content hash -> text, once per text


def plan_documents(
    *, tenant_id: str, provider: str, model: str, texts: Sequence[str], source: dict | None = None
) -> DocumentPlan:
    """Look `texts` up in the cache (sync: reads the database)."""
    tenant_id = str(tenant_id)
    hashes = [content_hash(t) for t in texts]
    plan = DocumentPlan(
        tenant_id, provider, model, source, hashes, _cached_vectors(tenant_id, provider, model, hashes)
    )
    for digest, text in zip(hashes, texts, strict=True):
        if digest not in plan.cached:
            plan.missing.setdefault(digest, text)
    return plan


async def fetch_missing(plan: DocumentPlan) -> dict[str, bytes]:
    """The model's normalised vectors (float32 bytes) for the plan's cache misses, by content hash (no database write:
    `finish_documents` stores them, so this can run while the caller's thread writes other rows)."""
    if not plan.missing:
        return {}
    raw = await _embed_batches(
        tenant_id=plan.tenant_id,
        provider=plan.provider,
        model=plan.model,
        texts=list(plan.missing.values()),
        source=plan.source,
    )
    return dict(zip(plan.missing, normalised_blobs(raw), strict=True))


def finish_documents(plan: DocumentPlan, fresh: dict[str, bytes]) -> list[bytes]:
    """Store the fresh vectors in the cache (sync) and return one vector (float32 bytes, as the index
    stores them) per planned text, in order."""
    if fresh:
        _store_vectors(plan.tenant_id, plan.provider, plan.model, fresh)
    return [fresh[d] if d in fresh else plan.cached[d] for d in plan.hashes]


def embed_documents(
    *, tenant_id: str, provider: str, model: str, texts: Sequence[str], source: dict | None = None
) -> tuple[list[bytes], int]:
    """Normalised vectors (float32 bytes) for `texts` (sync; for indexing), and how many texts were sent
    to the model."""
    plan = plan_documents(tenant_id=tenant_id, provider=provider, model=model, texts=texts, source=source)
    fresh = run_async(fetch_missing, plan) if plan.missing else {}
    return finish_documents(plan, fresh), len(plan.missing)


def _query_key(tenant_id: str, provider: str, model: str, query: str) -> str:
    return f"knowledge:qemb:{tenant_id}:{content_hash(f'{provider}/{model}/{query}')}"


async def embed_query(
    *, tenant_id: str, provider: str, model: str, query: str, source: dict | None = None
) -> list[float]:
    """The query's vector (async; for retrieval), from the cache when it was asked in the last 10 min."""
    from providers.services.invocation import embed

    key = _query_key(str(tenant_id), provider, model, query)
    blob = await cache.aget(key)
    if blob is not None:
        await cache.atouch(key, QUERY_CACHE_SECONDS)
        return vector_from_bytes(blob)
    result = await embed(
        tenant_id=str(tenant_id),
        provider=provider,
        model=model,
        texts=[query],
        input_type="query",
        source=source,
    )
    vector = normalise(result.embeddings[0])
    await cache.aset(key, vector_to_bytes(vector), QUERY_CACHE_SECONDS)
    return vector
