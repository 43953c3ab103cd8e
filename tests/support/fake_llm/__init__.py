"""Fake model-provider servers on loopback: real HTTP (uvicorn), the providers' real wire protocols.

One server speaks all of them, on the paths the real APIs use:

  OpenAI            POST /v1/chat/completions (SSE when stream=true), POST /v1/embeddings, GET /v1/models,
                    POST /v1/audio/transcriptions (multipart), POST /v1/audio/speech (streamed audio bytes),
                    POST /v1/moderations
  Azure OpenAI      POST /openai/deployments/{deployment}/chat/completions|embeddings|audio/...?api-version=
  Anthropic         POST /v1/messages (SSE when stream=true), GET /v1/models (with an anthropic-version header)
  Ollama            POST /api/chat (NDJSON when stream is not false), POST /api/embed, GET /api/tags
  Rerank            POST /rerank, /v1/rerank, /v2/rerank (Jina/Cohere style)

Tests script it: `server.push(Reply(...))` queues answers, taken in order by the next matching requests
(text streamed in N chunks, tool calls streamed as fragments, usage, HTTP errors with the provider's error
body, HTML pages, garbage, delays before headers and between chunks, errors inside a stream, a connection
dropped mid-stream). With nothing queued it answers by default: chat echoes the last user message (or
streams lorem ipsum for a model named `lorem*`, `max_tokens` words long), embeddings are deterministic
vectors, rerank scores by word overlap, transcription echoes an upload that is text (else names its size
and digest), speech streams deterministic fake audio that carries its input text (`fake_audio.spoken()`
reads it back), moderation flags texts containing `server.moderation_words`. Every request is recorded (`server.requests`), including whether
the client hung up before the answer was complete.

As a development tool, with no API key needed:

    python -m tests.support.fake_llm --port 8900
"""

from tests.support.fake_llm.script import (
    _AUDIO_ROUTES,
    _ERROR_TYPES,
    _HIDE_DROPS,
    LOREM,
    FakeToolCall,
    RecordedRequest,
    Reply,
    _ClientGone,
    _Dropped,
    _even_groups,
    _HideDrops,
    _last_user_text,
    _routes,
    count_words,
    fake_vector,
    overlap_score,
    split_even,
    split_text,
)
from tests.support.fake_llm.server import FakeLLMServer, main, running_server

__all__ = [
    "LOREM",
    "_AUDIO_ROUTES",
    "_ERROR_TYPES",
    "_HIDE_DROPS",
    "FakeLLMServer",
    "FakeToolCall",
    "RecordedRequest",
    "Reply",
    "_ClientGone",
    "_Dropped",
    "_HideDrops",
    "_even_groups",
    "_last_user_text",
    "_routes",
    "count_words",
    "fake_vector",
    "main",
    "overlap_score",
    "running_server",
    "split_even",
    "split_text",
]
