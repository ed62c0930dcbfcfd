"""Dense retrieval: exact inner product over normalised vectors in FAISS."""

from __future__ import annotations

import numpy as np

from rag.embedders import Embedder
from rag.store.index import Index


class DenseRetriever:
    name = "dense"

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self._index = index
        self._embedder = embedder

    def embed(self, query: str) -> np.ndarray:
        return self._embedder.embed_query(query)

    def search_vector(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self._index.search_dense(vector, k)
