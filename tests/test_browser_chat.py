"""The chat's controls in Chromium: copy, regenerate, edit the last question, new chat, stop.

The hashing embedder stands in for the model; Stop is tried on a slow
scripted LLM server (tests/llm_server.py), since the offline answer is instant.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gradio_client import Client
from playwright.sync_api import Browser, Page, expect

from rag.embedders.fake import HashingEmbedder
from tests.llm_server import FakeLLMServer
from tests.test_browser import ANSWER_TIMEOUT_MS, ask
from tests.ui_server import ALIBABA, ALIBABA_SOURCE, indexed_settings, running_app

pytestmark = pytest.mark.slow

SCREEN = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
CLOSED = "Quel laboratoire Alibaba a-t-il fermé ?"
HOSTILE_LIKE = "Amazon a-t-il fermé un laboratoire <b>à Shanghai</b> ?"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings, embedder = indexed_settings(tmp_path_factory.mktemp("chat"), embedder=HashingEmbedder())
    with running_app(settings, embedder) as address:
        yield address


def opened(browser: Browser, url: str, viewport: dict[str, int] = SCREEN) -> Page:
    context = browser.new_context(viewport=viewport, permissions=["clipboard-read", "clipboard-write"])  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(url)
    expect(page.locator("#rag-question textarea")).to_be_visible()
    return page


def answered(page: Page, count: int) -> None:
    expect(page.locator("#rag-chat .rag-answer:not(.rag-streaming) a.rag-cite").first).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    expect(page.locator("#rag-chat .rag-copy")).to_have_count(count, timeout=ANSWER_TIMEOUT_MS)


@pytest.mark.parametrize("viewport", [SCREEN, PHONE], ids=["1400", "390"])
def test_copy_puts_the_answer_and_its_numbered_sources_on_the_clipboard(
    browser: Browser, url: str, viewport: dict
) -> None:
    page = opened(browser, url, viewport)
    ask(page, ALIBABA)
    answered(page, 1)
    expect(page.locator("#rag-chat").get_by_role("button", name="Copy answer")).to_be_visible()
    button = page.locator("#rag-chat .rag-copy-button")  # its name changes to "Copied"
    button.focus()
    page.keyboard.press("Enter")  # reachable by keyboard
    expect(button).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    first, _, sources = copied.partition("\n\nSources:\n")
    assert "30 personnes" in first and "[1]" in first and "<" not in copied
    assert sources.startswith("[1] ") and ALIBABA_SOURCE in sources
    page.context.close()


def test_regenerate_edit_and_new_chat(browser: Browser, url: str) -> None:
    page = opened(browser, url)
    ask(page, CLOSED)
    answered(page, 1)
    ask(page, "Et combien de personnes y travaillaient ?")
    answered(page, 2)
    questions = page.locator("#rag-chat .rag-question")

    page.get_by_role("button", name="Regenerate").click()  # the last answer again, in its place
    expect(page.locator("#rag-chat .rag-status")).to_have_count(0, timeout=ANSWER_TIMEOUT_MS)
    answered(page, 2)
    expect(questions).to_have_count(2)
    expect(page.locator("#rag-chat .rag-answer").last).to_contain_text("30")  # still read as a follow-up

    page.get_by_role("button", name="Edit last question").click()
    box = page.locator("#rag-question textarea")
    expect(box).to_have_value("Et combien de personnes y travaillaient ?")
    box.fill("Et depuis quand ?")
    box.press("Enter")
    expect(questions.last).to_have_text("Et depuis quand ?", timeout=ANSWER_TIMEOUT_MS)
    expect(questions).to_have_count(2)  # replaced, not added
    answered(page, 2)
    expect(page.locator("#rag-chat .rag-answer").last).to_contain_text("2017")

    page.get_by_role("button", name="New chat").click()
    expect(questions).to_have_count(0)
    expect(page.locator("#rag-sources")).to_contain_text("Sources of the answer appear here.")
    page.context.close()


def test_stop_ends_a_streaming_llm_answer_and_keeps_what_was_written(browser: Browser, url: str) -> None:
    # Words that never repeat, so that the generator's loop guard lets the answer run.
    words = ["Environ ", "30 ", "personnes ", "y ", "travaillaient. "] + [f"m{i:04d} " for i in range(600)]
    settings = Client(url, verbose=False)
    with FakeLLMServer(script="".join(words), chunk_delay_seconds=0.05) as llm:
        try:
            assert "Saved." in settings.predict("openai", llm.url, "test-model", "", 4, api_name="/save_settings")
            page = opened(browser, url)
            ask(page, ALIBABA)
            streaming = page.locator("#rag-chat .rag-streaming")
            expect(streaming).to_contain_text("30 personnes", timeout=ANSWER_TIMEOUT_MS)
            stop = page.locator("#rag-question").get_by_role("button", name="Stop")
            stop.click()
            stopped = page.locator("#rag-chat .rag-stopped")
            expect(stopped).to_contain_text("Stopped.")
            expect(stopped).to_contain_text("30 personnes")
            expect(page.locator("#rag-question").get_by_role("button", name="Ask")).to_be_visible()
            served = len(llm.requests)
            # The next question is answered as usual.
            settings.predict("extractive", "", "", "", 5, api_name="/save_settings")
            ask(page, ALIBABA)
            answered(page, 1)
            assert len(llm.requests) == served
            page.context.close()
        finally:
            settings.predict("extractive", "", "", "", 5, api_name="/save_settings")


@pytest.mark.parametrize("viewport", [SCREEN, PHONE], ids=["1400", "390"])
def test_citation_shows_its_span_on_hover_and_focus_and_sources_name_their_question(
    browser: Browser, url: str, viewport: dict
) -> None:
    page = opened(browser, url, viewport)
    ask(page, ALIBABA)
    answered(page, 1)
    expect(page.locator("#rag-sources .rag-sources-for")).to_have_text(f"for “{ALIBABA}”")
    link = page.locator("#rag-chat a.rag-cite").first
    tip = page.locator("#rag-chat .rag-cite-tip").first
    expect(tip).to_be_hidden()
    link.hover()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("30 personnes")
    page.mouse.move(0, 0)
    expect(tip).to_be_hidden()
    link.focus()  # the keyboard gets the same
    expect(tip).to_be_visible()
    # The passages read but not cited wait, folded, under the cited ones.
    folded = page.locator("#rag-sources details.rag-more")
    expect(folded.locator(".rag-source").first).to_be_hidden()
    folded.locator("summary").click()
    expect(folded.locator(".rag-source").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.context.close()


@pytest.mark.parametrize("viewport", [SCREEN, PHONE], ids=["1400", "390"])
def test_empty_chat_says_what_is_indexed_and_offers_questions_in_the_documents_language(
    browser: Browser, url: str, viewport: dict
) -> None:
    page = opened(browser, url, viewport)
    chat = page.locator("#rag-chat")
    expect(chat).to_contain_text("2 documents indexed: Amazon confirme la fermeture")
    expect(chat).to_contain_text("003_c00ce55952bfa148")  # the untitled seed, named by its file
    expect(chat).to_contain_text("Add .txt, .md, .html or .pdf files in the Documents tab")
    examples = chat.get_by_role("button", name="Que disent mes documents sur")
    # One per titled document, up to three (the seeds are French); none about a file's name.
    expect(examples).to_have_count(1)
    first = examples.first.inner_text().strip()
    examples.first.click()
    expect(page.locator("#rag-chat .rag-question")).to_have_text(first, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#rag-chat .rag-copy")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)  # answered
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.context.close()


@pytest.mark.parametrize("viewport", [SCREEN, PHONE], ids=["1400", "390"])
def test_conversations_are_kept_in_the_browser_across_reloads_and_can_be_deleted(
    browser: Browser, url: str, viewport: dict
) -> None:
    page = opened(browser, url, viewport)
    ask(page, CLOSED)
    answered(page, 1)
    page.get_by_role("button", name="New chat").click()
    ask(page, ALIBABA)
    answered(page, 1)
    expect(page.locator("#rag-history").get_by_role("radio")).to_have_count(2)  # both kept, the panel closed
    stored = page.evaluate("Object.keys(localStorage)")
    assert any("rag-conversations" in key for key in stored)

    page.reload()
    expect(page.locator("#rag-question textarea")).to_be_visible()
    expect(page.locator("#rag-chat .rag-question")).to_have_count(0)  # a reload starts a new chat...
    page.locator("#rag-sidebar").get_by_role("button").first.click()  # ...and the side panel lists the kept ones
    kept = page.locator("#rag-history")
    expect(kept.get_by_label(CLOSED)).to_be_visible()
    expect(kept.get_by_role("radio")).to_have_count(2)
    ask(page, HOSTILE_LIKE)  # the reloaded page's chat is a third one, not written over a kept one
    expect(kept.get_by_role("radio")).to_have_count(3, timeout=ANSWER_TIMEOUT_MS)
    expect(kept.get_by_label(CLOSED)).to_be_visible()
    kept.get_by_label(CLOSED).check()
    expect(page.locator("#rag-chat .rag-question")).to_have_text(CLOSED)
    restored = page.locator("#rag-chat .rag-restored")
    expect(restored).to_contain_text("Sources:")
    expect(restored).to_contain_text("Kept in this browser as text")

    page.get_by_role("button", name="Delete this conversation").click()
    expect(kept.get_by_role("radio")).to_have_count(2)
    expect(page.locator("#rag-chat .rag-question")).to_have_count(0)  # the open one was deleted
    page.reload()
    page.locator("#rag-sidebar").get_by_role("button").first.click()
    expect(page.locator("#rag-history").get_by_role("radio")).to_have_count(2)
    expect(page.locator("#rag-history").get_by_label(ALIBABA[:40])).to_be_visible()
    expect(page.locator("#rag-history").get_by_label(HOSTILE_LIKE)).to_be_visible()  # a title is text
    page.context.close()
