"""Passages and sources in the JSON the doors share, built from ``Answer.to_json()`` and ``Hit``.

The MCP tools, the OpenAI-compatible API and the LangChain retriever show the
same fields under the same names, so a client moving from one door to another
reads the same keys; scores are rounded as ``Answer.to_json()`` rounds them.
"""

from __future__ import annotations

from typing import Any

from rag.types import Answer, Hit


def passage_json(rank: int, hit: Hit) -> dict[str, Any]:
    """One retrieved passage: where it is (offsets into its document's text), how it ranked, and its text."""
    return {
        "rank": rank,
        "doc_id": hit.chunk.doc_id,
        "source": hit.source,
        "title": hit.title,
        "date": hit.date,
        "page": hit.page,
        "start": hit.chunk.start,
        "end": hit.chunk.end,
        # Four decimals, as in Answer.to_json(): more is float noise.
        "score": round(hit.score, 4),
        "relevance": round(hit.relevance, 4),
        "lexical_rank": hit.lexical_rank,
        "dense_rank": hit.dense_rank,
        "text": hit.chunk.text,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """``Answer.to_json()``, each citation with its document's date, and ``closest``: the passages shown
    instead of sources when the answer abstained or its backend failed (else empty)."""
    return {**answer.to_json(), "citations": sources_json(answer), "closest": closest_json(answer)}


def sources_json(answer: Answer) -> list[dict[str, Any]]:
    """The answer's citations as ``Answer.to_json()`` gives them, each with its document's date.

    One entry per citation: ``n`` (the marker ``[n]`` in the text), ``source``,
    ``title``, ``date``, ``page``, ``start``/``end`` (the cited span, as offsets
    into the document's text), ``text`` (that span) and ``verification``.
    """
    cited = answer.to_json()["citations"]
    return [{**entry, "date": citation.hit.date} for entry, citation in zip(cited, answer.citations, strict=True)]


def closest_json(answer: Answer) -> list[dict[str, Any]]:
    """The passages shown instead of sources when the answer abstained or its backend failed (else empty)."""
    if not answer.abstained:
        return []
    return [{"n": n, **passage_json(n, hit)} for n, hit, _ in answer.shown()]
