"""An answer as plain text with its numbered sources, for the Copy button (pure functions).

The text is built from the Answer (its sentences with their markers and the
passages it shows), never scraped back from the HTML.
"""

from __future__ import annotations

from pathlib import Path

from rag.types import Answer
from ui.html import escape, paragraphs


def plain_answer(answer: Answer) -> str:
    """What Copy puts on the clipboard: the answer, then ``[n] title (date) — file, page``."""
    lines = [answer.error or answer.text]
    shown = answer.shown()
    if shown:
        lines += ["", "Closest passages:" if answer.abstained else "Sources:"]
    for n, hit, _citations in shown:
        page = f", page {hit.page}" if hit.page else ""
        lines.append(f"[{n}] {hit.title} ({hit.date or 'no date'}) — {Path(hit.source).name}{page}")
    return "\n".join(lines)


def render_copy(answer: Answer) -> str:
    """A Copy button and the text it copies, kept in the page as (escaped) text, never as an attribute."""
    return (
        # Its visible text is its name: Gradio's sanitiser drops aria-label from message HTML.
        '<div class="rag-copy"><button type="button" class="rag-copy-button">Copy answer</button>'
        f'<pre class="rag-copy-text">{escape(plain_answer(answer))}</pre></div>'
    )


def render_restored(text: str) -> str:
    """An answer kept in the browser, shown again as plain text (its citations are not live any more)."""
    return (
        f'<div class="rag-answer rag-restored">{paragraphs(escape(text))}'
        '<p class="rag-note">Kept in this browser as text: ask again to see its sources highlighted.</p></div>'
    )
