"""What a search asks for and what it finds: `Settings` (Dify's retrieval_model), `Scored`, `Record`, and the
search-method names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge.models import (
    DEFAULT_RETRIEVAL_MODEL,
    Dataset,
    Document,
    DocumentSegment,
)

SEMANTIC, FULL_TEXT, HYBRID, KEYWORD = (
    "semantic_search",
    "full_text_search",
    "hybrid_search",
    "keyword_search",
)


@dataclass
class Settings:
    """How to search: Dify's ``retrieval_model`` (one dataset) or an app's multi-dataset settings."""

    search_method: str = SEMANTIC
    top_k: int = 4
    score_threshold: float | None = None
    reranking_enable: bool = False
    reranking_mode: str = "reranking_model"
    reranking_model: dict[str, Any] | None = None
    weights: dict[str, Any] | None = None

    @classmethod
    def from_retrieval_model(cls, model: dict[str, Any] | None, *, default_top_k: int = 4) -> Settings:
        model = {**DEFAULT_RETRIEVAL_MODEL, "top_k": default_top_k, **(model or {})}
        threshold = model.get("score_threshold") if model.get("score_threshold_enabled") else None
        return cls(
            search_method=model.get("search_method") or SEMANTIC,
            top_k=int(model.get("top_k") or default_top_k),
            score_threshold=float(threshold) if threshold is not None else None,
            reranking_enable=bool(model.get("reranking_enable")),
            reranking_mode=model.get("reranking_mode") or "reranking_model",
            reranking_model=model.get("reranking_model"),
            weights=model.get("weights"),
        )

    @property
    def rerank_model(self) -> tuple[str, str] | None:
        model = self.reranking_model or {}
        provider, name = model.get("reranking_provider_name"), model.get("reranking_model_name")
        if self.reranking_enable and self.reranking_mode != "weighted_score" and provider and name:
            return str(provider), str(name)
        return None

    @property
    def weighted(self) -> bool:
        return self.reranking_mode == "weighted_score" and bool(self.weights)


@dataclass
class Scored:
    node_id: str
    score: float
    dataset_id: str = ""
    content: str = ""


@dataclass
class Record:
    """One result: a segment, its document and dataset, its score, the child chunks that matched."""

    segment: DocumentSegment
    document: Document
    dataset: Dataset
    score: float
    child_chunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def content(self) -> str:
        return self.segment.content

    def context_text(self) -> str:
        if self.segment.answer:
            return f"question:{self.segment.content} answer:{self.segment.answer}"
        return self.segment.content


@dataclass
class ExternalRecord:
    """One result from a dataset's external knowledge API (Dify's ``_source: external`` document)."""

    dataset: Dataset
    content: str
    title: str | None
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def context_text(self) -> str:
        return self.content
