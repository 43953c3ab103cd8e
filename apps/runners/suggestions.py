"""Suggested next questions after an answer (Dify's ``suggested_questions_after_answer`` feature)."""

from __future__ import annotations

import json
import logging
import re

from apps import exceptions as errors
from apps.models import App, AppMode, Message
from dify_project.db import db_sync_to_async

logger = logging.getLogger(__name__)

INSTRUCTION = (
    "From the conversation below, predict the three questions the user is most likely to ask next. "
    "Keep each question short (under 20 words) and write them in the language of the assistant's last answer. "
    'Reply with a JSON array of three strings only, for example ["...", "...", "..."].'
)
_ARRAY = re.compile(r"\[.*\]", re.DOTALL)


def _feature_enabled(app: App) -> bool:
    if app.mode in AppMode.workflow_modes():
        features = app.workflow.features if app.workflow else {}
    else:
        features = app.app_model_config.config if app.app_model_config else {}
    return bool((features.get("suggested_questions_after_answer") or {}).get("enabled"))


def _context(message: Message) -> tuple[str, str | None, str | None]:
    recent = list(
        Message.objects.filter(conversation_id=message.conversation_id, created_at__lte=message.created_at)
        .order_by("-created_at")
        .values_list("query", "answer", "model_provider", "model_id")[:3]
    )
    lines = []
    for query, answer, _, _ in reversed(recent):
        lines.append(f"Human: {query}\nAssistant: {answer}")
    return "\n\n".join(lines), message.model_provider or None, message.model_id or None


def parse_questions(text: str) -> list[str]:
    match = _ARRAY.search(text or "")
    if not match:
        return []
    try:
        items = json.loads(match.group(0))
    except json.JSONDecodeError:
        return []
    return [str(item).strip() for item in items if isinstance(item, str) and item.strip()][:3]


async def suggested_questions(*, app: App, message: Message) -> list[str]:
    """Three questions, or ``[]`` when the model cannot give them (Dify answers 200 with an empty list)."""
    from providers.services.invocation import default_model, llm_invoke

    if not await db_sync_to_async(_feature_enabled)(app):
        raise errors.SuggestedQuestionsDisabled()
    history, provider, model = await db_sync_to_async(_context)(message)
    if not provider or not model:
        chosen = await default_model(tenant_id=str(app.tenant_id), model_type="llm")
        if chosen is None:
            return []
        provider, model = chosen
    try:
        result = await llm_invoke(
            tenant_id=str(app.tenant_id),
            provider=provider,
            model=model,
            messages=[{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": history}],
            parameters={"max_tokens": 256, "temperature": 0},
            source={"purpose": "suggested_questions", "message_id": str(message.id)},
        )
    except Exception as exc:
        logger.info("suggested questions failed: %s", exc)
        return []
    content = result.message.content
    text = content if isinstance(content, str) else result.message.text()
    return parse_questions(text)
