"""Dify's `tavily` provider: web search through the Tavily API, with the workspace's API key.

The key is the provider's credential (`tavily_api_key`, a secret): saved encrypted through the console's
builtin-credential endpoints, checked there by a real search before it is kept (`validate`). Calls go
through the tools' guarded HTTP client to `TAVILY_API_URL` (default `https://api.tavily.com`), the key as a
bearer token. The answer is the results as Markdown text (title, URL, content, as Dify's tool lays them
out) and Tavily's response as a `json` message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from providers.tools.builtin.base import BuiltinProvider, BuiltinTool, ToolContext, json_message, text_message
from providers.tools.entities import I18n, ParameterOption, ToolParameter, ToolSpec
from providers.tools.exceptions import ToolInvokeError, ToolProviderCredentialValidationError
from providers.tools.http import MB, fetch, setting
from workflows.engine.ports import ToolMessage

API_KEY = "tavily_api_key"
DEFAULT_API_URL = "https://api.tavily.com"
TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=10.0, pool=10.0)


class TavilyRejected(ToolInvokeError):
    """Tavily refused the key (401/403)."""


async def search(api_key: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /search; Tavily's JSON answer. Raises TavilyRejected for a refused key, ToolInvokeError else."""
    if not api_key:
        raise TavilyRejected("Tavily API key is missing")
    base = str(setting("TAVILY_API_URL", DEFAULT_API_URL)).rstrip("/")
    response = await fetch(
        "POST",
        f"{base}/search",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        content=json.dumps(dict(body)),
        timeouts=TIMEOUT,
        max_bytes=int(setting("TAVILY_MAX_BYTES", 5 * MB)),
    )
    if response.status_code in (401, 403):
        raise TavilyRejected(f"Tavily refused the API key ({response.status_code}): {response.text[:200]}")
    if response.status_code >= 400:
        raise ToolInvokeError(f"Tavily answered {response.status_code}: {response.text[:200]}")
    try:
        data = json.loads(response.content)
    except ValueError:
        raise ToolInvokeError("Tavily answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise ToolInvokeError("Tavily answered something that is not a JSON object")
    return data


def results_text(data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if data.get("answer"):
        parts.append(f"# Answer\n\n{data['answer']}\n")
    for result in data.get("results") or []:
        if not isinstance(result, Mapping):
            continue
        parts.append(
            f"# {result.get('title', '')}\n**URL:** {result.get('url', '')}\n\n{result.get('content', '')}\n"
        )
    return "\n".join(parts) if parts else "No results found."


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _select(name: str, label: str, values: tuple[str, ...], default: str) -> ToolParameter:
    return ToolParameter(
        name=name,
        label=I18n(en_US=label),
        type="select",
        form="form",
        default=default,
        options=tuple(ParameterOption(value=v, label=I18n(en_US=v)) for v in values),
    )


def _boolean(name: str, label: str) -> ToolParameter:
    return ToolParameter(name=name, label=I18n(en_US=label), type="boolean", form="form", default=False)


class TavilySearchTool(BuiltinTool):
    spec = ToolSpec(
        name="tavily_search",
        author="Dify",
        label=I18n(en_US="Tavily Search", zh_Hans="Tavily 搜索"),
        description=I18n(
            en_US="A search engine tool built specifically for AI agents (LLMs), delivering real-time, "
            "accurate, and factual results at speed.",
            zh_Hans="专为人工智能代理 (LLM) 构建的搜索引擎工具，可快速提供实时、准确和真实的结果。",  # noqa: RUF001
        ),
        llm_description="A tool for search engine built specifically for AI agents (LLMs), delivering "
        "real-time, accurate, and factual results at speed.",
        parameters=(
            ToolParameter(
                name="query",
                label=I18n(en_US="Query", zh_Hans="查询"),
                required=True,
                human_description=I18n(en_US="The search query you want to execute with Tavily."),
                llm_description="The search query.",
            ),
            _select("search_depth", "Search Depth", ("basic", "advanced"), "basic"),
            _select("topic", "Topic", ("general", "news"), "general"),
            ToolParameter(
                name="max_results",
                label=I18n(en_US="Max Results"),
                type="number",
                form="form",
                default=5,
                min=1,
                max=20,
            ),
            _boolean("include_answer", "Include Answer"),
            _boolean("include_images", "Include Images"),
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        query = str(parameters.get("query") or "").strip()
        if not query:
            yield text_message("Please input query")
            return
        body = {
            "query": query,
            "search_depth": parameters.get("search_depth") or "basic",
            "topic": parameters.get("topic") or "general",
            "max_results": int(parameters.get("max_results") or 5),
            "include_answer": _flag(parameters.get("include_answer")),
            "include_images": _flag(parameters.get("include_images")),
        }
        data = await search(str(ctx.credentials.get(API_KEY) or ""), body)
        yield text_message(results_text(data))
        yield json_message(data)


async def validate(credentials: Mapping[str, Any]) -> None:
    """One real search with the key, as Dify's provider checks it."""
    try:
        await search(str(credentials.get(API_KEY) or ""), {"query": "Sachin Tendulkar", "max_results": 1})
    except ToolInvokeError as exc:
        raise ToolProviderCredentialValidationError(str(exc)) from None


CREDENTIALS_SCHEMA = (
    {
        "name": API_KEY,
        "type": "secret-input",
        "required": True,
        "default": None,
        "options": [],
        "label": I18n(en_US="Tavily API key", zh_Hans="Tavily API key").to_dict(),
        "placeholder": I18n(
            en_US="Please input your Tavily API key", zh_Hans="请输入你的 Tavily API key"
        ).to_dict(),
        "help": I18n(
            en_US="Get your Tavily API key from Tavily", zh_Hans="从 TavilyApi 获取您的 Tavily API key"
        ).to_dict(),
        "url": "https://app.tavily.com/home",
    },
)

PROVIDER = BuiltinProvider(
    name="tavily",
    author="Yash Parmar",
    label=I18n(en_US="Tavily", zh_Hans="Tavily"),
    description=I18n(en_US="Tavily", zh_Hans="Tavily"),
    icon="tavily.svg",
    tags=("search",),
    tools=(TavilySearchTool(),),
    credentials_schema=CREDENTIALS_SCHEMA,
    validate_credentials=validate,
)
