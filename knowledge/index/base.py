"""The store interface and vector encoding (see the package docstring); `chooser` picks the implementation."""

from __future__ import annotations

import logging
import math
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is pinned; without it vectors are scored in pure Python
    np = None

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hit:
    node_id: str
    score: float


def vector_to_bytes(vector: Sequence[float]) -> bytes:
    """float32, native byte order (what numpy, sqlite-vec and the stored rows use)."""
    if np is not None:
        return np.asarray(vector, dtype=np.float32).tobytes()
    return array("f", [float(v) for v in vector]).tobytes()


def vector_from_bytes(data: bytes | memoryview) -> list[float]:
    values = array("f")
    values.frombytes(bytes(data))
    return values.tolist()


def normalise(vector: Sequence[float]) -> list[float]:
    """L2-normalised, as Dify stores embeddings (so a dot product is the cosine)."""
    if np is not None:  # the indexing hot path: ~20x the pure-Python loop for 384+ dimensions
        values = np.asarray(vector, dtype=np.float64)
        norm = float(np.sqrt(np.dot(values, values)))
        if not math.isfinite(norm) or norm == 0.0:
            return values.tolist()
        return (values / norm).tolist()
    values = [float(v) for v in vector]
    norm = math.sqrt(math.fsum(v * v for v in values))
    if not math.isfinite(norm) or norm == 0.0:
        return values
    return [v / norm for v in values]


def normalised_blobs(vectors: Sequence[Sequence[float]]) -> list[bytes]:
    """`normalise` then `vector_to_bytes` for a batch of equal-length vectors: one matrix operation
    instead of two conversions per vector (the indexing hot path)."""
    if np is None or not vectors or len({len(v) for v in vectors}) != 1:
        return [vector_to_bytes(normalise(v)) for v in vectors]
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    bad = ~np.isfinite(norms) | (norms == 0.0)  # left as they are, as `normalise` does
    norms[bad] = 1.0
    scaled = (matrix / norms[:, None]).astype(np.float32)
    return [row.tobytes() for row in scaled]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        return 0.0
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norm if norm else 0.0


def best_by_cosine(blobs: Sequence[bytes], query: Sequence[float], top_k: int) -> list[tuple[int, float]]:
    """(index, cosine) of the `top_k` stored float32 vectors closest to `query`, best first. numpy does
    it in one matrix product; without numpy, plain Python (correct, much slower)."""
    if not blobs or top_k <= 0:
        return []
    if np is not None:
        matrix = np.frombuffer(b"".join(bytes(b) for b in blobs), dtype=np.float32).reshape(len(blobs), -1)
        q: Any = np.asarray(query, dtype=np.float32)
        q = q / (float(np.linalg.norm(q)) or 1.0)
        norms = np.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        scores = (matrix @ q) / norms
        count = min(top_k, len(scores))
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best]
    scored = [(i, cosine(vector_from_bytes(blob), query)) for i, blob in enumerate(blobs)]
    scored.sort(key=lambda pair: pair[1], reverse=True)
    return scored[:top_k]


_WORDS = re.compile(r"\w+", re.UNICODE)
# CJK Unified Ideographs (with extension A, compatibility and the supplementary planes): written
# without spaces between words, so a tokenizer that splits on spaces sees a whole clause as one word.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")


def _han_words(run: str) -> list[str]:
    """A run of Chinese characters as words (jieba's search mode: also the shorter words inside long
    ones, for recall). The dictionary loads on first use (about a second, once per process)."""
    import jieba

    if not getattr(_han_words, "quiet", False):
        jieba.setLogLevel(logging.WARNING)  # it announces loading its dictionary at INFO
        _han_words.quiet = True  # type: ignore[attr-defined]
    return [w for w in jieba.cut_for_search(run) if _WORDS.fullmatch(w)]


def search_text(content: str) -> str | None:
    """The text full-text search indexes for `content`, or None when that is the content itself: runs
    of Chinese characters are split into words separated by spaces (what FTS5's unicode61 and
    PostgreSQL's 'simple' parser need to see words); everything else is left as it is."""
    if not _HAN.search(content):
        return None
    return _HAN.sub(lambda m: f" {' '.join(_han_words(m.group()))} ", content)


def query_terms(query: str, limit: int = 32) -> list[str]:
    """The words of a query, deduplicated, lower-cased: full-text search ORs them (a question rarely
    contains every word of the passage that answers it). Chinese is split into words as the index
    splits it; its one-character words (particles such as 的, 是) are dropped when longer ones remain,
    since OR-ing them would match nearly every Chinese passage."""
    seen: dict[str, None] = {}
    han: list[str] = []
    for word in _WORDS.findall(query.lower()):
        for part in re.split(f"({_HAN.pattern})", word):
            if not part:
                continue
            if _HAN.fullmatch(part):
                han.extend(_han_words(part))
            else:
                seen.setdefault(part, None)
    if any(len(w) > 1 for w in han):
        han = [w for w in han if len(w) > 1]
    for word in han:
        seen.setdefault(word, None)
    return list(seen)[:limit]


class SearchStore:
    """What the indexing and retrieval services need from a store.

    Rows are written by the indexing service (``IndexNode`` with its vector); ``nodes_added`` and
    ``nodes_removed`` let an accelerated store mirror them. Searches are scoped to one dataset and
    optionally to some of its documents; they return hits best first.
    """

    name = "base"

    def nodes_added(self, nodes: Sequence) -> None:  # pragma: no cover - interface
        """Mirror freshly inserted IndexNode rows (with their vectors) into the store's own structure."""

    def nodes_removed(
        self, rowids: Sequence[int], *, node_ids: Sequence[str] = ()
    ) -> None:  # pragma: no cover
        """Forget mirrored rows (by ``search_rowid`` in SQLite, by node id elsewhere)."""

    def dataset_removed(self, dataset_id: str) -> None:  # pragma: no cover - interface
        """Forget everything mirrored for a dataset (it is being deleted)."""

    def search_vector(
        self, *, dataset_id: str, vector: Sequence[float], top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        raise NotImplementedError

    def search_full_text(
        self, *, dataset_id: str, query: str, top_k: int, document_ids: Sequence[str] | None
    ) -> list[Hit]:
        raise NotImplementedError
