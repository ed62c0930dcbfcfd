"""Answers, passages and documents as safe HTML: pure functions, no Gradio.

Everything that comes from a document (text, title, file name) or from a
model is escaped here, once, at the last moment. Answers are also stripped of
markdown images and remote-loading tags, so a hostile document that talks a
model into writing ``![](https://tracker/?q=...)`` never makes the browser
fetch anything. The Chatbot shows these strings with markdown rendering off,
so what is written here is exactly what the browser gets.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

from rag.generators.context import ContextBudget
from rag.text.remote_content import strip_remote_content
from rag.types import VERIFICATION_STRENGTH, Answer, Citation, GenerationReport, Hit, Sentence, Verification

#: Characters of each retrieved passage quoted in the trace.
TRACE_SNIPPET_CHARS = 140

_FLAG_LABELS: dict[Verification, str] = {"weak": "weak support", "unsupported": "not supported"}


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def safe_model_text(text: str) -> str:
    """Model output as inert HTML: images and remote-loading tags removed, the rest escaped."""
    return escape(strip_remote_content(text))


def source_anchor(turn: int, n: int) -> str:
    """The id of passage ``n``'s card for answer ``turn`` (ids stay unique across a conversation)."""
    return f"t{turn}-src-{n}"


def _cite_link(turn: int, n: int, weak: bool = False) -> str:
    label = f"[{n}?]" if weak else f"[{n}]"
    return f'<a class="rag-cite" href="#{source_anchor(turn, n)}">{label}</a>'


def _flag(verification: Verification) -> str:
    label = _FLAG_LABELS.get(verification)
    return f' <span class="rag-flag rag-{verification}">{label}</span>' if label else ""


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
    return f'<div class="rag-answer rag-streaming">{_paragraphs(safe_model_text(text))}</div>'


def render_stopped(text: str) -> str:
    """An answer the user stopped: what was written so far, never checked against the passages."""
    written = _paragraphs(safe_model_text(text)) if text.strip() else ""
    return (
        f'<div class="rag-answer rag-stopped">{written}'
        '<p class="rag-note">Stopped. This unfinished answer was not checked against your documents.</p></div>'
    )


def render_sentence(sentence: Sentence, turn: int) -> str:
    # A sentence carries no markers (its citations are its own); a "[3]" in it is the document's footnote.
    text = safe_model_text(sentence.text)
    if sentence.verification == "unsupported" or not sentence.citations:
        return f'<span class="rag-sentence rag-unsupported">{text}</span>{_flag("unsupported")}'
    weak = sentence.verification == "weak"
    links = "".join(_cite_link(turn, n, weak) for n in sentence.citations)
    return f'<span class="rag-sentence">{text}</span> {links}{_flag(sentence.verification)}'


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
        sentences = " ".join(render_sentence(s, turn) for s in answer.sentences)
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
    return _paragraphs("".join(pieces))


def _stronger(a: Verification, b: Verification) -> Verification:
    return a if VERIFICATION_STRENGTH[a] >= VERIFICATION_STRENGTH[b] else b


def _paragraphs(escaped: str) -> str:
    """Blank lines become paragraph breaks and single newlines line breaks (markdown is off)."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", escaped.strip()) if block.strip()]
    return "".join(f"<p>{block.replace(chr(10), '<br>')}</p>" for block in blocks)


def _where(hit: Hit) -> str:
    name = Path(hit.source).name
    page = f", page {hit.page}" if hit.page else ""
    return f'<span class="rag-file" title="{escape(hit.source)}">{escape(name)}</span>{escape(page)}'


def render_source_card(n: int, hit: Hit, citations: list[Citation], turn: int) -> str:
    """One passage: number, title, date, file (and page), text with the cited spans marked."""
    base = hit.chunk.start
    spans = [(c.start - base, c.end - base, c.verification) for c in citations]
    verdicts = {c.verification for c in citations}
    flag = "" if not verdicts or "supported" in verdicts else _flag("weak" if "weak" in verdicts else "unsupported")
    return (
        f'<article class="rag-source" id="{source_anchor(turn, n)}">'
        f'<header><span class="rag-num">[{n}]</span> <span class="rag-title">{escape(hit.title)}</span>{flag}</header>'
        f'<div class="rag-meta">{escape(hit.date or "no date")} · {_where(hit)}</div>'
        f'<blockquote class="rag-passage">{highlight(hit.chunk.text, spans)}</blockquote>'
        "</article>"
    )


def render_sources(answer: Answer, turn: int) -> str:
    """The sources panel: cited passages, or the closest ones when nothing answered."""
    cards = "".join(render_source_card(n, hit, list(cited), turn) for n, hit, cited in answer.shown())
    if answer.abstained:
        if not cards:
            return '<div class="rag-sources"><p class="rag-note">Nothing in your documents came close.</p></div>'
        return f'<div class="rag-sources"><h3>Closest passages</h3>{cards}</div>'
    return f'<div class="rag-sources"><h3>Sources</h3>{cards}</div>'


def empty_sources() -> str:
    return '<div class="rag-sources"><p class="rag-note">Sources of the answer appear here.</p></div>'


def _rank(value: int | None) -> str:
    return "—" if value is None else str(value)


def render_trace(answer: Answer) -> str:
    """A collapsed look under the hood: rewritten question, ranked passages, the LLM's prompt, time per stage."""
    rewritten = escape(answer.rewritten_question) if answer.rewritten_question else "<i>none, searched as asked</i>"
    generation = answer.generation
    rows = "".join(
        "<tr>"
        f"<td>{rank}</td><td>{_rank(hit.lexical_rank)}</td><td>{_rank(hit.dense_rank)}</td>"
        f"<td>{hit.score:.4f}</td><td>{hit.relevance:.2f}</td>"
        f'<td><b>{escape(hit.title)}</b> · {_where(hit)}{_in_prompt(generation, rank)}<br><span class="rag-snippet">'
        f"{escape(_snippet(hit.chunk.text))}</span></td>"
        "</tr>"
        for rank, hit in enumerate(answer.hits, 1)
    )
    timings = " · ".join(f"{escape(stage)} {1000 * seconds:.0f} ms" for stage, seconds in answer.timings.items())
    return (
        '<details class="rag-trace"><summary>Trace</summary>'
        f"<p><b>Rewritten question:</b> {rewritten}</p>"
        "<table><thead><tr><th>rank</th><th>lexical</th><th>dense</th>"
        "<th>score</th><th>relevance</th><th>passage</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        '<p class="rag-note">rank: fused rank; lexical and dense: the rank each retriever gave the passage '
        "(— when it did not retrieve it); score: fused score; relevance: evidence the passage is on topic.</p>"
        f"{_prompt_line(generation)}"
        f"<p><b>Timings:</b> {timings or '—'}</p></details>"
    )


def _in_prompt(generation: GenerationReport | None, rank: int) -> str:
    """A mark on a passage the LLM's prompt left out, or gave only in part, for want of room."""
    if generation is None:
        return ""
    if rank in generation.trimmed:
        return ' <span class="rag-flag rag-weak">trimmed to fit the context window</span>'
    if rank in generation.dropped:
        return ' <span class="rag-flag rag-unsupported">left out: no room in the context window</span>'
    return ""


def _prompt_line(generation: GenerationReport | None) -> str:
    """What the LLM was given and how its answer ended, in one paragraph."""
    if generation is None or not generation.window_tokens:
        ended = f"<p><b>LLM:</b> {escape(generation.reason)}</p>" if generation and generation.reason else ""
        return ended
    parts = [
        f"context window {generation.window_tokens:,} tokens ({escape(generation.window_source)})",
        f"prompt about {generation.prompt_tokens:,} of {generation.budget_tokens:,} tokens",
        f"answer up to {generation.max_tokens:,} tokens",
        f"{generation.passages_given} passage{'s' if generation.passages_given != 1 else ''} given",
    ]
    if generation.trimmed:
        parts.append(f"passage {', '.join(map(str, generation.trimmed))} trimmed")
    if generation.dropped:
        parts.append(f"passages {', '.join(map(str, generation.dropped))} left out")
    if generation.retried:
        parts.append("the server refused a longer prompt first")
    if generation.ended_at:
        parts.append(f"the answer ended at a chat-template token ({escape(generation.ended_at)})")
    if generation.reason:
        parts.append(escape(generation.reason))
    return f"<p><b>LLM:</b> {' · '.join(parts)}</p>"


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


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TRACE_SNIPPET_CHARS else text[: TRACE_SNIPPET_CHARS - 1] + "…"
