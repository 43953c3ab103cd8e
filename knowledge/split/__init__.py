"""Cleaning and splitting text into chunks, with Dify's rules (``core/rag/cleaner``, ``core/rag/splitter``).

Lengths are counted in characters, as current Dify does (its `max_tokens` is a character budget despite
the name). Two splitters:

* automatic (`RecursiveSplitter`, 500/50): split on the first separator of
  ``["\\n\\n", "。", ". ", " ", ""]`` found in the text, recurse into pieces still too long, then merge
  neighbours back up to the budget with an overlap;
* custom (`FixedSeparatorSplitter`): split on the user's separator first (``\\n`` written as two characters
  is a newline), and only pieces over the budget go through the recursive splitter.

Then, as Dify's paragraph processor: empty chunks are dropped and a leading ``.``/``。`` is stripped.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

AUTOMATIC_RULES: dict[str, Any] = {
    "pre_processing_rules": [
        {"id": "remove_extra_spaces", "enabled": True},
        {"id": "remove_urls_emails", "enabled": False},
    ],
    "segmentation": {"delimiter": "\n", "max_tokens": 500, "chunk_overlap": 50},
}
RECURSIVE_SEPARATORS = ["\n\n", "。", ". ", " ", ""]
MAX_SEGMENTATION_LENGTH = 4000  # INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH
MIN_SEGMENTATION_LENGTH = 50

_INVALID_SYMBOLS = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\xEF\xBF\xBE]")
_EXTRA_SPACES = re.compile(r"[\t\f\r\x20\u00a0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000]{2,}")
_EMAIL = re.compile(r"([a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+)")
_MARKDOWN_IMAGE = re.compile(r"!\[.*?\]\((https?://[^\s)]+)\)")
_URL = re.compile(r"https?://[^\s)]+")


def clean_text(text: str, rules: dict[str, Any] | None) -> str:
    """Dify's CleanProcessor: always drop `<|`/`|>` markers, control characters and U+FFFE; then the
    enabled pre-processing rules (`remove_extra_spaces`, `remove_urls_emails`, which keeps the targets of
    markdown images)."""
    text = text.replace("<|", "<").replace("|>", ">")
    text = _INVALID_SYMBOLS.sub("", text).replace("\ufffe", "")
    for rule in (rules or {}).get("pre_processing_rules") or []:
        if not isinstance(rule, dict) or rule.get("enabled") is not True:
            continue
        if rule.get("id") == "remove_extra_spaces":
            text = re.sub(r"\n{3,}", "\n\n", text)
            text = _EXTRA_SPACES.sub(" ", text)
        elif rule.get("id") == "remove_urls_emails":
            text = _EMAIL.sub("", text)
            kept: list[str] = []

            def hold(match: re.Match[str], kept: list[str] = kept) -> str:
                kept.append(match.group(1))
                return f"![image](\x00{len(kept) - 1}\x00)"

            text = _MARKDOWN_IMAGE.sub(hold, text)
            text = _URL.sub("", text)
            for index, url in enumerate(kept):
                text = text.replace(f"\x00{index}\x00", url)
    return text


class RecursiveSplitter:
    """Recursive character splitter with merge and overlap (lengths in characters)."""

    def __init__(
        self, *, chunk_size: int, chunk_overlap: int, separators: Sequence[str] = RECURSIVE_SEPARATORS
    ) -> None:
        if chunk_overlap > chunk_size:
            raise ValueError(
                f"Got a larger chunk overlap ({chunk_overlap}) than chunk size ({chunk_size}), should be smaller."
            )
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.separators = list(separators)

    def split_text(self, text: str) -> list[str]:
        return self._split(text, self.separators)

    @staticmethod
    def _pieces(text: str, separator: str) -> list[str]:
        """Split keeping each separator at the end of the piece before it; drop empty and bare newlines."""
        if not separator:
            pieces = list(text)
        else:
            parts = text.split(separator)
            pieces = [part + separator for part in parts[:-1]] + parts[-1:]
        return [p for p in pieces if p not in ("", "\n")]

    def _split(self, text: str, separators: Sequence[str]) -> list[str]:
        separator, rest = separators[-1], []
        for index, candidate in enumerate(separators):
            if candidate == "":
                separator = ""
                break
            if candidate in text:
                separator, rest = candidate, list(separators[index + 1 :])
                break
        chunks: list[str] = []
        good: list[str] = []
        for piece in self._pieces(text, separator):
            if len(piece) < self.chunk_size:
                good.append(piece)
                continue
            if good:
                chunks.extend(self.merge(good, ""))
                good = []
            chunks.extend(self._split(piece, rest) if rest else [piece])
        if good:
            chunks.extend(self.merge(good, ""))
        return chunks

    def merge(self, pieces: Sequence[str], separator: str) -> list[str]:
        """Greedily join pieces up to the budget; each new chunk starts with the tail of the previous one,
        at most `chunk_overlap` long."""
        sep_len = len(separator)
        chunks: list[str] = []
        current: list[str] = []
        total = 0
        for piece in pieces:
            length = len(piece)
            if current and total + length + sep_len > self.chunk_size:
                joined = separator.join(current).strip()
                if joined:
                    chunks.append(joined)
                while current and (total > self.chunk_overlap or total + length + sep_len > self.chunk_size):
                    total -= len(current[0]) + (sep_len if len(current) > 1 else 0)
                    current = current[1:]
            current.append(piece)
            total += length + (sep_len if len(current) > 1 else 0)
        joined = separator.join(current).strip()
        if joined:
            chunks.append(joined)
        return chunks


class FixedSeparatorSplitter(RecursiveSplitter):
    """Custom mode: the user's separator first; pieces over the budget are split recursively."""

    def __init__(self, *, separator: str, chunk_size: int, chunk_overlap: int) -> None:
        super().__init__(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        # "\n" typed in a form arrives as backslash + n: it means a newline.
        self.separator = codecs.decode(separator, "unicode_escape") if separator else ""

    def split_text(self, text: str) -> list[str]:
        pieces = text.split(self.separator) if self.separator else [text]
        chunks: list[str] = []
        for piece in pieces:
            if len(piece) > self.chunk_size:
                chunks.extend(self._recursive_fixed(piece))
            else:
                chunks.append(piece)
        return chunks

    def _recursive_fixed(self, text: str) -> list[str]:
        separators = self.separators
        separator, rest = separators[-1], []
        for index, candidate in enumerate(separators):
            if candidate == "":
                separator = ""
                break
            if candidate in text:
                separator, rest = candidate, list(separators[index + 1 :])
                break
        if separator == " ":
            pieces = re.split(r" +", text)
        elif separator:
            parts = text.split(separator)
            pieces = [part + separator for part in parts[:-1]] + parts[-1:]
        else:
            pieces = list(text)
        pieces = (
            [p for p in pieces if p != ""]
            if separator == "\n"
            else [p for p in pieces if p not in ("", "\n")]
        )
        if separator == "":
            # Characters: fill up to the budget, carrying the last `overlap` worth into the next chunk.
            chunks, current, overlap = [], "", ""
            for char in pieces:
                if len(current) + 1 <= self.chunk_size - self.chunk_overlap:
                    current += char
                elif len(current) + 1 <= self.chunk_size:
                    current += char
                    overlap += char
                else:
                    chunks.append(current)
                    current, overlap = overlap + char, ""
            if current:
                chunks.append(current)
            return chunks
        join_with = "" if separator != " " else " "
        chunks: list[str] = []
        good: list[str] = []
        for piece in pieces:
            if len(piece) < self.chunk_size:
                good.append(piece)
                continue
            if good:
                chunks.extend(self.merge(good, join_with))
                good = []
            if rest:
                chunks.extend(RecursiveSplitter._split(self, piece, rest))
            else:
                chunks.append(piece)
        if good:
            chunks.extend(self.merge(good, join_with))
        return chunks


def text_hash(text: str) -> str:
    """Dify's `generate_text_hash`: SHA-256 of the text followed by "None"."""
    return hashlib.sha256(f"{text}None".encode()).hexdigest()


def _finish(chunks: Sequence[str]) -> list[str]:
    finished = []
    for chunk in chunks:
        chunk = chunk.strip()
        if chunk.startswith((".", "。")):
            chunk = chunk[1:].strip()
        if chunk:
            finished.append(chunk)
    return finished


def validate_segmentation(
    segmentation: dict[str, Any], *, what: str = "segmentation"
) -> tuple[str, int, int]:
    """(separator, max_tokens, chunk_overlap) of a custom rule; ValueError with Dify's message if invalid."""
    if not isinstance(segmentation, dict):
        raise ValueError(f"Process rule {what} is required")
    separator = segmentation.get("separator", "\n")
    if not isinstance(separator, str):
        raise ValueError(f"Process rule {what} separator is invalid")
    max_tokens = segmentation.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise ValueError(f"Process rule {what} max_tokens is invalid")
    if max_tokens < MIN_SEGMENTATION_LENGTH or max_tokens > MAX_SEGMENTATION_LENGTH:
        raise ValueError(
            f"Custom segment length should be between {MIN_SEGMENTATION_LENGTH} and {MAX_SEGMENTATION_LENGTH}."
        )
    overlap = segmentation.get("chunk_overlap") or 0
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise ValueError(f"Process rule {what} chunk_overlap is invalid")
    if overlap > max_tokens:
        raise ValueError(
            f"Got a larger chunk overlap ({overlap}) than chunk size ({max_tokens}), should be smaller."
        )
    return separator, max_tokens, overlap


def splitter_for(mode: str, rules: dict[str, Any] | None) -> RecursiveSplitter:
    if mode in ("custom", "hierarchical"):
        separator, max_tokens, overlap = validate_segmentation((rules or {}).get("segmentation") or {})
        return FixedSeparatorSplitter(separator=separator, chunk_size=max_tokens, chunk_overlap=overlap)
    segmentation = AUTOMATIC_RULES["segmentation"]
    return RecursiveSplitter(
        chunk_size=segmentation["max_tokens"], chunk_overlap=segmentation["chunk_overlap"]
    )


@dataclass
class Chunk:
    """A segment to be: its text, and in parent-child mode its children's texts."""

    content: str
    children: list[str] = field(default_factory=list)


def split_pages(
    pages: Sequence[str], *, mode: str, rules: dict[str, Any] | None, doc_form: str
) -> list[Chunk]:
    """Clean and split extracted pages (a file's pages or rows, each split on its own, as Dify does)."""
    effective_rules = AUTOMATIC_RULES if mode == "automatic" else (rules or {})
    cleaned = [clean_text(page, effective_rules) for page in pages]
    if doc_form == "hierarchical_model":
        return _parent_child(cleaned, effective_rules)
    splitter = splitter_for(mode, effective_rules)
    chunks: list[Chunk] = []
    for page in cleaned:
        chunks.extend(Chunk(content=text) for text in _finish(splitter.split_text(page)))
    return chunks


def _parent_child(pages: Sequence[str], rules: dict[str, Any]) -> list[Chunk]:
    sub = rules.get("subchunk_segmentation")
    if not isinstance(sub, dict):
        raise ValueError("Process rule subchunk_segmentation is required")
    c_sep, c_max, c_overlap = validate_segmentation(sub, what="subchunk_segmentation")
    child_splitter = FixedSeparatorSplitter(separator=c_sep, chunk_size=c_max, chunk_overlap=c_overlap)
    if rules.get("parent_mode", "paragraph") == "full-doc":
        parents = ["\n".join(pages).strip()]
    else:
        separator, max_tokens, overlap = validate_segmentation(rules.get("segmentation") or {})
        parent_splitter = FixedSeparatorSplitter(
            separator=separator, chunk_size=max_tokens, chunk_overlap=overlap
        )
        parents = [text for page in pages for text in _finish(parent_splitter.split_text(page))]
    chunks = []
    for parent in parents:
        if not parent:
            continue
        children = _finish(child_splitter.split_text(parent))
        chunks.append(Chunk(content=parent, children=children or [parent]))
    return chunks
