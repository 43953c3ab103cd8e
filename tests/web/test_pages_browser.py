"""The published site's pages in headless Chromium (Debian's ``chromium``, driven by Playwright).

The live server and the loopback model are real; so is the browser. Screenshots land in
``var/screenshots/`` (``WEBAPP_SCREENSHOT_DIR`` overrides it) for a person to look at.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from tests.service_api.configs import CHAT_CONFIG
from tests.support.fake_llm import Reply

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - requirements-dev installs it
    sync_playwright = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (requirements-dev.txt)"),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)",
    ),
]

SCREENSHOTS = Path(os.environ.get("WEBAPP_SCREENSHOT_DIR") or settings.VAR_DIR / "screenshots")

ANSWER = (
    "**Paris** is the capital of France.\n\n"
    "| City | Country |\n|---|---|\n| Paris | France |\n\n"
    "```python\nprint('bonjour')\n```\n\n"
    'Raw markup stays text: <img src=x onerror="window.__pwned=1"> done.'
)


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop on this thread, which Django takes for an async context
    # and refuses the test's own (synchronous) database work; the server side is unaffected.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _chromium()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _chromium():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def watch_answer(page) -> None:
    """Record every distinct text the last answer shows while it streams."""
    page.evaluate(
        """() => {
          window.__seen = [];
          new MutationObserver(() => {
            const answers = document.querySelectorAll('.message.assistant:not(.opening) .answer');
            const last = answers[answers.length - 1];
            const text = last ? last.textContent : '';
            if (text && window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
          }).observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true});
        }"""
    )


def test_chat_page_streams_a_markdown_answer_and_reopens_the_conversation(page, published, fake_llm):
    # given a chat app with an input variable and its site's settings
    site = published(
        "chat", config={**CHAT_CONFIG, "suggested_questions": ["What is the capital of France?"]}
    )
    s = site.app.site
    s.title, s.description = "Travel helper", "Answers about places."
    s.copyright, s.privacy_policy = "Acme Travel", "https://example.com/privacy"
    s.custom_disclaimer = "Answers may be wrong; check before you travel."
    s.save()
    fake_llm.push(Reply(text=ANSWER, chunks=12, chunk_delay=0.08))

    # when a visitor opens the site, fills the form and asks a question
    page.goto(f"{site.base_url}/chat/{site.code}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_role("heading", name="Travel helper")).to_be_visible()
    expect(page.get_by_text("Answers may be wrong; check before you travel.")).to_be_visible()
    page.get_by_label("Company").fill("Acme")
    expect(page.locator(".message.opening")).to_contain_text("Welcome to Acme!")
    watch_answer(page)
    page.get_by_label("Your message").fill("What is the capital of France?")
    page.keyboard.press("Enter")

    # then the answer appears piece by piece, rendered as Markdown, with model markup kept inert
    answer = page.locator(".message.assistant:not(.opening) .answer").last
    expect(answer).to_contain_text("done.")
    expect(page.locator(".message-actions button[aria-label=Like]")).to_have_count(1)
    seen = page.evaluate("window.__seen")
    assert len(seen) >= 4, seen
    assert all(len(a) <= len(b) for a, b in itertools.pairwise(seen))
    assert answer.locator("strong").inner_text() == "Paris"
    assert answer.locator("table td").first.inner_text() == "Paris"
    assert "print('bonjour')" in answer.locator("pre code").inner_text()
    assert answer.locator("img").count() == 0
    assert '<img src=x onerror="window.__pwned=1">' in answer.inner_text()
    assert page.evaluate("window.__pwned") is None
    expect(page.locator("#conversation-list li")).to_have_count(1)
    page.get_by_role("button", name="Like", exact=True).click()
    expect(page.get_by_role("button", name="Like", exact=True)).to_have_attribute("aria-pressed", "true")
    path = shot(page, "webapp-chat")
    assert path.stat().st_size > 10_000

    # and, back later, the visitor finds the conversation in the sidebar and reopens it
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(".message.user")).to_have_count(0)
    page.locator("#conversation-list li .open").first.click()
    expect(page.locator(".message.user .bubble")).to_have_text("What is the capital of France?")
    expect(page.locator(".message.assistant .answer strong")).to_have_text("Paris")
    expect(page.get_by_role("button", name="Like", exact=True)).to_have_attribute("aria-pressed", "true")


def test_chat_page_works_at_mobile_width_and_keeps_visitors_apart(browser, published):
    site = published("chat")
    phone = browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{site.base_url}/chat/{site.code}")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label("Company").fill("Acme")
    page.get_by_label("Your message").fill("hello from a phone")
    page.get_by_role("button", name="Send message").click()
    expect(page.locator(".message.assistant:not(.opening) .answer")).to_have_text(
        "You said: hello from a phone"
    )
    # the sidebar is off-screen until asked for
    assert not page.locator("#sidebar").is_visible() or page.locator("#sidebar").bounding_box()["x"] < 0
    page.get_by_role("button", name="Show conversations").click()
    expect(page.locator("#conversation-list li")).to_have_count(1)
    page.wait_for_timeout(300)  # the slide-in transition
    assert page.locator("#sidebar").bounding_box()["x"] >= 0
    page.get_by_role("button", name="Show conversations").click()
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "webapp-chat-mobile")
    phone.close()

    # another browser is another anonymous visitor: it sees none of the first one's conversations
    other = browser.new_context()
    stranger = other.new_page()
    stranger.goto(f"{site.base_url}/chat/{site.code}")
    stranger.wait_for_selector("body[data-ready=true]")
    stranger.wait_for_timeout(300)
    assert stranger.locator("#conversation-list li").count() == 0
    other.close()


def test_workflow_page_shows_the_steps_live_and_the_outputs(page, published):
    site = published("workflow")
    site.app.site.title = "Echo workflow"
    site.app.site.save()
    page.goto(f"{site.base_url}/workflow/{site.code}")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label("Query").fill("Make it **bold**")
    page.get_by_role("button", name="Run").click()
    steps = page.locator("#steps li")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_have_attribute("data-status", "succeeded")
    expect(steps.nth(1)).to_have_attribute("data-status", "succeeded")
    assert [t.strip() for t in steps.locator(".title").all_inner_texts()] == ["Start", "End"]
    expect(page.locator("#run-status")).to_contain_text("succeeded")
    output = page.locator("#outputs .output")
    expect(output.locator("h3")).to_have_text("query")
    expect(output.locator(".markdown strong")).to_have_text("bold")
    shot(page, "webapp-workflow")


def test_a_page_for_another_mode_redirects_and_an_unknown_site_is_not_found(page, published):
    site = published("completion")
    page.goto(f"{site.base_url}/chat/{site.code}")
    assert page.url.endswith(f"/completion/{site.code}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_role("button", name="Generate")).to_be_visible()
    response = page.goto(f"{site.base_url}/chat/no-such-site")
    assert response.status == 404
