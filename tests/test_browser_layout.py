"""The page as a phone and a screen reader get it: Chromium at 390×844 and 1400×900.

The hashing embedder stands in for the model: layout, labels and the Documents
tab's flow are the point here, not which passage ranks first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from rag.embedders.fake import HashingEmbedder
from tests.test_browser import ANSWER_TIMEOUT_MS, ask
from tests.ui_server import ALIBABA, indexed_settings, running_app

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
MOBILE_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot-mobile.png"
SCREEN = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings, embedder = indexed_settings(tmp_path_factory.mktemp("layout"), embedder=HashingEmbedder())
    with running_app(settings, embedder) as address:
        yield address


def opened(browser: Browser, url: str, viewport: dict[str, int]) -> Page:
    page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    page.goto(url)
    expect(page.locator("#rag-question textarea")).to_be_visible()
    return page


def no_horizontal_scrolling(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]  # type: ignore[index]


@pytest.mark.parametrize("viewport", [SCREEN, PHONE], ids=["1400", "390"])
def test_messages_are_labelled_with_their_text_not_their_html(browser: Browser, url: str, viewport: dict) -> None:
    page = opened(browser, url, viewport)
    ask(page, ALIBABA)
    expect(page.locator("#rag-chat .rag-answer a.rag-cite").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    labels = page.locator("#rag-chat [aria-label*='message: ']")
    expect(labels).to_have_count(2)
    expect(labels.first).to_have_attribute("aria-label", f"user's message: {ALIBABA}")
    answer = labels.last.get_attribute("aria-label") or ""
    assert answer.startswith("bot's message: ") and "30 personnes" in answer and "[1]" in answer
    assert "<" not in answer and "Trace" not in answer
    page.close()


def test_phone_layout_keeps_header_sources_trace_and_file_names_on_screen(browser: Browser, url: str) -> None:
    page = opened(browser, url, PHONE)
    # At load the page is at its top: the header and the tabs are in view, the keyboard not forced open.
    assert page.evaluate("scrollY") == 0
    expect(page.get_by_role("tab", name="Documents")).to_be_in_viewport()
    ask(page, ALIBABA)
    expect(page.locator("#rag-sources .rag-source").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    page.evaluate("scrollTo(0, 0)")
    # The chat follows the viewport: the first source starts on the first screen.
    assert page.locator("#rag-sources").bounding_box()["y"] < PHONE["height"]  # type: ignore[index]
    page.screenshot(path=str(MOBILE_SCREENSHOT))
    page.locator("#rag-chat details.rag-trace summary").last.click()
    passage = page.locator("#rag-chat details.rag-trace tbody td:last-child").first
    expect(passage).to_be_visible()
    assert passage.bounding_box()["width"] > 250  # type: ignore[index]  # stacked under the numbers, not crushed
    no_horizontal_scrolling(page)
    page.get_by_role("tab", name="Documents").click()
    table = page.locator("#rag-documents table")
    expect(table).to_be_visible()
    box = table.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"]
    for cell in page.locator("#rag-documents td:last-child").all():
        cell_box = cell.bounding_box()
        assert cell_box and cell_box["x"] + cell_box["width"] <= PHONE["width"], "the File column is cut off"
    no_horizontal_scrolling(page)
    page.close()


def test_remove_asks_first_and_leaves_only_its_own_message(browser: Browser, url: str, tmp_path: Path) -> None:
    article = tmp_path / "port-brest.md"
    article.write_text("# Port de Brest\n\nLe port de Brest a accueilli 4 200 escales en 2022.\n", encoding="utf-8")
    page = opened(browser, url, SCREEN)
    ask(page, ALIBABA)
    expect(page.locator("#rag-chat .rag-copy")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#rag-documents").get_by_text("Port de Brest").wait_for(state="detached")
    page.locator("input[type=file]").set_input_files(str(article))
    page.get_by_role("button", name="Index these files").click()
    results = page.locator("#rag-upload-results")
    expect(results).to_contain_text("port-brest.md — indexed", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#rag-documents")).to_contain_text("Port de Brest")
    # The chat keeps its conversation, and its empty state now counts the new document.
    page.get_by_role("tab", name="Chat").click()
    expect(page.locator("#rag-chat .rag-question")).to_have_count(1)
    page.get_by_role("button", name="New chat").click()
    expect(page.locator("#rag-chat")).to_contain_text("3 documents indexed")
    page.get_by_role("tab", name="Documents").click()
    # The table filters as one types, by title or file name.
    page.get_by_label("Filter by title or file name").fill("brest")
    rows = page.locator("#rag-documents tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Port de Brest")
    expect(page.locator("#rag-documents caption")).to_contain_text("1 of 3 documents match “brest”")
    page.get_by_label("Filter by title or file name").fill("")
    expect(rows).to_have_count(3)
    # The untitled seed is listed under its file's name, not its first sentence cut short.
    expect(page.locator("#rag-documents tbody td:first-child")).to_contain_text(["003_c00ce55952bfa148"])

    page.get_by_role("combobox", name="Document").click()
    page.get_by_role("option", name="Port de Brest — port-brest.md").click()
    page.get_by_role("button", name="Remove…").click()
    question = page.locator("#rag-remove-question")
    expect(question).to_contain_text("Remove “Port de Brest” (port-brest.md")
    page.get_by_role("button", name="Cancel").click()
    expect(question).to_be_hidden()
    expect(page.locator("#rag-documents")).to_contain_text("Port de Brest")  # nothing removed

    # Each row has its own Remove button, named after its row; by keyboard, it asks first, the focus
    # goes to Cancel (the safe answer), and cancelling brings it back to the row.
    page.get_by_role("combobox", name="Document").fill("")
    row = page.get_by_role("button", name="Remove Port de Brest port-brest.md")
    expect(page.locator("#rag-documents button.rag-remove-row")).to_have_count(3)
    row.focus()
    page.keyboard.press("Enter")
    expect(question).to_contain_text("Remove “Port de Brest” (port-brest.md")
    expect(page.locator("#rag-remove-cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(question).to_be_hidden()
    expect(row).to_be_focused()
    expect(page.locator("#rag-documents")).to_contain_text("Port de Brest")
    page.keyboard.press("Enter")
    expect(page.locator("#rag-remove-cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#rag-remove-yes")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#rag-remove-status")).to_contain_text("Removed “Port de Brest”")
    expect(page.locator("#rag-remove-status")).to_be_focused()  # read out, not lost with the row
    expect(page.locator("#rag-documents")).not_to_contain_text("Port de Brest")
    expect(results).not_to_contain_text("indexed")  # the upload's message does not linger
    expect(question).to_be_hidden()
    page.close()


def test_on_a_screen_the_question_box_and_its_controls_are_on_the_first_screen(browser: Browser, url: str) -> None:
    page = opened(browser, url, SCREEN)
    for control in ("#rag-question textarea", "#rag-new-chat", "#rag-edit"):
        box = page.locator(control).bounding_box()
        assert box and box["y"] + box["height"] <= SCREEN["height"], control
    page.close()
