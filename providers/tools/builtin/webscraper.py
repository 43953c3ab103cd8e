"""Dify's `webscraper` provider: fetch a page and answer its readable text.

The page is fetched through the tools' guarded HTTP client (private-network guard on every redirect hop,
timeouts, a size cap), and the article is extracted with trafilatura (main content, title, author, date)
in a worker thread. The answer has Dify's layout (TITLE / AUTHORS / PUBLISH DATE / TOP_IMAGE_URL / TEXT);
an upstream error status or an unsupported content type is a text answer, as in Dify, not a failure.
With `generate_summary`, long pages are summarised by the workspace's default LLM (see `summary`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from providers.tools.builtin.base import BuiltinProvider, BuiltinTool, ToolContext, text_message
from providers.tools.entities import I18n, ParameterOption, ToolParameter, ToolSpec
from providers.tools.exceptions import ToolInvokeError
from providers.tools.http import MB, fetch, setting
from workflows.engine.ports import ToolMessage

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/100.0.1000.0 Safari/537.36"
)
FULL_TEMPLATE = """
TITLE: {title}
AUTHORS: {authors}
PUBLISH DATE: {publish_date}
TOP_IMAGE_URL: {top_image}
TEXT:

{text}
"""
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset(
    {"text/plain", "text/markdown", "application/json", "text/csv", "text/xml", "application/xml"}
)


def page_text(html: bytes | str) -> dict[str, str]:
    """Title, author, date and readable text of an HTML page (blocking: run it in a thread)."""
    import trafilatura  # imported on first use: it loads language data the web workers rarely need

    document = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=True, favor_recall=True
    )
    text = (document.text if document is not None else "") or ""
    if not text.strip():
        # Pages too short or too unusual for article detection: all of the body's text.
        text = trafilatura.html2txt(html) or ""
    return {
        "title": (document.title if document is not None else "") or "",
        "authors": (document.author if document is not None else "") or "",
        "publish_date": (document.date if document is not None else "") or "",
        "top_image": (document.image if document is not None else "") or "",
        "text": text,
    }


async def read_url(url: str, *, user_agent: str | None = None) -> str:
    """Dify's `get_url`: the page as the template, or a sentence saying why there is none."""
    timeout = httpx.Timeout(
        connect=float(setting("WEBSCRAPER_CONNECT_TIMEOUT", 10)),
        read=float(setting("WEBSCRAPER_READ_TIMEOUT", 60)),
        write=10.0,
        pool=10.0,
    )
    response = await fetch(
        "GET",
        url,
        headers={"User-Agent": user_agent or DEFAULT_USER_AGENT, "Accept": "*/*"},
        timeouts=timeout,
        max_bytes=int(setting("WEBSCRAPER_MAX_BYTES", 10 * MB)),
    )
    if response.status_code != 200:
        return f"URL returned status code {response.status_code}."
    mime_type = response.mime_type or "text/html"
    if mime_type in TEXT_TYPES or (mime_type.startswith("text/") and mime_type not in HTML_TYPES):
        return response.text
    if mime_type not in HTML_TYPES:
        return f"Unsupported content-type [{mime_type}] of URL."
    article = await asyncio.to_thread(page_text, response.content)
    if not article["text"].strip():
        return ""
    return FULL_TEMPLATE.format(**article)


class WebscraperTool(BuiltinTool):
    spec = ToolSpec(
        name="webscraper",
        author="Dify",
        label=I18n(en_US="Web Scraper", zh_Hans="网页爬虫", pt_BR="Web Scraper"),
        description=I18n(
            en_US="A tool for scraping webpages.",
            zh_Hans="一个用于爬取网页的工具。",
            pt_BR="A tool for scraping webpages.",
        ),
        llm_description="A tool for scraping webpages. Input should be a URL.",
        parameters=(
            ToolParameter(
                name="url",
                label=I18n(en_US="URL", zh_Hans="网页链接", pt_BR="URL"),
                required=True,
                human_description=I18n(
                    en_US="used for linking to webpages",
                    zh_Hans="用于链接到网页",
                    pt_BR="used for linking to webpages",
                ),
                llm_description="url for scraping",
            ),
            ToolParameter(
                name="user_agent",
                label=I18n(en_US="User Agent", zh_Hans="User Agent", pt_BR="User Agent"),
                form="form",
                default=DEFAULT_USER_AGENT,
                human_description=I18n(
                    en_US="used for identifying the browser.",
                    zh_Hans="用于识别浏览器。",
                    pt_BR="used for identifying the browser.",
                ),
            ),
            ToolParameter(
                name="generate_summary",
                label=I18n(en_US="Whether to generate summary", zh_Hans="是否生成摘要"),
                type="boolean",
                form="form",
                default="false",
                human_description=I18n(
                    en_US="If true, the crawler will only return the page summary content.",
                    zh_Hans="如果启用，爬虫将仅返回页面摘要内容。",  # noqa: RUF001
                ),
                options=(
                    ParameterOption(value="true", label=I18n(en_US="Yes", zh_Hans="是")),
                    ParameterOption(value="false", label=I18n(en_US="No", zh_Hans="否")),
                ),
            ),
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        url = str(parameters.get("url") or "").strip()
        if not url:
            yield text_message("Please input url")
            return
        try:
            result = await read_url(url, user_agent=parameters.get("user_agent") or None)
        except ToolInvokeError:
            raise
        except Exception as exc:  # extraction bugs on odd pages: fail the tool with the reason, as Dify does
            raise ToolInvokeError(str(exc) or type(exc).__name__) from exc
        if str(parameters.get("generate_summary")).strip().lower() in ("true", "1", "yes"):
            from providers.tools.summary import summarize

            result = await summarize(tenant_id=ctx.tenant_id, user=ctx.user, content=result)
        yield text_message(result)


PROVIDER = BuiltinProvider(
    name="webscraper",
    author="Dify",
    label=I18n(en_US="WebScraper", zh_Hans="网页抓取", pt_BR="WebScraper"),
    description=I18n(
        en_US="Web Scraper tool kit is used to scrape web",
        zh_Hans="一个用于抓取网页的工具。",
        pt_BR="Web Scraper tool kit is used to scrape web",
    ),
    icon="webscraper.svg",
    tags=("productivity",),
    tools=(WebscraperTool(),),
)
