"""From a generator's claims to a cited answer: verify each sentence, repair its citations, or abstain."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

from rag.answering.verification import best_support
from rag.embedders import Embedder
from rag.generators.prompt import NOT_FOUND, not_found_sentence
from rag.text.answer_types import expected_type, has_type
from rag.text.normalise import normalise
from rag.types import VERIFICATION_STRENGTH, Answer, Citation, Claim, Hit, Sentence, Verification

_NOT_FOUND = {normalise(sentence).rstrip(".") for sentence in NOT_FOUND.values()}


def says_not_found(text: str) -> bool:
    return normalise(text).rstrip(".") in _NOT_FOUND


def keep_valid(numbers: Iterable[int], n_passages: int) -> tuple[int, ...]:
    """The numbers that point at one of the ``n_passages`` passages (1-based)."""
    return tuple(n for n in numbers if 1 <= n <= n_passages)


def cite(
    claims: list[Claim],
    hits: list[Hit],
    languages: list[str],
    embedder: Embedder | None = None,
    question: str = "",
) -> tuple[list[Sentence], list[Citation]]:
    """Each sentence with the passages that really support it, and the citations' exact spans.

    A sentence whose citations do not hold is re-pointed to a passage that
    supports it; if none does it stays, marked unsupported, so the user sees
    the claim is not backed rather than a false citation. A quoted sentence's
    citation is the quote itself. Being in the passage is not answering: when
    the ``question`` asks for a kind of fact (a figure, a date, a reason...)
    that no sentence of the answer states, its supported sentences are weak.
    """
    sentences: list[Sentence] = []
    citations: dict[tuple[int, int, int], Citation] = {}
    for claim in claims:
        if says_not_found(claim.text):
            continue
        numbers = keep_valid(claim.passages, len(hits))
        supports = best_support(claim.text, list(numbers), hits, languages, embedder)
        verdicts: list[Verification] = [s.verdict for _, s in supports]
        verdict: Verification = max(verdicts, key=VERIFICATION_STRENGTH.__getitem__, default="unsupported")
        for n, support in supports:
            start, end = claim.span if claim.span and claim.passages[:1] == (n,) else (support.start, support.end)
            if (n, start, end) not in citations:
                citations[(n, start, end)] = Citation(n, hits[n - 1], start, end, support.verdict)
        sentences.append(Sentence(claim.text, tuple(n for n, _ in supports), verdict))
    kind = expected_type(question)
    if kind and not any(has_type(kind, s.text, question) for s in sentences):
        sentences = [replace(s, verification="weak") if s.verification == "supported" else s for s in sentences]
        citations = {
            key: replace(c, verification="weak") if c.verification == "supported" else c for key, c in citations.items()
        }
    return sentences, list(citations.values())


def abstain(
    question: str,
    language: str,
    hits: list[Hit],
    rewritten: str | None,
    timings: dict[str, float],
    started: float,
) -> Answer:
    """Say plainly that the documents do not answer, and show the closest passages."""
    timings["total"] = time.perf_counter() - started
    return Answer(
        question,
        language,
        (),
        (),
        tuple(hits),
        abstained=True,
        message=not_found_sentence(language),
        rewritten_question=rewritten,
        timings=timings,
    )
