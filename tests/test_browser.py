"""The app in a real browser: headless Chromium (the system's, never a downloaded one) through Playwright.

Saves docs/screenshot.png. Chromium must be at /usr/bin/chromium: `make test`
installs it; without it this test fails rather than skips, so a green run
always means the page was really looked at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.ui_server import (
    ALIBABA,
    ALIBABA_SOURCE,
    HOSTILE_DOCUMENT,
    HOSTILE_QUESTION,
    indexed_settings,
    running_app,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"
# No first-run chores, no update checks, no Google services: the test must not touch the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWER_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings, embedder = indexed_settings(
        tmp_path_factory.mktemp("browser"), {"musee.txt": HOSTILE_DOCUMENT}
    )  # plain text keeps the markup
    with running_app(settings, embedder) as address:
        yield address


@pytest.fixture
def page() -> Iterator[Page]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with "
            "`apt-get update && apt-get install -y chromium` (make test does this)."
        )
    # Playwright must never download a browser of its own.
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 960})
        finally:
            browser.close()


def ask(page: Page, question: str) -> None:
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")


def test_cited_answer_with_highlighted_source_and_no_script_runs(page: Page, url: str) -> None:
    elsewhere: list[str] = []  # the page must load nothing from outside this machine
    page.on(
        "request", lambda r: elsewhere.append(r.url) if urlsplit(r.url).hostname not in (None, "127.0.0.1") else None
    )
    page.goto(url)
    # The empty chat's example questions quote document titles: as text, like everything from a document.
    expect(page.locator("#rag-chat")).to_contain_text('Quimper <img src=x onerror="window.__xss=3">')
    assert page.locator("#rag-chat img").count() == 0
    ask(page, ALIBABA)
    answer = page.locator("#rag-chat .rag-answer").last
    expect(answer).to_contain_text("30 personnes", timeout=ANSWER_TIMEOUT_MS)
    expect(answer.locator("a.rag-cite").first).to_be_visible()
    card = page.locator("#rag-sources .rag-source").first
    expect(card).to_contain_text(ALIBABA_SOURCE)
    # That article has no title (it opens with its lead): its file's name stands in, not its first sentence.
    expect(card.locator(".rag-title")).to_have_text(ALIBABA_SOURCE.removesuffix(".txt"))
    mark = card.locator("mark")
    expect(mark.first).to_be_visible()
    expect(mark.first).to_contain_text("30 personnes")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # A new conversation (the Chatbot's bin) so the next question is not read as a follow-up.
    page.locator("#rag-chat").get_by_role("button", name="Clear").click()
    expect(page.locator("#rag-chat .rag-answer")).to_have_count(0)
    expect(page.locator("#rag-sources")).to_contain_text("Sources of the answer appear here.")

    # A document carrying markup: it must be shown as text, and nothing in it may run.
    ask(page, HOSTILE_QUESTION)
    expect(page.locator("#rag-chat .rag-answer").last).to_contain_text("12 000", timeout=ANSWER_TIMEOUT_MS)
    sources = page.locator("#rag-sources")
    expect(sources).to_contain_text("<script>window.__xss=1</script>")
    expect(sources).to_contain_text('<img src=x onerror="window.__xss=2">')
    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#rag-documents")).to_contain_text('<img src=x onerror="window.__xss=3">')
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert page.locator("#rag-sources img, #rag-chat .rag-answer img, #rag-documents img").count() == 0
    assert elsewhere == []
