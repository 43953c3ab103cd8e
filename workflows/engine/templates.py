"""`{{#node_id.var#}}` references: parsing once, rendering many times.

Dify's grammar: the first part is `[A-Za-z0-9_]{1,50}`, each further part
`[A-Za-z_][A-Za-z0-9_]{0,29}`, 2 to 11 parts. Anything else (including `{{#context#}}`) is text.
An unresolved reference renders as its bare dotted path (`producer.output`), not as "".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .values import to_markdown, to_text

if TYPE_CHECKING:
    from .pool import VariablePool

REFERENCE = re.compile(r"\{\{#([a-zA-Z0-9_]{1,50}(?:\.[a-zA-Z_][a-zA-Z0-9_]{0,29}){1,10})#\}\}")

Selector = tuple[str, ...]


class VariableTemplate:
    """A template split into text and selector parts. Immutable; share it freely."""

    __slots__ = ("parts", "selectors", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        parts: list[str | Selector] = []
        pieces = REFERENCE.split(source)
        for index, piece in enumerate(pieces):
            if index % 2 == 1:
                parts.append(tuple(piece.split(".")))
            elif piece:
                parts.append(piece)
        self.parts: tuple[str | Selector, ...] = tuple(parts)
        self.selectors: tuple[Selector, ...] = tuple(part for part in parts if isinstance(part, tuple))

    @property
    def is_static(self) -> bool:
        return not self.selectors

    def _render(self, pool: VariablePool, convert: Any) -> str:
        if not self.selectors:
            return self.source
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            found, value = pool.lookup(part)
            out.append(convert(value, pool.declared_type(part)) if found else ".".join(part))
        return "".join(out)

    def render_text(self, pool: VariablePool) -> str:
        """Render with Dify's `.text` rules (HTTP, conditions, prompts)."""
        return self._render(pool, to_text)

    def render_markdown(self, pool: VariablePool) -> str:
        """Render with Dify's `.markdown` rules (Answer nodes)."""
        return self._render(pool, to_markdown)

    def values(self, pool: VariablePool) -> Iterator[Any]:
        """Yield the resolved values of referenced variables (for Answer `files`)."""
        for selector in self.selectors:
            found, value = pool.lookup(selector)
            if found:
                yield value

    def __repr__(self) -> str:
        return f"VariableTemplate({self.source!r})"


@lru_cache(maxsize=4096)
def compile_template(source: str) -> VariableTemplate:
    """Parse a template once; identical sources share one compiled object."""
    return VariableTemplate(source)
