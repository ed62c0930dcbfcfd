"""The embedder role: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from rag.types import Spans

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Calibration:
    """What one model's cosine says about whether a passage answers a question.

    Cosines are on each model's own scale (multilingual-e5 puts almost any two
    texts between 0.7 and 0.9), so a fixed threshold cannot tell. This is a
    logistic model, fitted by ``benchmarks/abstention.py``, of "the passage's
    article is the one the question was written from" against "it is not in
    the index at all", over the passage's cosine, the share of the question's
    terms it holds, and whether it is in another language than the question.

    ``supports`` and ``weakly_supports`` are the cosines between a sentence
    and a passage's span above which the span says the same thing (checking
    an answer's sentences, ``rag.answering.verification``), on the same scale.
    """

    cosine: float
    coverage: float
    cross_language: float
    intercept: float
    supports: float
    weakly_supports: float

    def relevance(self, cosine: float, coverage: float, cross_language: bool) -> float:
        logit = self.intercept + self.cosine * cosine + self.coverage * coverage + self.cross_language * cross_language
        return 1 / (1 + math.exp(-max(-50.0, min(50.0, logit))))


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

    @property
    def calibration(self) -> Calibration | None:
        """How to read this model's cosines as relevance, or None: then the cosine itself is the relevance."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: list[str]) -> Vectors:
        """One unit-norm float32 row per text, shape ``(len(texts), dimension)``."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """One unit-norm float32 vector, shape ``(dimension,)``."""
        ...


@runtime_checkable
class SpanPooling(Protocol):
    """An embedder that also gives spans of each text (its sentences) vectors, pooled from the same pass.

    A sentence read inside its passage ("Il a attribué cette fermeture…") keeps what the
    passage says it is about, and costs no second pass through the model.
    """

    @property
    def pools_spans(self) -> bool:
        """Whether ``embed_with_spans`` gives span vectors; known without loading the model."""
        ...

    def embed_with_spans(self, texts: list[str], spans: list[Spans]) -> tuple[Vectors, list[Vectors]] | None:
        """``embed_documents(texts)``, and one unit row per span of each text; None when the model cannot."""
        ...


def pools_spans(embedder: Embedder) -> bool:
    return isinstance(embedder, SpanPooling) and embedder.pools_spans


def embed_with_spans(embedder: Embedder, texts: list[str], spans: list[Spans]) -> tuple[Vectors, list[Vectors] | None]:
    """The texts' vectors, and their spans' when the embedder pools spans (None otherwise)."""
    pooled = embedder.embed_with_spans(texts, spans) if isinstance(embedder, SpanPooling) else None
    if pooled is None:
        return embedder.embed_documents(texts), None
    return pooled
