"""The `webscraper` tool against a loopback web server; its summary through a loopback model server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from accounts.models import Tenant
from providers.models import TenantDefaultModel
from providers.runtime import InMemoryCooldownStore, LoadBalancer, ModelRuntime
from providers.services import config_cache
from providers.services.runtime import set_model_runtime
from providers.tools.exceptions import ToolInvokeError
from tests import factories
from tests.providers_django import given
from tests.support.fake_llm import FakeLLMServer
from tests.support.fake_llm import Reply as ModelReply
from tests.support.fixtures import TEST_RETRY, TEST_TIMEOUTS
from tests.tools.conftest import LoopbackServer, Reply, call_tool, texts

ARTICLE = """<html><head><title>Tide tables</title><meta name="author" content="Ann Marsh">
<meta property="article:published_time" content="2024-05-01"></head>
<body><nav>Home | About | Contact</nav>
<article><h1>Tide tables explained</h1>
<p>Tides rise and fall twice a day along most coasts, pulled by the moon and, to a lesser degree, the sun.</p>
<p>A tide table lists the times and heights of high and low water for one place, usually a harbour.</p>
</article><footer>Copyright 2024 Coastal Notes</footer></body></html>"""


async def test_a_page_answers_its_readable_text_in_difys_layout(
    http_server: LoopbackServer, allow_private: None
) -> None:
    # given an article page
    http_server.route(
        "GET", "/tides", Reply(200, ARTICLE.encode(), {"Content-Type": "text/html; charset=utf-8"})
    )
    # when the tool scrapes it with a configured user agent
    messages = await call_tool(
        "webscraper",
        "webscraper",
        {"url": f"{http_server.url}/tides"},
        configurations={"user_agent": "probe/1.0"},
    )
    # then one text message has the title, author, date and the article's text, not the navigation
    answer = texts(messages)
    assert [m.type for m in messages] == ["text"]
    assert answer.startswith("\nTITLE: ")
    assert "AUTHORS: Ann Marsh" in answer
    assert "PUBLISH DATE: 2024-05-01" in answer
    assert "Tides rise and fall twice a day" in answer
    assert "A tide table lists the times" in answer
    assert "Home | About" not in answer
    assert http_server.requests[-1].headers["user-agent"] == "probe/1.0"


async def test_plain_text_error_statuses_and_unsupported_types(
    http_server: LoopbackServer, allow_private: None
) -> None:
    http_server.route("GET", "/notes.txt", Reply(200, "just text"))
    http_server.route("GET", "/gone", Reply(404, "nope"))
    http_server.route("GET", "/logo.png", Reply(200, b"\x89PNG", {"Content-Type": "image/png"}))
    assert (
        texts(await call_tool("webscraper", "webscraper", {"url": f"{http_server.url}/notes.txt"}))
        == "just text"
    )
    assert texts(await call_tool("webscraper", "webscraper", {"url": f"{http_server.url}/gone"})) == (
        "URL returned status code 404."
    )
    assert texts(await call_tool("webscraper", "webscraper", {"url": f"{http_server.url}/logo.png"})) == (
        "Unsupported content-type [image/png] of URL."
    )
    assert texts(await call_tool("webscraper", "webscraper", {"url": ""})) == "Please input url"


async def test_the_guard_and_the_size_limit(
    http_server: LoopbackServer, settings: Any, ssrf_strict: None
) -> None:
    http_server.route("GET", "/big", Reply(200, "x" * 5000))
    # loopback is refused by default, before any request is sent
    with pytest.raises(ToolInvokeError, match="not allowed"):
        await call_tool("webscraper", "webscraper", {"url": f"{http_server.url}/big"})
    assert http_server.requests == []
    # allowed, a page over the limit is refused
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBSCRAPER_MAX_BYTES = 1000
    with pytest.raises(ToolInvokeError, match="exceeds the maximum allowed size 1000 bytes"):
        await call_tool("webscraper", "webscraper", {"url": f"{http_server.url}/big"})
    # and only http(s) URLs are fetched
    with pytest.raises(ToolInvokeError, match="invalid URL"):
        await call_tool("webscraper", "webscraper", {"url": "file:///etc/passwd"})


# --- summary ---------------------------------------------------------------------------------------------


@pytest.fixture
async def test_runtime() -> AsyncIterator[ModelRuntime]:
    runtime = ModelRuntime(
        retry=TEST_RETRY, timeouts=TEST_TIMEOUTS, balancer=LoadBalancer(InMemoryCooldownStore())
    )
    set_model_runtime(runtime)
    config_cache.clear()
    yield runtime
    await runtime.aclose()
    set_model_runtime(None)
    config_cache.clear()
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_summary_needs_a_default_model(
    http_server: LoopbackServer, allow_private: None, test_runtime: ModelRuntime
) -> None:
    tenant = await sync_to_async(factories.tenant_factory)()
    http_server.route("GET", "/notes.txt", Reply(200, "short"))
    with pytest.raises(ToolInvokeError, match="No default LLM"):
        await call_tool(
            "webscraper",
            "webscraper",
            {"url": f"{http_server.url}/notes.txt"},
            configurations={"generate_summary": True},
            tenant_id=str(tenant.id),
        )


@pytest.mark.django_db(transaction=True)
async def test_long_pages_are_summarised_by_the_workspace_model(
    http_server: LoopbackServer, allow_private: None, fake_llm: FakeLLMServer, test_runtime: ModelRuntime
) -> None:
    # given a workspace whose default LLM is a custom model on the loopback model server
    def configure() -> Tenant:
        tenant = factories.tenant_factory()
        given.custom_model(
            tenant=tenant,
            provider="openai_api_compatible",
            model="echo",
            values=given.compatible_values(fake_llm),
        )
        TenantDefaultModel.objects.create(
            tenant=tenant, model_type="llm", provider="openai_api_compatible", model_name="echo"
        )
        return tenant

    tenant = await sync_to_async(configure)()
    short, long = (
        "A short note.",
        "\n".join(f"Line {n} of a very long report about tides." for n in range(1500)),
    )
    http_server.route("GET", "/short.txt", Reply(200, short))
    http_server.route("GET", "/long.txt", Reply(200, long))
    fake_llm.push(*[ModelReply(text="Summary part.") for _ in range(20)])
    # when a short page is scraped with a summary, it comes back unchanged without a model call
    answer = await call_tool(
        "webscraper",
        "webscraper",
        {"url": f"{http_server.url}/short.txt"},
        configurations={"generate_summary": "true"},
        tenant_id=str(tenant.id),
    )
    assert texts(answer) == short
    assert fake_llm.requests_on("chat") == []
    # and a long one is summarised piece by piece by the model
    answer = await call_tool(
        "webscraper",
        "webscraper",
        {"url": f"{http_server.url}/long.txt"},
        configurations={"generate_summary": True},
        tenant_id=str(tenant.id),
    )
    calls = fake_llm.requests_on("chat")
    assert len(calls) >= 2
    assert set(texts(answer).split("\n")) == {"Summary part."}
    assert calls[0].json["messages"][0]["role"] == "system"
