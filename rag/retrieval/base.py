"""The retriever role: a query in, ranked rows of the index out."""

from __future__ import annotations

from typing import Protocol

from rag.types import Hit


class Retriever(Protocol):
    name: str

    def search(self, query: str, language: str, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` ``(row, score)`` pairs, best first; rows index the chunk table."""
        ...


class PassageRetriever(Protocol):
    """What the answering service needs: passages ready to cite, with a relevance verdict."""

    def retrieve(self, query: str, k: int) -> Retrieval: ...


class Retrieval:
    """Ranked hits plus whether anything relevant was found at all."""

    def __init__(self, hits: list[Hit], relevant: bool, language: str, timings: dict[str, float]) -> None:
        self.hits = hits
        self.relevant = relevant
        self.language = language
        self.timings = timings
