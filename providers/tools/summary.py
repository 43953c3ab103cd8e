"""Summarising long tool output with the workspace's default LLM (Dify's `BuiltinTool.summary`).

Text that fits comfortably in the model's context (under 60%) is returned unchanged, as in Dify; longer
text is cut into pieces of at most half the context, each piece summarised, and the joined summaries are
summarised again until they fit. Calls are metered like any model call (source `tool`).
"""

from __future__ import annotations

from typing import Any

from providers.runtime.tokens import count_text_tokens
from providers.tools.exceptions import ToolInvokeError

DEFAULT_CONTEXT_TOKENS = 4096
MAX_ROUNDS = 4
SUMMARY_PROMPT = """You are a professional language researcher, you are interested in the language
and you can quickly aimed at the main point of an webpage and reproduce it in your own words but
retain the original meaning and keep the key points.
however, the text you got is too long, what you got is possible a part of the text.
Please summarize the text you got.
"""


def _context_tokens(provider: str, model: str) -> int:
    from providers.services.runtime import model_runtime

    try:
        size = model_runtime().model_schema(provider, "llm", model).context_size
    except Exception:  # a customizable model has no catalogue entry: assume a small context
        return DEFAULT_CONTEXT_TOKENS
    return size or DEFAULT_CONTEXT_TOKENS


def _pieces(content: str, budget: int) -> list[str]:
    """Lines grouped into pieces of at most `budget` tokens; a longer line is cut by characters."""
    pieces: list[str] = []
    current = ""
    for line in content.split("\n"):
        if not line.strip():
            continue
        while count_text_tokens(line) > budget:
            # Cutting at `budget` characters always fits: a token is at least one character.
            pieces.append(line[:budget])
            line = line[budget:]
        candidate = f"{current}\n{line}" if current else line
        if current and count_text_tokens(candidate) > budget:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


async def summarize(*, tenant_id: str | None, user: str | None, content: str) -> str:
    from providers.services.invocation import default_model, llm_invoke

    if not tenant_id:
        raise ToolInvokeError("Summaries need a workspace model, and this call has no workspace.")
    chosen = await default_model(tenant_id=tenant_id, model_type="llm")
    if chosen is None:
        raise ToolInvokeError("No default LLM is configured in this workspace to generate the summary.")
    provider, model = chosen
    context = _context_tokens(provider, model)
    if count_text_tokens(content) < context * 0.6:
        return content
    source: dict[str, Any] = {"source": "tool"}
    for _round in range(MAX_ROUNDS):
        summaries = []
        for piece in _pieces(content, int(context * 0.5)):
            answer = await llm_invoke(
                tenant_id=tenant_id,
                provider=provider,
                model=model,
                messages=[
                    {"role": "system", "content": SUMMARY_PROMPT},
                    {"role": "user", "content": piece},
                ],
                parameters={},
                user=user,
                source=source,
            )
            summaries.append(answer.text)
        content = "\n".join(summaries)
        if count_text_tokens(content) <= context * 0.7:
            break
    return content
