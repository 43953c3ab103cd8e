"""Jinja2 rendering in a sandbox, compiled once per distinct template source.

Dify renders template-transform nodes and Jinja2 prompts with plain `jinja2.Template(...)` inside
its code sandbox; we use Jinja2's `SandboxedEnvironment` in-process instead (no unsafe attribute
access, no imports). Defaults are kept identical to `jinja2.Template` so output matches byte for
byte, including the dropped trailing newline.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from .errors import ConfigError

_ENVIRONMENT = SandboxedEnvironment()


class CompiledJinja:
    __slots__ = ("_template", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self._template = _ENVIRONMENT.from_string(source)
        except TemplateError as error:
            raise ConfigError(f"invalid Jinja2 template: {error}") from error

    def render(self, variables: dict[str, Any]) -> str:
        """Render; raises `jinja2.TemplateError` (or a sandbox SecurityError) on failure."""
        return self._template.render(**variables)


@lru_cache(maxsize=2048)
def compile_jinja(source: str) -> CompiledJinja:
    """Compile once; graphs that share a template source share the compiled code."""
    return CompiledJinja(source)
