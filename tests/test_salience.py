"""Everyday words versus names: general-language frequency, independent of the corpus."""

from __future__ import annotations

from rag.text.analysis import analyze, term_words
from rag.text.salience import COMMON_ZIPF, common_terms, zipf


def test_everyday_words_are_common_and_names_are_not() -> None:
    assert zipf("ville", "fr") >= COMMON_ZIPF > zipf("alibaba", "fr")
    assert zipf("year", "en") >= COMMON_ZIPF > zipf("quandela", "en")


def test_common_terms_are_index_terms_of_everyday_words_only() -> None:
    question = "Dans quelle ville se trouvait le laboratoire d’Alibaba en 2017 ?"
    common = common_terms(question, "fr")
    terms = set(analyze(question, "fr"))
    assert common <= terms
    assert {analyze("ville", "fr")[0], analyze("trouvait", "fr")[0]} <= common
    assert analyze("Alibaba", "fr")[0] not in common
    assert "2017" not in common  # numbers are always specific


def test_term_words_maps_each_term_to_the_words_that_gave_it() -> None:
    found = term_words("Les laboratoires et le laboratoire", "fr")
    assert found == {analyze("laboratoire", "fr")[0]: {"laboratoires", "laboratoire"}}
