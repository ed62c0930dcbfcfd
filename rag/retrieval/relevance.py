"""How much of a question a passage holds: the evidence that a question is answerable."""

from __future__ import annotations

from collections.abc import Iterable

from rag.store.base import LexicalIndex
from rag.text.analysis import cognate
from rag.text.salience import common_terms


def coverage(terms: list[str], tokens: Iterable[str], idf: dict[str, float]) -> float:
    """Share of the question's weight the passage holds: rare terms ("CEO", "Alibaba") decide."""
    total = sum(idf.get(term, 0.0) for term in terms)
    if not total:
        return 0.0
    present = set(tokens)
    return sum(idf.get(term, 0.0) for term in terms if term in present) / total


def cognate_coverage(terms: list[str], tokens: Iterable[str], idf: dict[str, float]) -> float:
    """``coverage`` with terms matched on shared roots, for a passage in another language than the question."""
    return coverage([cognate(t) for t in terms], [cognate(t) for t in tokens], {cognate(t): w for t, w in idf.items()})


def discount_everyday_words(
    query: str, language: str, idf: dict[str, float], lexical: LexicalIndex
) -> dict[str, float]:
    """An everyday word no passage uses weighs like the least informative term one does.

    Corpus IDF gives an absent term the highest weight, so in a small corpus
    "Dans quelle ville ... ?" looked irrelevant for lack of "ville"; an absent
    name or rare word keeps its full weight (see ``salience``). Only for a
    question in a corpus language: across languages every word is absent.
    """
    held = [weight for term, weight in idf.items() if lexical.holds(term)]
    if not held:
        return idf
    everyday = {t for t in common_terms(query, language) if not lexical.holds(t)}
    return {term: min(held) if term in everyday else weight for term, weight in idf.items()}
