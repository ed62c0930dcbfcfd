"""How rankings combine and how relevance is judged, for a model that reads both languages and one that does not."""

from __future__ import annotations

import math

import pytest

from rag.embedders import Calibration
from rag.embedders.e5 import CALIBRATION
from rag.evaluation import half
from rag.retrieval.hybrid import (
    CROSS_LANGUAGE_DENSE_WEIGHT,
    DENSE_WEIGHT,
    UNREAD_CORPUS_DENSE_WEIGHT,
    Fusion,
    FusionWeights,
    convex,
    fusion_weights,
    reciprocal_ranks,
)

BOTH = frozenset({"en", "fr"})
ENGLISH = frozenset({"en"})


@pytest.mark.parametrize(
    ("question", "corpus", "known", "dense"),
    [
        ("fr", ["fr"], BOTH, DENSE_WEIGHT),  # e5, French over French
        ("en", ["fr"], BOTH, CROSS_LANGUAGE_DENSE_WEIGHT),  # e5, English over French: BM25 matches little
        ("fr", ["fr"], ENGLISH, 0.0),  # MiniLM cannot read the question: not even embedded
        ("en", ["fr"], ENGLISH, UNREAD_CORPUS_DENSE_WEIGHT),  # MiniLM reads the question, not the articles
        ("en", ["en"], ENGLISH, DENSE_WEIGHT),
    ],
)
def test_the_dense_vote_follows_what_the_model_reads(
    question: str, corpus: list[str], known: frozenset[str], dense: float
) -> None:
    assert fusion_weights("hybrid", question, corpus, known) == FusionWeights(1.0, dense)


def test_modes_and_custom_weights() -> None:
    assert fusion_weights("lexical", "fr", ["fr"], BOTH) == FusionWeights(1.0, 0.0)
    assert fusion_weights("dense", "fr", ["fr"], ENGLISH) == FusionWeights(0.0, 1.0)
    custom = Fusion(dense=0.5, cross_language_dense=2.0)
    assert fusion_weights("hybrid", "fr", ["fr"], BOTH, custom).dense == 0.5
    assert fusion_weights("hybrid", "en", ["fr"], BOTH, custom).dense == 2.0
    assert CROSS_LANGUAGE_DENSE_WEIGHT > DENSE_WEIGHT > UNREAD_CORPUS_DENSE_WEIGHT


def test_convex_keeps_margins_and_rrf_keeps_only_ranks() -> None:
    lexical = [(1, 10.0), (2, 9.9), (3, 1.0)]
    dense = [(3, 0.9), (2, 0.5), (1, 0.1)]
    fused = convex([(1.0, lexical), (1.0, dense)])
    assert max(fused, key=fused.__getitem__) == 2  # near the top of both
    ranks = reciprocal_ranks([(1.0, lexical), (0.0, dense)])
    assert list(ranks) == [1, 2, 3] and ranks[1] == pytest.approx(1.0)
    assert reciprocal_ranks([(1.0, [])]) == {} and convex([(1.0, [])]) == {}


def test_e5_relevance_rises_with_every_kind_of_evidence() -> None:
    base = CALIBRATION.relevance(0.82, 0.3, cross_language=False)
    assert CALIBRATION.relevance(0.86, 0.3, cross_language=False) > base
    assert CALIBRATION.relevance(0.82, 0.8, cross_language=False) > base
    # Across languages cosines run lower for the same evidence, so the same cosine counts for more.
    assert CALIBRATION.relevance(0.82, 0.3, cross_language=True) > base
    assert 0.0 < base < 1.0
    # Extreme logits neither overflow nor leave [0, 1].
    extreme = Calibration(cosine=1e6, coverage=0, cross_language=0, intercept=0, supports=1, weakly_supports=1)
    assert extreme.relevance(1.0, 0, False) == pytest.approx(1.0) and extreme.relevance(-1.0, 0, False) >= 0.0
    assert not math.isnan(extreme.relevance(float("inf"), 0, False))
    assert CALIBRATION.weakly_supports < CALIBRATION.supports < 1


def test_halves_are_a_fixed_even_split() -> None:
    ids = [f"q{i}" for i in range(2000)]
    shares = sum(half(i) == "A" for i in ids) / len(ids)
    assert 0.45 < shares < 0.55
    assert {half(i) for i in ids} == {"A", "B"} and half("q1") == half("q1")
