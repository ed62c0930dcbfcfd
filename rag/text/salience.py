"""What a question word says about its topic, judged beyond the corpus at hand.

Relevance is the share of the question's term weight a passage holds, terms
weighted by their IDF in the corpus. A term no passage holds gets the
highest IDF. That is right for a name or a rare word ("Nvidia"): documents
that never mention it cannot answer a question about it. It is wrong for an
everyday word ("ville", "trouvait", "vient") in a small corpus: two articles
never say "ville", yet "Dans quelle ville ... ?" is answerable from them.
General-language word frequencies (wordfreq, Apache-2.0, data CC BY-SA 4.0)
tell the two apart.
"""

from __future__ import annotations

from functools import lru_cache

from rag.text.analysis import term_words

#: Zipf frequency (log10 of occurrences per billion words) from which a word
#: is everyday vocabulary: 4.0 is ten per million words. "ville", "trouvait",
#: "vient" are above; names and rare words ("Alibaba", "scindé") below.
COMMON_ZIPF = 4.0


@lru_cache(maxsize=65_536)
def zipf(word: str, language: str) -> float:
    from wordfreq import zipf_frequency

    # The small lists hold every word above zipf 3, enough for the threshold and quicker to load.
    return float(zipf_frequency(word, language if language in ("fr", "en") else "en", wordlist="small"))


def common_terms(question: str, language: str) -> set[str]:
    """Terms of ``question`` whose every surface word is everyday vocabulary."""
    return {
        term
        for term, words in term_words(question, language).items()
        if not any(ch.isdigit() for ch in term) and all(zipf(w, language) >= COMMON_ZIPF for w in words)
    }
