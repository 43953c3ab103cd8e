"""Embeddings, model lists, rerank, audio and moderation answers of the fake server."""

from __future__ import annotations

import base64
import struct
import uuid
from collections.abc import Mapping
from typing import Any

from tests.support.fake_audio import (
    AUDIO_CONTENT_TYPES,
    audio_seconds,
    fake_audio,
    moderation_inputs,
    moderation_result,
    split_bytes,
    transcribe,
)
from tests.support.fake_llm.script import (
    Reply,
    count_words,
    fake_vector,
    overlap_score,
)


class ExtrasWire:
    """Methods of `_Exchange` for the non-chat endpoints."""

    # -- embeddings, models, rerank

    async def embeddings(self, request: Mapping[str, Any], reply: Reply | None) -> None:
        inputs = request.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        inputs = list(inputs or [])
        dimensions = int(request.get("dimensions") or self.server.embedding_dimensions)
        vectors = (
            [list(v) for v in reply.embeddings]
            if reply and reply.embeddings
            else [fake_vector(str(t), dimensions) for t in inputs]
        )
        tokens = sum(count_words(t) for t in inputs)
        if reply is not None and isinstance(reply.usage, tuple):
            tokens = reply.usage[0]
        if self.protocol == "ollama":
            body: Any = {"model": request.get("model"), "embeddings": vectors, "prompt_eval_count": tokens}
        else:
            packed = request.get("encoding_format") == "base64"  # little-endian float32, as OpenAI sends
            body = {
                "object": "list",
                "model": request.get("model"),
                "data": [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()
                        if packed
                        else v,
                    }
                    for i, v in enumerate(vectors)
                ],
            }
            if reply is None or reply.usage is not False:
                body["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        await self.whole(200, body, extra=reply.headers if reply else None)

    async def list_models(self) -> None:
        if self.protocol == "ollama":
            body: Any = {
                "models": [{"name": m, "model": m, "size": 1, "details": {}} for m in self.server.models]
            }
        elif self.protocol == "anthropic":
            data = [
                {"id": m, "type": "model", "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
                for m in self.server.models
            ]
            body = {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        else:
            body = {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.server.models
                ],
            }
        await self.whole(200, body)

    async def rerank(self, request: Mapping[str, Any], reply: Reply | None) -> None:
        query = str(request.get("query", ""))
        documents = [
            d if isinstance(d, str) else str(d.get("text", "")) for d in request.get("documents") or []
        ]
        if reply is not None and reply.rerank is not None:
            scored = list(reply.rerank)
        else:
            scored = sorted(
                ((i, overlap_score(query, d)) for i, d in enumerate(documents)),
                key=lambda p: p[1],
                reverse=True,
            )
        top_n = request.get("top_n") or len(scored)
        results = [
            {
                "index": i,
                "relevance_score": s,
                "document": {"text": documents[i] if i < len(documents) else ""},
            }
            for i, s in scored[: int(top_n)]
        ]
        await self.whole(
            200,
            {
                "model": request.get("model"),
                "results": results,
                "usage": {"total_tokens": count_words(query) + count_words(documents)},
            },
        )

    # -- audio and moderation (OpenAI's shapes; see tests.support.fake_audio)

    async def transcription(self, reply: Reply | None) -> None:
        if not self.record.is_multipart:
            await self.error_answer(Reply.error(400, "The request must be multipart/form-data."))
            return
        form, files = self.record.form, self.record.files
        upload = files.get("file")
        if upload is None or not form.get("model"):
            await self.error_answer(Reply.error(400, "Both 'file' and 'model' are required."))
            return
        text = reply.text if reply is not None and reply.text else transcribe(upload)
        response_format = form.get("response_format") or "json"
        if response_format in ("text", "srt", "vtt"):
            await self.whole(200, text, "text/plain; charset=utf-8", reply.headers if reply else None)
            return
        body: dict[str, Any] = {"text": text}
        if response_format == "verbose_json":
            body.update(language=form.get("language") or "english", duration=audio_seconds(upload.data))
        if reply is None or reply.usage is not False:
            body["usage"] = {"type": "duration", "seconds": audio_seconds(upload.data)}
        await self.whole(200, body, extra=reply.headers if reply else None)

    async def speech(self, request: Mapping[str, Any], reply: Reply) -> None:
        text = request.get("input")
        voice = request.get("voice")
        audio_format = request.get("response_format") or "mp3"
        problem = None
        if not isinstance(text, str) or not text:
            problem = "'input' is required."
        elif len(text) > self.server.speech_input_limit:
            problem = f"'input' is too long: at most {self.server.speech_input_limit} characters."
        elif not voice:
            problem = "'voice' is required."
        elif audio_format not in AUDIO_CONTENT_TYPES:
            problem = f"'response_format' must be one of {', '.join(AUDIO_CONTENT_TYPES)}."
        if problem:
            await self.error_answer(Reply.error(400, problem))
            return
        audio = reply.audio if reply.audio is not None else fake_audio(text, str(voice), audio_format)
        await self.start(200, AUDIO_CONTENT_TYPES[audio_format], reply.headers)
        for piece in split_bytes(audio, reply.chunks):
            await self.piece(piece, reply)
        await self.end()

    async def moderation(self, request: Mapping[str, Any], reply: Reply | None) -> None:
        inputs = moderation_inputs(request.get("input"))
        words = self.server.moderation_words
        await self.whole(
            200,
            {
                "id": f"modr-{uuid.uuid4().hex[:12]}",
                "model": request.get("model") or "omni-moderation-latest",
                "results": [moderation_result(text, words) for text in inputs],
            },
            extra=reply.headers if reply else None,
        )
