"""Lexical retrieval: the persisted BM25 index, queried with the same analysis as the chunks."""

from __future__ import annotations

from rag.store.base import LexicalIndex
from rag.text.analysis import analyze


class LexicalRetriever:
    name = "lexical"

    def __init__(self, index: LexicalIndex) -> None:
        self.index = index

    def search(self, query: str, language: str, k: int) -> list[tuple[int, float]]:
        return self.search_terms(analyze(query, language), k)

    def search_terms(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """For callers that analysed the query themselves (in several languages, say)."""
        return self.index.search(terms, k)
