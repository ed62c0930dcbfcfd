"""From generated text to a cited answer: parse markers, verify, repair, or abstain."""

from __future__ import annotations

import time

from rag.answering.markers import keep_valid, parse_answer
from rag.answering.verification import best_support
from rag.embedders import Embedder
from rag.generators.prompt import NOT_FOUND, not_found_sentence
from rag.text.normalise import normalise
from rag.types import VERIFICATION_STRENGTH, Answer, Citation, Hit, Sentence, Verification

_NOT_FOUND = {normalise(sentence).rstrip(".") for sentence in NOT_FOUND.values()}


def says_not_found(text: str) -> bool:
    return normalise(text).rstrip(".") in _NOT_FOUND


def cite(
    text: str, hits: list[Hit], languages: list[str], embedder: Embedder | None = None
) -> tuple[list[Sentence], list[Citation]]:
    """Each sentence with the passages that really support it, and the citations' exact spans.

    A sentence whose citations do not hold is re-pointed to a passage that
    supports it; if none does it stays, marked unsupported, so the user sees
    the claim is not backed rather than a false citation.
    """
    sentences: list[Sentence] = []
    citations: dict[tuple[int, int, int], Citation] = {}
    for parsed in parse_answer(text):
        if says_not_found(parsed.text):
            continue
        numbers = keep_valid(parsed.numbers, len(hits))
        supports = best_support(parsed.text, list(numbers), hits, languages, embedder)
        verdicts: list[Verification] = [s.verdict for _, s in supports]
        verdict: Verification = max(verdicts, key=VERIFICATION_STRENGTH.__getitem__, default="unsupported")
        for n, support in supports:
            key = (n, support.start, support.end)
            if key not in citations:
                citations[key] = Citation(n, hits[n - 1], support.start, support.end, support.verdict)
        sentences.append(Sentence(parsed.text, tuple(n for n, _ in supports), verdict))
    return sentences, list(citations.values())


def render_sentence(sentence: Sentence) -> str:
    if sentence.verification == "unsupported" or not sentence.citations:
        return f"{sentence.text} [unsupported]"
    suffix = "?" if sentence.verification == "weak" else ""
    return sentence.text + "".join(f" [{n}{suffix}]" for n in sentence.citations)


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
    return Answer(question, not_found_sentence(language), (), (), tuple(hits), True, rewritten, timings)
