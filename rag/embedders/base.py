"""The embedder role: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Stable identifier written in the index manifest; a different name means a rebuild."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Longest input in the model's own tokens (special tokens excluded)."""
        ...

    @property
    def languages(self) -> frozenset[str]:
        """ISO codes of the languages the model represents well."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: list[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...
