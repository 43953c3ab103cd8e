"""Answers that skip the model: annotation replies and keyword moderation (Dify's app features).

* Annotation reply: when the app's annotation reply is on, the query is embedded with the configured
  model and compared with the annotations' questions; the best one at or above the score threshold is the
  answer. Question vectors are cached by model and content hash, so each is embedded once.
* Keyword moderation (``sensitive_word_avoidance`` of type ``keywords``): an input containing a listed
  word is answered with the preset response; an output containing one is replaced by it.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import F

from apps.models import App, AppAnnotationHitHistory, AppAnnotationSetting, MessageAnnotation
from dify_project.db import db_sync_to_async

logger = logging.getLogger(__name__)

MAX_ANNOTATIONS = 5000
VECTOR_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class AnnotationHit:
    annotation_id: str
    question: str
    content: str
    score: float
    account_id: str | None


def _vector_key(provider: str, model: str, text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"annotation_vector:{provider}:{model}:{digest}"


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


AnnotationCandidates = tuple[AppAnnotationSetting | None, list[tuple[str, str, str, str | None]]]


def annotation_candidates(app: App) -> AnnotationCandidates:
    """The app's reply setting and its annotated questions (sync: read with the rest of a run's set-up).

    The setting comes with the app when the app cache loaded it (no query while reply is off)."""
    try:
        setting = app.annotation_setting
    except AppAnnotationSetting.DoesNotExist:
        return None, []
    if not setting.enabled or not setting.embedding_model_name:
        return None, []
    rows = list(
        MessageAnnotation.objects.filter(app_id=app.id)
        .exclude(question="")
        .values_list("id", "question", "content", "account_id")[:MAX_ANNOTATIONS]
    )
    return setting, [(str(i), q, c, str(a) if a else None) for i, q, c, a in rows]


async def _vectors(
    *, tenant_id: str, provider: str, model: str, texts: list[str], input_type: str, app_id: str
) -> list[list[float]]:
    from providers.services.invocation import embed

    keys = [_vector_key(provider, model, text) for text in texts]
    cached = await db_sync_to_async(cache.get_many)(keys)
    missing = [i for i, key in enumerate(keys) if key not in cached]
    if missing:
        result = await embed(
            tenant_id=tenant_id,
            provider=provider,
            model=model,
            texts=[texts[i] for i in missing],
            input_type=input_type,
            source={"app_id": app_id, "purpose": "annotation_reply"},
        )
        fresh = {keys[i]: list(vector) for i, vector in zip(missing, result.embeddings, strict=True)}
        if input_type == "document":
            await db_sync_to_async(cache.set_many)(fresh, VECTOR_TTL)
        cached.update(fresh)
    return [cached[key] for key in keys]


async def annotation_match(
    *, app: App, query: str, prefetched: AnnotationCandidates | None = None
) -> AnnotationHit | None:
    """The annotation answering ``query``, or None (reply off, nothing close enough, or embedding failed).
    ``prefetched`` is ``annotation_candidates``'s answer when the caller already read it."""
    if prefetched is None:
        prefetched = await db_sync_to_async(annotation_candidates)(app)
    setting, candidates = prefetched
    if setting is None or not candidates or not query.strip():
        return None
    provider, model = setting.embedding_provider_name, setting.embedding_model_name
    try:
        questions = await _vectors(
            tenant_id=str(app.tenant_id),
            provider=provider,
            model=model,
            texts=[c[1] for c in candidates],
            input_type="document",
            app_id=str(app.id),
        )
        (query_vector,) = await _vectors(
            tenant_id=str(app.tenant_id),
            provider=provider,
            model=model,
            texts=[query],
            input_type="query",
            app_id=str(app.id),
        )
    except Exception as exc:  # a broken embedding model must not break the chat: answer with the model
        logger.warning("annotation reply skipped for app %s: %s", app.id, exc)
        return None
    score, best = max(
        ((_cosine(query_vector, vector), c) for vector, c in zip(questions, candidates, strict=True)),
        key=lambda pair: pair[0],
    )
    if score < setting.score_threshold:
        return None
    return AnnotationHit(
        annotation_id=best[0], question=best[1], content=best[2], score=score, account_id=best[3]
    )


def record_annotation_hit(
    *, app: App, hit: AnnotationHit, query: str, message_id: str, account_id: str | None
) -> None:
    MessageAnnotation.objects.filter(id=hit.annotation_id).update(hit_count=F("hit_count") + 1)
    AppAnnotationHitHistory.objects.create(
        tenant_id=app.tenant_id,
        app=app,
        annotation_id=hit.annotation_id,
        source="api",
        question=query,
        account_id=account_id,
        score=hit.score,
        message_id=message_id,
        annotation_question=hit.question,
        annotation_content=hit.content,
    )


# --- moderation (sensitive_word_avoidance) -------------------------------------------------------------


@dataclass(frozen=True)
class Moderation:
    """Dify's ``sensitive_word_avoidance``: ``keywords`` (case-insensitive substrings) or
    ``openai_moderation`` (the workspace's OpenAI moderation model). A flagged input is answered with the
    inputs preset; a flagged output is replaced by the outputs preset."""

    type: str
    keywords: tuple[str, ...]
    inputs_response: str | None
    outputs_response: str | None
    tenant_id: str = ""

    @classmethod
    def from_config(cls, config: dict[str, Any], *, tenant_id: str = "") -> Moderation | None:
        feature = config.get("sensitive_word_avoidance") or {}
        kind = feature.get("type")
        if not feature.get("enabled") or kind not in ("keywords", "openai_moderation"):
            return None
        settings = feature.get("config") or {}
        keywords = tuple(
            k.strip().lower() for k in str(settings.get("keywords") or "").splitlines() if k.strip()
        )
        if kind == "keywords" and not keywords:
            return None
        inputs = settings.get("inputs_config") or {}
        outputs = settings.get("outputs_config") or {}
        return cls(
            type=kind,
            keywords=keywords,
            inputs_response=(inputs.get("preset_response") or "") if inputs.get("enabled") else None,
            outputs_response=(outputs.get("preset_response") or "") if outputs.get("enabled") else None,
            tenant_id=tenant_id,
        )

    async def flags(self, text: str) -> bool:
        if not text:
            return False
        if self.type == "keywords":
            lowered = text.lower()
            return any(keyword in lowered for keyword in self.keywords)
        from providers.services.invocation import moderate

        try:
            result = await moderate(
                tenant_id=self.tenant_id,
                provider="openai",
                model=OPENAI_MODERATION_MODEL,
                text=text[:10_000],
                source={"purpose": "moderation"},
            )
        except Exception as exc:  # moderation that cannot run lets the text through, loudly
            logger.warning("openai moderation unavailable: %s", exc)
            return False
        return bool(result)

    async def check_inputs(self, query: str, inputs: dict[str, Any]) -> str | None:
        """The preset response when the query or an input is flagged, else None."""
        if self.inputs_response is None:
            return None
        texts = [query, *(str(v) for v in inputs.values() if isinstance(v, str | int | float))]
        combined = "\n".join(t for t in texts if t)
        return self.inputs_response if await self.flags(combined) else None

    async def check_output(self, answer: str) -> str | None:
        if self.outputs_response is None:
            return None
        return self.outputs_response if await self.flags(answer) else None


OPENAI_MODERATION_MODEL = "omni-moderation-latest"
