"""The builtin tool providers, in process: `time`, `json_process`, `webscraper`, `maths`, `tavily` (which
needs the workspace's API key: see `providers.tools.builtin_credentials`).

A provider id resolves from Dify's three spellings: `time`, `langgenius/time` (a plugin id) and
`langgenius/time/time` (a plugin's provider id). Other organisations' plugins are not ours to answer for.
"""

from __future__ import annotations

from providers.tools.builtin import json_process, maths, tavily, time_tools, webscraper
from providers.tools.builtin.base import BuiltinProvider, BuiltinTool, ToolContext

BUILTIN_PROVIDERS: dict[str, BuiltinProvider] = {
    provider.name: provider
    for provider in (
        time_tools.PROVIDER,
        json_process.PROVIDER,
        webscraper.PROVIDER,
        maths.PROVIDER,
        tavily.PROVIDER,
    )
}
ORGANISATION = "langgenius"


def builtin_provider_name(provider_id: str) -> str | None:
    """The short name for any of the id's spellings, or None if it is not one of ours."""
    parts = [part for part in str(provider_id or "").strip().split("/") if part]
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) in (2, 3) and parts[0] == ORGANISATION:
        name = parts[-1]
    else:
        return None
    return name if name in BUILTIN_PROVIDERS else None


def builtin_provider(provider_id: str) -> BuiltinProvider | None:
    name = builtin_provider_name(provider_id)
    return BUILTIN_PROVIDERS[name] if name else None


__all__ = [
    "BUILTIN_PROVIDERS",
    "BuiltinProvider",
    "BuiltinTool",
    "ToolContext",
    "builtin_provider",
    "builtin_provider_name",
]
