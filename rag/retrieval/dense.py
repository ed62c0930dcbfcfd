"""Dense retrieval: the query's vector against the store's, by inner product (cosine: both are normalised)."""

from __future__ import annotations

import numpy as np

from rag.embedders import Embedder
from rag.store.base import Store


class DenseRetriever:
    name = "dense"

    def __init__(self, index: Store, embedder: Embedder) -> None:
        self._index = index
        self._embedder = embedder

    def search(self, query: str, language: str, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` ``(row, cosine)`` pairs, best first (the Retriever role); the embedder reads any language."""
        return self.search_vector(self.embed(query), k)

    def embed(self, query: str) -> np.ndarray:
        return self._embedder.embed_query(query)

    def search_vector(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self._index.search_dense(vector, k)
