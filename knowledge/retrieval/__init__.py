"""Retrieval: semantic, full-text, hybrid (weighted score or a rerank model), thresholds, metadata
filters, several datasets at once; hit testing; the shapes Dify returns.

Async, for the runners: database reads and store searches run on the database pool
(``db_sync_to_async``), model calls (query embedding, rerank) on the loop. Follows Dify's ``RetrievalService`` / ``DatasetRetrieval``:

* one dataset: its search method with ``top_k``; semantic and full-text may be reranked by a model;
  hybrid runs both, keeps the best score per chunk, then reranks (model) or re-scores
  ``vector_weight * cosine + keyword_weight * tf-idf cosine`` (weighted); then the score threshold;
* several datasets (apps, the workflow node): each searched with its own settings, the union reranked
  or weighted with the app's settings, cut to ``top_k`` and the threshold;
* results map to enabled, completed segments of enabled, unarchived documents; in parent-child mode
  child hits fold into their parent, which takes the best child score.
"""

from __future__ import annotations

from knowledge.retrieval.metadata import (
    OPERATORS,
    _as_number,
    documents_matching,
    filter_q,
)
from knowledge.retrieval.records import (
    build_records,
    hit_testing_record,
    retriever_resource,
    segment_out,
    workflow_source,
)
from knowledge.retrieval.scoring import (
    _WORD,
    _cut,
    _keywords,
    _node_texts,
    _query_vector,
    _rerank,
    _weighted,
    keyword_scores,
    search_dataset,
)
from knowledge.retrieval.service import (
    MultiRequest,
    _available_datasets,
    _count_hits,
    _record_queries,
    _route_single,
    hit_test,
    retrieve,
)
from knowledge.retrieval.settings import (
    FULL_TEXT,
    HYBRID,
    KEYWORD,
    SEMANTIC,
    Record,
    Scored,
    Settings,
)

__all__ = [
    "FULL_TEXT",
    "HYBRID",
    "KEYWORD",
    "OPERATORS",
    "SEMANTIC",
    "_WORD",
    "MultiRequest",
    "Record",
    "Scored",
    "Settings",
    "_as_number",
    "_available_datasets",
    "_count_hits",
    "_cut",
    "_keywords",
    "_node_texts",
    "_query_vector",
    "_record_queries",
    "_rerank",
    "_route_single",
    "_weighted",
    "build_records",
    "documents_matching",
    "filter_q",
    "hit_test",
    "hit_testing_record",
    "keyword_scores",
    "retrieve",
    "retriever_resource",
    "search_dataset",
    "segment_out",
    "workflow_source",
]
