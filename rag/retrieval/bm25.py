"""Lexical retrieval: the persisted BM25 index, queried with the same analysis as the chunks."""

from __future__ import annotations

from rag.retrieval.analysis import analyze
from rag.retrieval.lexical import LexicalIndex


class BM25Retriever:
    name = "lexical"

    def __init__(self, index: LexicalIndex) -> None:
        self.index = index

    def search(self, query: str, language: str, k: int) -> list[tuple[int, float]]:
        return self.search_terms(analyze(query, language), k)

    def search_terms(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """For callers that analysed the query themselves (in several languages, say)."""
        return self.index.search(terms, k)
