"""Language-aware fusion of lexical and dense retrieval.

The dense vote depends on the languages the embedder declares
(``fusion_weights``). The default, multilingual-e5-small, reads French and
English: its ranking gets a full vote beside BM25 in one language, and a larger
one across languages, where BM25 matches only names, numbers and shared roots
(swept on the dev sets by ``benchmarks/fusion.py``; README, "Fusion"). An
English-only model such as all-MiniLM-L6-v2 gets no vote on a French question
(its ranking never improved French BM25 at any weight) and a small one for an
English question over French documents. The rankings are combined as a
weighted sum of min-max normalised scores (``convex``) rather than of
reciprocal ranks: it keeps how far ahead the best passage is, and measured
better on every dev set at every weight.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from rag.embedders import Embedder
from rag.errors import SettingsError
from rag.retrieval.base import Retrieval
from rag.retrieval.dense import DenseRetriever
from rag.retrieval.lexical import LexicalRetriever
from rag.retrieval.near_duplicates import is_near_duplicate
from rag.retrieval.relevance import cognate_coverage, coverage, discount_everyday_words
from rag.store.base import Store
from rag.store.docstore import DocumentMetadata
from rag.text.analysis import CHAR_SHARE, analyze, char_grams, is_stop_word
from rag.text.language import detect_language
from rag.types import Chunk, Hit

#: Dense weight for a question the embedder reads over documents it does not
#: (all-MiniLM-L6-v2: an English question over French articles).
UNREAD_CORPUS_DENSE_WEIGHT = 0.3
#: Dense weight, lexical being 1, for a model that reads the question and the
#: documents: in one language, and across languages (README, "Fusion").
DENSE_WEIGHT = 1.0
CROSS_LANGUAGE_DENSE_WEIGHT = 1.5
#: How many candidates each retriever contributes before fusion.
DEPTH = 50
#: Across languages only names, numbers and shared roots can match, so the
#: same evidence reads lower; measured on the English questions of seeds/qa.jsonl.
MIN_CROSS_LANGUAGE_RELEVANCE = 0.1

#: Bonus, relative to the lexical vote, for a passage whose whole document
#: matches the question (document BM25 divided by the best document's): a
#: question is written about an article, and context words it borrows from
#: around the passage ("le frère de Napoléon") are in the article, not always
#: in the chunk. 0.1 to 0.3 give the same figures on PIAF dev.
DOCUMENT_PRIOR = 0.2

#: What ``retrieval_mode`` may be: hybrid, lexical (BM25 only) or dense (embeddings only).
MODES = ("hybrid", "lexical", "dense")


def check_mode(mode: str) -> None:
    if mode not in MODES:  # an unknown mode would silently run as hybrid
        raise SettingsError(f"Setting retrieval_mode must be one of {', '.join(MODES)}, not {mode!r}.")


@dataclass(frozen=True)
class FusionWeights:
    lexical: float
    dense: float


@dataclass(frozen=True)
class Fusion:
    """How the rankings combine; ``benchmarks/fusion.py`` sweeps these on the dev sets."""

    #: Dense weight (lexical is 1) when the model reads the question's and the documents' language.
    dense: float = DENSE_WEIGHT
    #: Dense weight for a question in one language over documents in another.
    cross_language_dense: float = CROSS_LANGUAGE_DENSE_WEIGHT
    #: Candidates each ranking contributes.
    depth: int = DEPTH
    #: "convex" (min-max normalised scores) or "rrf" (reciprocal ranks).
    method: str = "convex"


def fusion_weights(
    mode: str, query_language: str, corpus_languages: Iterable[str], known: frozenset[str], fusion: Fusion = Fusion()
) -> FusionWeights:
    if mode == "lexical":
        return FusionWeights(1.0, 0.0)
    if mode == "dense":
        return FusionWeights(0.0, 1.0)
    if query_language not in known:
        # Measured on PIAF: an English-only model's ranking of French questions
        # adds nothing to French BM25 at any weight, so it gets no vote (and the
        # query is not embedded at all).
        return FusionWeights(1.0, 0.0)
    corpus = list(corpus_languages)
    if not all(lang in known for lang in corpus):
        # A question in the model's language over documents it cannot read: words
        # rarely match, and names, numbers and shared roots carry over in both rankings.
        return FusionWeights(1.0, UNREAD_CORPUS_DENSE_WEIGHT)
    if query_language in corpus:
        return FusionWeights(1.0, fusion.dense)
    # Across languages BM25 matches only names, numbers and shared roots, while the
    # model reads both: its vote counts for more.
    return FusionWeights(1.0, fusion.cross_language_dense)


def convex(rankings: list[tuple[float, list[tuple[int, float]]]]) -> dict[int, float]:
    """Weighted sum of min-max normalised scores (Bruch et al., 2023).

    Unlike reciprocal ranks, it keeps how far ahead the best passage is: a
    weak retriever's near-ties can no longer overturn a clear lexical win.
    """
    scores: dict[int, float] = {}
    for weight, ranked in rankings:
        if weight <= 0 or not ranked:
            continue
        values = [score for _, score in ranked]
        low, high = min(values), max(values)
        span = high - low or 1.0
        for row, score in ranked:
            scores[row] = scores.get(row, 0.0) + weight * (score - low) / span
    return scores


def reciprocal_ranks(rankings: list[tuple[float, list[tuple[int, float]]]], k: int = 60) -> dict[int, float]:
    """Weighted reciprocal-rank fusion (Cormack et al., 2009), scaled so a first place is worth its weight."""
    scores: dict[int, float] = {}
    for weight, ranked in rankings:
        for rank, (row, _) in enumerate(ranked if weight > 0 else []):
            scores[row] = scores.get(row, 0.0) + weight * (k + 1) / (k + 1 + rank)
    return scores


METHODS = {"convex": convex, "rrf": reciprocal_ranks}


class HybridRetriever:
    def __init__(
        self,
        index: Store,
        embedder: Embedder,
        *,
        min_relevance: float,
        mode: str = "hybrid",
        fusion: Fusion = Fusion(),
    ) -> None:
        check_mode(mode)
        self.index = index
        self.mode = mode
        self.min_relevance = min_relevance
        self.fusion = fusion
        self._combine = METHODS[fusion.method]
        self._lexical = LexicalRetriever(index.lexical)
        self._chars = LexicalRetriever(index.chars) if index.chars is not None else None
        self._dense = DenseRetriever(index, embedder)
        self._known = embedder.languages
        self._calibration = embedder.calibration
        # Hits show a document's title, path, date and language, never its text: the texts stay on disk.
        self._documents: dict[str, DocumentMetadata] = {d.id: d for d in index.docstore.document_metadata()}
        counts = Counter(d.language for d in self._documents.values() if d.language != "und")
        self.corpus_languages = [lang for lang, _ in counts.most_common()] or ["en"]

    def query_terms(self, query: str, language: str) -> list[list[str]]:
        """The query analysed like the chunks it must match, once per language.

        Chunks are analysed in their own language, so a question asked in
        another language is also analysed the corpus's way: names, numbers and
        shared words then still match (``Alibaba`` stems differently in each).
        """
        analyses = [analyze(query, language)]
        for other in self.corpus_languages:
            if other != language:
                # The question's own stop words ("what", "the") are noise in any analysis.
                analyses.append([t for t in analyze(query, other) if not is_stop_word(t, language)])
        return [terms for terms in analyses if terms]

    def retrieve(self, query: str, k: int, language: str | None = None) -> Retrieval:
        """The ``k`` best passages for ``query``, written in ``language`` (detected when not given)."""
        timings: dict[str, float] = {}
        language = language or detect_language(query, default=self.corpus_languages[0])
        weights = fusion_weights(self.mode, language, self.corpus_languages, self._known, self.fusion)
        depth = self.fusion.depth
        analyses = self.query_terms(query, language)
        if not analyses:
            # Only emoji, punctuation or stop words: nothing to match, so nothing is relevant.
            return Retrieval([], False, language, timings)
        terms = list(dict.fromkeys(term for analysis in analyses for term in analysis))
        started = time.perf_counter()
        lexical = self._lexical.search_terms(terms, depth) if weights.lexical > 0 else []
        chars: list[tuple[int, float]] = []
        if weights.lexical > 0 and self._chars is not None:
            chars = self._chars.search_terms(list(dict.fromkeys(char_grams(query, language))), depth)
        timings["lexical"] = time.perf_counter() - started
        started = time.perf_counter()
        vector = self._dense.embed(query) if weights.dense > 0 else None
        dense = self._dense.search_vector(vector, depth) if vector is not None else []
        if not lexical and not chars and not dense:
            # No word in common with any passage: still show the closest ones, so an
            # abstention can point at what the documents do say.
            vector = vector if vector is not None else self._dense.embed(query)
            dense = self._dense.search_vector(vector, k)
            weights = FusionWeights(weights.lexical, 1.0)
        timings["dense"] = time.perf_counter() - started
        started = time.perf_counter()
        share = CHAR_SHARE if self._chars is not None else 0.0
        fused = self._combine(
            [(weights.lexical * (1 - share), lexical), (weights.lexical * share, chars), (weights.dense, dense)]
        )
        if weights.lexical > 0:
            self._add_document_prior(fused, terms, weights.lexical * DOCUMENT_PRIOR)
        ranked = sorted(fused, key=lambda row: (-fused[row], row))
        chunks = self.index.docstore.chunks(ranked[: max(4 * k, 20)])
        lexical_rank = {row: rank for rank, (row, _) in enumerate(lexical, 1)}
        dense_rank = {row: rank for rank, (row, _) in enumerate(dense, 1)}
        # Exact cosines for every candidate, not only those in the dense list: relevance rests on them.
        cosine = self.index.similarities(vector, list(chunks)) if vector is not None else {}
        tokens = self.index.docstore.tokens(list(chunks))
        weights_by_term = self.index.lexical.idf(list(dict.fromkeys(terms + analyses[0])))
        if language in self.corpus_languages:
            weights_by_term = discount_everyday_words(query, language, weights_by_term, self.index.lexical)
        hits: list[Hit] = []
        thresholds: list[float] = []
        for row in ranked:
            chunk = chunks.get(row)
            if chunk is None or is_near_duplicate(chunk, tokens.get(row, ()), hits, tokens):
                continue
            document_language = self._documents[chunk.doc_id].language
            covered = max((coverage(a, tokens.get(row, ()), weights_by_term) for a in analyses), default=0.0)
            if document_language != language:
                covered = max(covered, cognate_coverage(analyses[0], tokens.get(row, ()), weights_by_term))
            relevance, threshold = self._relevance(row, covered, cosine, language, document_language)
            hits.append(self._hit(chunk, row, fused[row], lexical_rank.get(row), dense_rank.get(row), relevance))
            thresholds.append(threshold)
            if len(hits) == k:
                break
        relevant = any(h.relevance >= threshold for h, threshold in zip(hits, thresholds, strict=True))
        if vector is not None:
            hits = self._with_sentences(hits, vector)
        timings["fusion"] = time.perf_counter() - started
        return Retrieval(hits, relevant, language, timings)

    def _with_sentences(self, hits: list[Hit], vector: np.ndarray) -> list[Hit]:
        """Each hit with how close each of its sentences is to the question (the offline answer weighs them)."""
        found = self.index.sentence_similarities(vector, [hit.row for hit in hits])
        return [
            replace(hit, sentences=tuple((hit.chunk.start + a, hit.chunk.start + b, s) for a, b, s in found[hit.row]))
            if hit.row in found
            else hit
            for hit in hits
        ]

    def _relevance(
        self, row: int, covered: float, cosine: dict[int, float], language: str, document_language: str
    ) -> tuple[float, float]:
        """How relevant a passage is, and the least relevance that counts, on the same scale."""
        # Similarity is evidence only where the model reads both languages, and only once the query is embedded.
        readable = language in self._known and document_language in self._known and row in cosine
        if readable and self._calibration is not None:
            cross = document_language != language
            return self._calibration.relevance(cosine[row], covered, cross), self.min_relevance
        relevance = max(covered, cosine[row] if readable else 0.0)
        if document_language in (language, "und"):
            return relevance, self.min_relevance
        # Across languages only names, numbers and shared roots match, so coverage reads lower.
        return relevance, min(self.min_relevance, MIN_CROSS_LANGUAGE_RELEVANCE)

    def _add_document_prior(self, fused: dict[int, float], terms: list[str], weight: float) -> None:
        """Raise each candidate by ``weight`` times its document's BM25, relative to the best document's."""
        for row, relative in self.index.document_prior(terms, list(fused)).items():
            fused[row] += weight * relative

    def _hit(
        self, chunk: Chunk, row: int, score: float, lexical_rank: int | None, dense_rank: int | None, relevance: float
    ) -> Hit:
        document = self._documents[chunk.doc_id]
        return Hit(
            chunk=chunk,
            score=score,
            source=document.path,
            title=document.title,
            date=document.date,
            lexical_rank=lexical_rank,
            dense_rank=dense_rank,
            row=row,
            relevance=relevance,
            page=chunk.page,
            language=document.language,
        )
