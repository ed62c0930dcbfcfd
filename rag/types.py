"""The data types every part of the pipeline speaks.

They are frozen dataclasses so that a value handed from one stage to the next
cannot be changed behind its back; LangChain objects only appear at the edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Document:
    """One source file as the loader read it.

    ``text`` is the text every offset refers to; ``excluded`` lists the
    ``(start, end)`` spans that cleaning judged boilerplate (they stay in
    ``text`` so offsets remain true, but never become chunks).
    ``pages`` holds the start offset of each PDF page (empty for other formats).
    """

    id: str
    path: str
    text: str
    title: str
    date: str | None = None
    language: str = "und"
    format: str = "txt"
    pages: tuple[int, ...] = ()
    excluded: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """1-based page number holding ``offset``, or None for documents without pages."""
        if not self.pages:
            return None
        page = 0
        for index, start in enumerate(self.pages):
            if start <= offset:
                page = index
            else:
                break
        return page + 1


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``document.text[start:end] == text``."""

    doc_id: str
    start: int
    end: int
    text: str
    page: int | None = None


@dataclass(frozen=True)
class Skipped:
    """A file the indexer did not index, and why (one line, for the user)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks each retriever gave it."""

    chunk: Chunk
    score: float
    source: str
    title: str
    date: str | None = None
    lexical_rank: int | None = None
    dense_rank: int | None = None
    row: int = -1
    #: Calibrated evidence in [0, 1] that the passage is about the question
    #: (share of the question's terms it contains, or dense similarity).
    relevance: float = 0.0
    page: int | None = None
    language: str = "und"
    #: ``(start, end, cosine with the question)`` of each of its sentences, offsets into the
    #: document; empty when the index holds no sentence vectors or the question was not embedded.
    sentences: tuple[tuple[int, int, float], ...] = ()


Verification = Literal["supported", "weak", "unsupported"]
#: Character offsets ``(start, end)`` of spans of one text (its sentences, say).
Spans = list[tuple[int, int]]
#: How strong each verdict is, to pick the stronger of two.
VERIFICATION_STRENGTH: Mapping[Verification, int] = {"supported": 2, "weak": 1, "unsupported": 0}


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer and the exact span that supports it.

    ``start``/``end`` are character offsets into the source document's text.
    """

    n: int
    hit: Hit
    start: int
    end: int
    verification: Verification = "supported"

    @property
    def span_text(self) -> str:
        chunk = self.hit.chunk
        return chunk.text[self.start - chunk.start : self.end - chunk.start]


@dataclass(frozen=True)
class Claim:
    """A sentence as a generator wrote it, with the passages (1-based) it says support it.

    An extractive generator quotes: ``span`` is then where the sentence sits in
    the document of ``passages[0]``. Generated text has no span; verification
    finds the passage sentence that supports it.
    """

    text: str
    passages: tuple[int, ...] = ()
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer, the numbers of the citations backing it, and its verdict."""

    text: str
    citations: tuple[int, ...] = ()
    verification: Verification = "supported"

    @property
    def marked(self) -> str:
        """The sentence with its markers: ``[1]``, ``[1?]`` when weak, ``[unsupported]``."""
        if self.verification == "unsupported" or not self.citations:
            return f"{self.text} [unsupported]"
        suffix = "?" if self.verification == "weak" else ""
        return self.text + "".join(f" [{n}{suffix}]" for n in self.citations)


#: Closest passages shown when an answer abstains or its backend failed.
CLOSEST_SHOWN = 3


@dataclass(frozen=True)
class GenerationReport:
    """How an LLM wrote an answer: the window its prompt was fitted to, what it was given, how it ended.

    Token counts are estimates (``rag.generators.context``), never more than the
    prompt really holds by much and never less. ``dropped`` and ``trimmed`` are
    passage numbers (1-based ranks): passages left out of the prompt for room,
    and the one given only in part. ``cut`` names why the generation was cut
    (``repetition``, ``echo``, ``template``, ``length``, ``deadline``) and
    ``reason`` says it in one line; ``fallback`` is set when the answer shown
    is the offline extractive one instead.
    """

    window_tokens: int = 0
    window_source: str = ""
    budget_tokens: int = 0
    prompt_tokens: int = 0
    max_tokens: int = 0
    passages_given: int = 0
    dropped: tuple[int, ...] = ()
    trimmed: tuple[int, ...] = ()
    #: The server refused the first prompt as longer than its window; this is the second one.
    retried: bool = False
    #: The chat-template token at which the model's answer ended (the server did not stop there).
    ended_at: str | None = None
    cut: str | None = None
    reason: str | None = None
    fallback: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "window_tokens": self.window_tokens,
            "window_source": self.window_source,
            "budget_tokens": self.budget_tokens,
            "prompt_tokens": self.prompt_tokens,
            "max_tokens": self.max_tokens,
            "passages_given": self.passages_given,
            "dropped": list(self.dropped),
            "trimmed": list(self.trimmed),
            "retried": self.retried,
            "ended_at": self.ended_at,
            "cut": self.cut,
            "reason": self.reason,
            "fallback": self.fallback,
        }


@dataclass(frozen=True)
class Answer:
    """A question's answer: cited sentences, or what to say instead (``message``), and the passages read.

    ``language`` is the question's. An answer that abstains has no sentences and
    its ``message`` says the documents do not answer; when the backend failed,
    or its generation was cut, ``error`` holds its one-line reason, which is
    also the message.
    """

    question: str
    language: str
    sentences: tuple[Sentence, ...]
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    abstained: bool = False
    message: str = ""
    rewritten_question: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    #: How the LLM backend wrote it (None for the offline backend).
    generation: GenerationReport | None = None

    @property
    def text(self) -> str:
        """The answer as text: sentences with their markers, or the message."""
        if self.abstained or not self.sentences:
            return self.message
        return " ".join(s.marked for s in self.sentences)

    @property
    def said(self) -> str:
        """What the answer says, without markers: for a chat's history, or to look for a gold answer in."""
        if self.abstained or not self.sentences:
            return self.message
        return " ".join(s.text for s in self.sentences)

    def shown(self) -> list[tuple[int, Hit, tuple[Citation, ...]]]:
        """The passages to show beside the answer, by number, each with its citations.

        Those cited; or, when the answer abstains or its backend failed, the
        closest ones (without citations), so the user sees what the documents say.
        """
        if self.abstained:
            return [(n, hit, ()) for n, hit in enumerate(self.hits[:CLOSEST_SHOWN], 1)]
        cited: dict[int, list[Citation]] = {}
        for citation in self.citations:
            cited.setdefault(citation.n, []).append(citation)
        return [(n, hit, tuple(cited[n])) for n, hit in enumerate(self.hits, 1) if n in cited]

    def to_json(self) -> dict[str, Any]:
        """The one JSON form of an answer, for ``rag ask --json``, the evaluation log and the APIs."""
        return {
            "question": self.question,
            "language": self.language,
            "answer": self.text,
            "abstained": self.abstained,
            "error": self.error,
            "rewritten_question": self.rewritten_question,
            "sentences": [
                {"text": s.text, "citations": list(s.citations), "verification": s.verification} for s in self.sentences
            ],
            "citations": [
                {
                    "n": c.n,
                    "source": c.hit.source,
                    "title": c.hit.title,
                    "page": c.hit.page,
                    "start": c.start,
                    "end": c.end,
                    "text": c.span_text,
                    "verification": c.verification,
                }
                for c in self.citations
            ],
            "retrieved": [
                {
                    "rank": rank,
                    "source": h.source,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    # Four decimals tell passages apart; more is float noise (1.2000000029802322).
                    "score": round(h.score, 4),
                    "lexical_rank": h.lexical_rank,
                    "dense_rank": h.dense_rank,
                    "relevance": round(h.relevance, 4),
                }
                for rank, h in enumerate(self.hits, 1)
            ],
            "timings_ms": {stage: round(1000 * seconds, 2) for stage, seconds in self.timings.items()},
            "generation": self.generation.to_json() if self.generation else None,
        }
