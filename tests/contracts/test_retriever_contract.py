"""The retriever contract: what every Retriever promises the fusion in ``rag.retrieval.hybrid``.

``RetrieverContract`` runs against a ``retriever`` fixture and the ``store`` it
searches, both provided by each concrete ``Test...`` class (as Haystack's
document-store test mixins do). Over a real index of the seed articles, built by
the indexer with the fake embedder: ``search(query, language, k)`` returns at
most ``k`` ``(row, score)`` pairs, each row a distinct chunk of the store, scores
finite floats that never increase, the same answer for the same query, ``[]``
for ``k = 0``; and a chunk's own text finds that chunk among the first three.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embedders.fake import HashingEmbedder
from rag.retrieval.base import Retriever
from rag.retrieval.dense import DenseRetriever
from rag.retrieval.lexical import LexicalRetriever
from rag.store.base import Store
from rag.store.index import Index
from tests.helpers import index_seeds

QUERIES = [
    ("Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?", "fr"),
    ("Amazon ferme son laboratoire d’intelligence artificielle à Shanghai", "fr"),
    ("Why did Amazon close its artificial intelligence lab in Shanghai?", "en"),
    ("zzzq wxyk", "fr"),  # no word of any chunk
    ("?!", "fr"),  # no word at all
]
QUERY_IDS = ["alibaba", "amazon", "english", "no-match", "no-word"]


@pytest.fixture(scope="module")
def seeds_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, settings = index_seeds(tmp_path_factory.mktemp("retrievers"))
    return settings.index_dir


@pytest.fixture(scope="module")
def seeds_index(seeds_folder: Path) -> Iterator[Index]:
    index = Index.open(seeds_folder)
    yield index
    index.close()


class RetrieverContract:
    """What every retriever promises. Concrete classes provide ``retriever`` and the ``store`` it reads."""

    @pytest.fixture
    def retriever(self) -> Retriever:
        raise NotImplementedError("a concrete test class provides the retriever")

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError("a concrete test class provides the store the retriever searches")

    def test_implements_the_protocol(self, retriever: Retriever) -> None:
        assert isinstance(retriever, Retriever)
        assert isinstance(retriever.name, str) and retriever.name.strip()

    @pytest.mark.parametrize(("query", "language"), QUERIES, ids=QUERY_IDS)
    @pytest.mark.parametrize("k", [1, 3, 1000])
    def test_at_most_k_distinct_rows_of_the_store_best_first(
        self, retriever: Retriever, store: Store, query: str, language: str, k: int
    ) -> None:
        found = retriever.search(query, language, k)
        assert isinstance(found, list) and len(found) <= k
        rows = [row for row, _ in found]
        scores = [score for _, score in found]
        assert all(type(row) is int and 0 <= row < len(store) for row in rows), rows
        assert len(set(rows)) == len(rows), rows
        assert all(type(score) is float and score == score and abs(score) != float("inf") for score in scores)
        assert scores == sorted(scores, reverse=True), scores

    @pytest.mark.parametrize(("query", "language"), QUERIES[:3], ids=QUERY_IDS[:3])
    def test_a_question_about_the_documents_finds_something(
        self, retriever: Retriever, query: str, language: str
    ) -> None:
        assert retriever.search(query, language, 5)

    @pytest.mark.parametrize(("query", "language"), QUERIES, ids=QUERY_IDS)
    def test_k_zero_gives_nothing(self, retriever: Retriever, query: str, language: str) -> None:
        assert retriever.search(query, language, 0) == []

    def test_same_query_same_ranking(self, retriever: Retriever) -> None:
        query, language = QUERIES[0]
        assert retriever.search(query, language, 10) == retriever.search(query, language, 10)

    def test_a_shorter_list_is_the_head_of_a_longer_one(self, retriever: Retriever) -> None:
        query, language = QUERIES[1]
        longer = retriever.search(query, language, 10)
        assert retriever.search(query, language, 3) == longer[:3]

    def test_a_chunk_is_found_by_its_own_text(self, retriever: Retriever, store: Store) -> None:
        chunks = store.docstore.chunks(list(range(len(store))))
        assert chunks, "the seeds index holds chunks"
        for row, chunk in chunks.items():
            found = [r for r, _ in retriever.search(chunk.text, "fr", 3)]
            assert row in found, (row, found, chunk.text[:80])


# Implementations ------------------------------------------------------------------------------


class TestLexicalRetriever(RetrieverContract):
    @pytest.fixture
    def store(self, seeds_index: Index) -> Store:
        return seeds_index

    @pytest.fixture
    def retriever(self, seeds_index: Index) -> Retriever:
        return LexicalRetriever(seeds_index.lexical)


class TestDenseRetriever(RetrieverContract):
    @pytest.fixture
    def store(self, seeds_index: Index) -> Store:
        return seeds_index

    @pytest.fixture
    def retriever(self, seeds_index: Index) -> Retriever:
        # The embedder the index was built with: another one would be another vector space.
        return DenseRetriever(seeds_index, HashingEmbedder())
