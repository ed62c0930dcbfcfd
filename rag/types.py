"""The data types every part of the pipeline speaks.

They are frozen dataclasses so that a value handed from one stage to the next
cannot be changed behind its back; LangChain objects only appear at the edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


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


Verification = Literal["supported", "weak", "unsupported"]
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
class Sentence:
    """One sentence of an answer and the numbers of the citations backing it."""

    text: str
    citations: tuple[int, ...] = ()
    verification: Verification = "supported"


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    sentences: tuple[Sentence, ...]
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    abstained: bool = False
    rewritten_question: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
