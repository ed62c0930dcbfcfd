"""Accessibility in Chromium: axe-core on every tab in both themes and at both sizes, and the keyboard.

axe-core (4.14.1, MPL-2.0) is vendored as its one built file, tests/vendor/axe-core/axe.min.js,
beside its licence: a fresh clone runs this offline with no Node toolchain, and the rules it checks
change only when that file is replaced (`npm pack axe-core`, then copy axe.min.js and LICENSE*).
The hashing embedder stands in for the model: markup and colours are the point here.
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

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SCREEN = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
#: The impacts the target allows none of (axe's "moderate" and "minor" are reported, not failed).
BLOCKING = ("serious", "critical")
CLOSED = "Quel laboratoire Alibaba a-t-il fermé ?"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings, embedder = indexed_settings(tmp_path_factory.mktemp("a11y"), embedder=HashingEmbedder())
    with running_app(settings, embedder) as address:
        yield address


def opened(browser: Browser, url: str, viewport: dict[str, int], theme: str = "light") -> Page:
    page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    page.goto(f"{url}?__theme={theme}")
    expect(page.locator("#rag-question textarea")).to_be_visible()
    return page


def violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on what the page shows now, one line per element."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    return [
        f"{v['id']} ({v['impact']}) {' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}"
        for v in found
        if v["impact"] in BLOCKING
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [SCREEN, PHONE], ids=["1400", "390"])
def test_no_serious_axe_violations_on_any_tab(browser: Browser, url: str, viewport: dict, theme: str) -> None:
    page = opened(browser, url, viewport, theme)
    assert page.evaluate("document.body.classList.contains('dark')") == (theme == "dark")
    found = {"chat, empty": violations(page)}
    ask(page, ALIBABA)
    expect(page.locator("#rag-chat .rag-copy")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    # The answer with its trace open, the folded passages shown and a citation's tip on screen.
    page.locator("#rag-chat details.rag-trace summary").last.click()
    page.locator("#rag-sources details.rag-more summary").first.click()
    page.locator("#rag-chat a.rag-cite").first.focus()
    found["chat, answered"] = violations(page)
    for tab in ("Documents", "Settings"):
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        found[tab] = violations(page)
    page.close()
    assert not any(found.values()), "\n".join(f"{where}: {line}" for where, lines in found.items() for line in lines)


def focused(page: Page) -> str:
    """What has the keyboard's focus: its id, else its name, else its text, and the rag-* block it is in."""
    return str(
        page.evaluate(
            """() => {
              const e = document.activeElement;
              if (!e || e === document.body) return '';
              const label = e.labels && e.labels.length ? e.labels[0].textContent.trim() : '';
              const by = (e.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean)
                .map((id) => document.getElementById(id)).filter(Boolean).map((part) => part.textContent.trim());
              const text = e.textContent.trim().slice(0, 40);
              const name = by.join(' ') || e.getAttribute('aria-label') || label || e.id || text;
              const owner = e.closest('[id^="rag-"]');
              return `${e.tagName.toLowerCase()} ${name} @${owner ? owner.id : ''}`;
            }"""
        )
    )


def tab_through(page: Page, presses: int = 40) -> list[str]:
    """Press Tab from the top of the page; what got the focus, in order, once around."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    reached: list[str] = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.append(focused(page))
    return reached


def reached_all(reached: list[str], expected: list[str]) -> None:
    missing = [want for want in expected if not any(want in got for got in reached)]
    assert not missing, f"not reachable by Tab: {missing}; reached: {reached}"


def test_every_control_is_reachable_by_keyboard(browser: Browser, url: str) -> None:
    page = opened(browser, url, SCREEN)
    ask(page, CLOSED)
    expect(page.locator("#rag-chat .rag-copy")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    ask(page, ALIBABA)
    expect(page.locator("#rag-chat .rag-copy")).to_have_count(2, timeout=ANSWER_TIMEOUT_MS)
    chat = tab_through(page)
    reached_all(
        chat,
        [
            "button Chat",
            "button Documents",
            "button Settings",
            "Toggle Sidebar",
            "a [1] @rag-chat",
            "summary Trace @rag-chat",
            "button Copy answer @rag-chat",
            "bot's message: ",
            "textarea",
            "button rag-new-chat",
            "button rag-regenerate",
            "button rag-edit",
            "blockquote",  # a passage that scrolls in its card
            "summary",  # the passages read but not cited
        ],
    )
    # The closed side panel is off screen: its controls are out of the tab order until it opens.
    assert not any("rag-delete-chat" in got or "@rag-history" in got for got in chat), chat
    page.get_by_role("button", name="Toggle Sidebar").focus()
    page.keyboard.press("Enter")
    reached_all(tab_through(page), ["@rag-history", "button rag-delete-chat"])
    page.get_by_role("button", name="Toggle Sidebar").press("Enter")
    # An earlier answer, reached by Tab and opened with Enter, brings its own sources back.
    first = page.locator('#rag-chat [data-testid="bot"]').first
    first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#rag-sources .rag-sources-for")).to_contain_text(CLOSED)

    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#rag-documents button.rag-remove-row").first).to_be_visible()
    reached_all(
        tab_through(page, 30),
        [
            "input Filter by title or file name",
            "Remove Amazon confirme",  # each row's own Remove, named after its row
            "button Drop File Here - or - Click to Upload",
            "button Index these files",
            "input Document",  # the document to remove, chosen from a list
            "button Remove…",
        ],
    )
    page.get_by_role("tab", name="Settings").click()
    expect(page.get_by_text("Answer backend")).to_be_visible()
    reached_all(
        tab_through(page, 30),
        ["input Offline", "input OpenAI-compatible", "Passages given to the answer", "button Save and check"],
    )
    # The LLM server's fields show once its backend is chosen, by keyboard too.
    page.get_by_label("OpenAI-compatible server", exact=False).focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("Server URL", exact=False)).to_be_visible()
    reached_all(tab_through(page, 30), ["textarea Server URL", "textarea Model", "input API key"])
    page.close()
