"""The retriever role: a query in, ranked rows of the index out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from rag.types import Hit


@runtime_checkable
class Retriever(Protocol):
    """One ranking of the chunks for a query: ``LexicalRetriever`` (BM25) and ``DenseRetriever`` (embeddings)."""

    name: str

    def search(self, query: str, language: str, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` ``(row, score)`` pairs, best first; rows index the chunk table."""
        ...


@dataclass
class Retrieval:
    """Ranked hits, whether anything relevant was found at all, and where the time went."""

    hits: list[Hit]
    relevant: bool
    language: str
    timings: dict[str, float] = field(default_factory=dict)
