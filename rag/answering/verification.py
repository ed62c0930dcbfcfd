"""Check that each cited sentence is supported by the passage it cites.

Offline signals only: the share of the sentence's content terms found in the
passage, hard facts (every number and every name in the sentence must appear
in the passage), and, where the embedder knows the language, the embedding
similarity between the sentence and its best-matching passage sentence.
The supporting span is that best-matching sentence, so a citation points at
the exact text, not at a whole chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.embedders import Embedder
from rag.text.analysis import analyze
from rag.text.normalise import normalise
from rag.text.sentences import sentence_spans
from rag.types import VERIFICATION_STRENGTH, Hit, Verification

SUPPORTED_OVERLAP = 0.6
WEAK_OVERLAP = 0.3
SUPPORTED_COSINE = 0.75
WEAK_COSINE = 0.55

_NUMBER = re.compile(r"\d+(?:[ \u00a0\u202f]\d{3})*(?:[.,]\d+)?")
# A capitalised word that does not open the sentence: a name, place or organisation.
_NAME = re.compile(r"(?<=[\s(«“\"'’])([A-ZÀ-Þ][\w-]{2,})")


@dataclass(frozen=True)
class Support:
    verdict: Verification
    start: int  # offsets into the passage's document
    end: int
    overlap: float
    missing_facts: tuple[str, ...] = ()


def _digits(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]", "", text).replace(",", ".")


def missing_facts(sentence: str, passage: str) -> tuple[str, ...]:
    """Numbers and names of ``sentence`` that ``passage`` never mentions."""
    numbers = {_digits(n) for n in _NUMBER.findall(passage)}
    folded = normalise(passage)
    missing = [n for n in _NUMBER.findall(sentence) if _digits(n) not in numbers]
    missing += [name for name in _NAME.findall(sentence) if normalise(name) not in folded]
    return tuple(missing)


def best_span(sentence_terms: set[str], hit: Hit, languages: list[str]) -> tuple[int, int, float]:
    """The passage sentence sharing most terms with the answer sentence, as document offsets."""
    text = hit.chunk.text
    best = (0, len(text), 0.0)
    for start, end in sentence_spans(text):
        terms = {t for lang in languages for t in analyze(text[start:end], lang)}
        shared = len(sentence_terms & terms) / max(len(sentence_terms), 1)
        if shared > best[2]:
            best = (start, end, shared)
    start, end, shared = best
    return hit.chunk.start + start, hit.chunk.start + end, shared


class _Similarity:
    """Cosines between texts, each text embedded once: a sentence is checked against many passages."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, a: str, b: str) -> float:
        return float(np.dot(self._vector(a), self._vector(b)))

    def _vector(self, text: str) -> np.ndarray:
        if text not in self._vectors:
            self._vectors[text] = self._embedder.embed_query(text)
        return self._vectors[text]


def verify(
    sentence: str,
    hit: Hit,
    languages: list[str],
    embedder: Embedder | None = None,
    similarity: _Similarity | None = None,
) -> Support:
    terms = {t for lang in languages for t in analyze(sentence, lang)}
    passage_terms = {t for lang in languages for t in analyze(hit.chunk.text, lang)}
    overlap = len(terms & passage_terms) / max(len(terms), 1)
    start, end, _ = best_span(terms, hit, languages)
    missing = missing_facts(sentence, hit.chunk.text)
    if missing:
        return Support("unsupported", start, end, overlap, missing)
    if overlap >= SUPPORTED_OVERLAP:
        return Support("supported", start, end, overlap)
    cosine = 0.0
    # Embedded only when the words alone do not decide, and where the model reads every language involved.
    if embedder is not None and all(lang in embedder.languages for lang in languages):
        span = hit.chunk.text[start - hit.chunk.start : end - hit.chunk.start]
        cosine = (similarity or _Similarity(embedder))(sentence, span)
    # Each model's cosines have their own scale; all-MiniLM-L6-v2's are the default.
    calibration = embedder.calibration if embedder is not None else None
    supports, weakly = SUPPORTED_COSINE, WEAK_COSINE
    if calibration is not None:
        supports, weakly = calibration.supports, calibration.weakly_supports
    verdict: Verification
    if cosine >= supports:
        verdict = "supported"
    elif overlap >= WEAK_OVERLAP or cosine >= weakly:
        verdict = "weak"
    else:
        verdict = "unsupported"
    return Support(verdict, start, end, overlap, missing)


def best_support(
    sentence: str, cited: list[int], hits: list[Hit], languages: list[str], embedder: Embedder | None = None
) -> list[tuple[int, Support]]:
    """Verify the cited passages; if none supports the sentence, re-point it to one that does.

    Returns ``(passage number, support)`` pairs; an unsupported sentence keeps
    its original citations so the user sees what was claimed, flagged.
    """
    similarity = _Similarity(embedder) if embedder is not None else None
    checked = [(n, verify(sentence, hits[n - 1], languages, embedder, similarity)) for n in cited]
    if any(s.verdict != "unsupported" for _, s in checked):
        return [(n, s) for n, s in checked if s.verdict != "unsupported"]
    others = [
        (n, verify(sentence, hit, languages, embedder, similarity)) for n, hit in enumerate(hits, 1) if n not in cited
    ]
    repaired = sorted(others, key=lambda pair: (-VERIFICATION_STRENGTH[pair[1].verdict], -pair[1].overlap))
    if repaired and repaired[0][1].verdict != "unsupported":
        return [repaired[0]]
    return checked
