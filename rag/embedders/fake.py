"""A deterministic embedder for fast tests: hashed bag of words, no model.

It behaves like a real embedder where tests need it to (same text, same
vector; shared words, closer vectors) at no cost.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from rag.embedders.base import Vectors
from rag.types import Spans

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    languages = frozenset({"en", "fr"})
    calibration = None

    def __init__(
        self, dimension: int = 64, max_tokens: int = 254, name: str = "fake-hashing", pools_spans: bool = False
    ) -> None:
        self.name = f"{name}-{dimension}"
        self.pools_spans = pools_spans
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.calls = 0
        self.embedded = 0

    def count_tokens(self, text: str) -> int:
        # Roughly a wordpiece tokenizer's count on French: ~3.1 characters a token.
        return (len(text) + 2) // 3

    def _vector(self, text: str) -> Vectors:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_documents(self, texts: list[str]) -> Vectors:
        self.calls += 1
        self.embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(text) for text in texts])

    def embed_query(self, text: str) -> Vectors:
        return self._vector(text)

    def embed_with_spans(self, texts: list[str], spans: list[Spans]) -> tuple[Vectors, list[Vectors]] | None:
        """With ``pools_spans``, each span's own bag of words: what a real model pools from its pass."""
        if not self.pools_spans:
            return None
        pooled = [
            np.stack([self._vector(text[a:b]) for a, b in text_spans])
            if text_spans
            else np.zeros((0, self.dimension), np.float32)
            for text, text_spans in zip(texts, spans, strict=True)
        ]
        return self.embed_documents(texts), pooled
