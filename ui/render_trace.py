"""The collapsed trace under each answer: rewritten question, ranked passages, the LLM's prompt, timings."""

from __future__ import annotations

from rag.types import Answer, GenerationReport
from ui.html import escape, where

#: Characters of each retrieved passage quoted in the trace.
TRACE_SNIPPET_CHARS = 140


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
        f'<td><b>{escape(hit.title)}</b> · {where(hit)}{_in_prompt(generation, rank)}<br><span class="rag-snippet">'
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


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TRACE_SNIPPET_CHARS else text[: TRACE_SNIPPET_CHARS - 1] + "…"
