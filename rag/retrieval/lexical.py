"""Lexical retrieval: the persisted BM25 index, queried with the same analysis as the chunks."""

from __future__ import annotations

from rag.store.bm25_index import BM25Index
from rag.text.analysis import analyze


class LexicalRetriever:
    name = "lexical"

    def __init__(self, index: BM25Index) -> None:
        self.index = index

    def search(self, query: str, language: str, k: int) -> list[tuple[int, float]]:
        return self.search_terms(analyze(query, language), k)

    def search_terms(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """For callers that analysed the query themselves (in several languages, say)."""
        return self.index.search(terms, k)
