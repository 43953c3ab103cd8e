"""Q&A segmentation (Dify's ``doc_form`` ``qa_model``): a model writes question-answer pairs per chunk.

Each chunk the splitter made goes to the workspace's default LLM with a prompt asking for pairs in the
document's language, answered as ``Q1: ...`` / ``A1: ...`` lines (Dify's format); every pair becomes a
segment whose ``content`` is the question and ``answer`` the answer. The question is what gets embedded
and searched (as in Dify); answers come back with the segment. A chunk the model answers with no pair
yields no segment (a document with none at all fails); a model failure fails the document with the model's error (retryable).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from knowledge import exceptions as errors

QA_PROMPT = (
    "The user will send a long text. Generate question-answer pairs from it: the questions a reader "
    "would ask, each answered fully from the text alone. Write them in {language}. Answer only with "
    "the pairs, in this format:\nQ1: <question>\nA1: <answer>\nQ2: <question>\nA2: <answer>\n..."
)
_PAIR = re.compile(r"Q\d+:\s*(.*?)\s*A\d+:\s*([\s\S]*?)(?=\s*Q\d+:|\Z)")
PARAMETERS = {"temperature": 0.01, "max_tokens": 2000}


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``Q1: ... A1: ...`` pairs of a model's answer, stripped; pairs with an empty side are dropped."""
    pairs = []
    for question, answer in _PAIR.findall(text or ""):
        question, answer = question.strip(), answer.strip()
        if question and answer:
            pairs.append((question, answer))
    return pairs


async def generate_pairs(*, tenant_id: str, text: str, language: str) -> list[tuple[str, str]]:
    """The pairs the workspace's default LLM writes for one chunk."""
    from providers.services.invocation import default_model, llm_invoke

    model = await default_model(tenant_id=tenant_id, model_type="llm")
    if model is None:
        raise errors.InvalidParam(
            "Q&A segmentation needs a default text-generation model in the workspace.", params="doc_form"
        )
    result = await llm_invoke(
        tenant_id=tenant_id,
        provider=model[0],
        model=model[1],
        messages=[
            {"role": "system", "content": QA_PROMPT.format(language=language or "English")},
            {"role": "user", "content": text},
        ],
        parameters=dict(PARAMETERS),
        source={"feature": "knowledge_qa"},
    )
    return parse_pairs(getattr(result, "text", "") or "")


def qa_chunks(*, tenant_id: str, texts: Sequence[str], language: str) -> list[tuple[str, str]]:
    """Every chunk's pairs, in order (sync: the indexing pipeline runs in a worker thread)."""
    from knowledge.services.embeddings import run_async

    pairs: list[tuple[str, str]] = []
    for text in texts:
        pairs.extend(run_async(generate_pairs, tenant_id=tenant_id, text=text, language=language))
    if texts and not pairs:  # an empty document would look indexed and answer nothing
        raise ValueError("The model wrote no question-answer pairs (expected lines 'Q1: ...' and 'A1: ...').")
    return pairs


def as_chunks(pairs: Sequence[tuple[str, str]]) -> list[Any]:
    from knowledge import split

    return [split.Chunk(content=question) for question, _ in pairs]
