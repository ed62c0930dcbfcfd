"""The store contract: what every Store (``rag.store.base``) promises the retrievers, the service and the indexer.

``StoreContract`` runs against a ``store`` fixture that each concrete ``Test...``
class provides (as Haystack's document-store test mixins do), opened from an index
the real indexer built with the fake embedder:

* it implements the protocols (``Store``, its ``DocumentTable`` and ``LexicalIndex``es);
* the manifest counts what the store holds, and names the embedder's dimension;
* ``len`` distinct rows each hold one chunk, the same in ``chunks``, ``tokens`` and
  ``stored_chunks``, whose text is its document's text at its offsets (and page);
  rows outside the store are left out, not an error;
* every document's metadata is there, as its document says, with its chunk count
  and at least one file name; every chunk's and file's document is there;
* a chunk's vector is the unit vector of its embedded text, and finds that chunk
  first; dense search gives ``min(k, len)`` distinct rows best first, ``[]`` for
  ``k = 0``; ``similarities`` are the inner products it ranks by;
* each chunk's sentence vectors (the seeds are indexed by a fake that pools them) are
  its sentences' own, at their offsets into the chunk's text, scored by inner product
  with the question; rows outside the store are left out;
* the lexical indexes have a row per chunk and hold every chunk's terms; a
  document's own terms give each of its chunks the whole document prior;
* ``close`` may be called twice.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import embed_text, index_paths
from rag.settings import Settings
from rag.store.backends import store_backend
from rag.store.base import DocumentTable, LexicalIndex, Store
from rag.store.index import Index
from rag.store.sentences import MAX_SENTENCES
from rag.text.sentences import sentence_spans
from tests.helpers import SEEDS, index_seeds

QUERY = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"


class StoreContract:
    """What every store promises. Concrete classes provide the ``store`` fixture (a fresh one per test)."""

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError("a concrete test class provides the store")

    def test_implements_the_protocols(self, store: Store) -> None:
        assert isinstance(store, Store)
        assert isinstance(store.docstore, DocumentTable)
        assert isinstance(store.lexical, LexicalIndex)
        assert store.chars is None or isinstance(store.chars, LexicalIndex)
        assert isinstance(store.version, str) and store.version

    def test_the_manifest_counts_what_the_store_holds(self, store: Store) -> None:
        manifest = store.manifest
        assert manifest.chunks == len(store)
        assert manifest.documents == len(store.docstore.document_metadata())
        assert isinstance(manifest.embedder["name"], str) and manifest.embedder["name"]
        assert isinstance(manifest.embedder["dimension"], int) and manifest.embedder["dimension"] > 0

    def test_every_row_holds_one_chunk_everywhere(self, store: Store) -> None:
        stored = list(store.docstore.stored_chunks())
        rows = [row for row, _ in stored]
        assert rows == sorted(rows), "stored chunks come in row order"
        assert len(set(rows)) == len(rows) == len(store)
        assert all(type(row) is int and row >= 0 for row in rows)
        chunks = store.docstore.chunks(rows)
        tokens = store.docstore.tokens(rows)
        assert sorted(chunks) == sorted(tokens) == rows
        for row, chunk in stored:
            assert chunk.chunk == chunks[row] and chunk.tokens == tokens[row]
            assert chunk.hash, "the indexer reuses a chunk's vector by its content hash"

    def test_rows_outside_the_store_are_left_out(self, store: Store) -> None:
        rows = self.rows(store)
        outside = [-1, max(rows, default=0) + 1, max(rows, default=0) + 10]
        assert store.docstore.chunks(outside) == {} and store.docstore.tokens(outside) == {}
        assert store.docstore.chunks([]) == {} and store.docstore.tokens([]) == {}
        assert store.similarities(np.ones(self.dimension(store), dtype=np.float32), []) == {}
        assert store.similarities(np.ones(self.dimension(store), dtype=np.float32), outside) == {}

    def test_a_chunk_is_its_documents_text_at_its_offsets(self, store: Store) -> None:
        for _, stored in store.docstore.stored_chunks():
            chunk = stored.chunk
            document = store.docstore.document(chunk.doc_id)
            assert document is not None, chunk.doc_id
            assert 0 <= chunk.start < chunk.end <= len(document.text)
            assert document.text[chunk.start : chunk.end] == chunk.text
            assert chunk.page == document.page_at(chunk.start)

    def test_every_documents_metadata_is_there(self, store: Store) -> None:
        table = store.docstore
        metadata = table.document_metadata()
        documents = table.documents()
        assert [m.id for m in metadata] == [d.id for d in documents], "one order for both"
        assert [m.path for m in metadata] == sorted(m.path for m in metadata), "ordered by path"
        for described, document in zip(metadata, documents, strict=True):
            assert (described.path, described.title, described.date, described.language) == (
                document.path,
                document.title,
                document.date,
                document.language,
            )
            assert table.document(document.id) == document
        counts = Counter(stored.chunk.doc_id for _, stored in table.stored_chunks())
        assert table.chunk_counts() == dict(counts)
        assert set(counts) <= {m.id for m in metadata}, "every chunk's document is there"
        sources = table.sources()
        assert [s.path for s in sources] == sorted(s.path for s in sources)
        assert {s.doc_id for s in sources} == {m.id for m in metadata}, "every document has a file, every file one"
        assert table.document("no-such-document") is None

    def test_a_chunks_vector_is_its_embedded_text_and_finds_it_first(self, store: Store) -> None:
        embedder = HashingEmbedder(self.dimension(store))
        for row, stored in store.docstore.stored_chunks():
            document = store.docstore.document(stored.chunk.doc_id)
            assert document is not None
            vector = embedder.embed_documents([embed_text(document, stored.chunk.text)])[0]
            assert store.similarities(vector, [row])[row] == pytest.approx(1.0, abs=1e-5), "unit vectors"
            ((found, score),) = store.search_dense(vector, 1)
            assert found == row and score == pytest.approx(1.0, abs=1e-5)

    @pytest.mark.parametrize("k", [0, 1, 3, 1000])
    def test_dense_search_gives_min_k_len_rows_best_first(self, store: Store, k: int) -> None:
        query = HashingEmbedder(self.dimension(store)).embed_query(QUERY)
        found = store.search_dense(query, k)
        assert len(found) == min(k, len(store))
        rows = [row for row, _ in found]
        scores = [score for _, score in found]
        assert len(set(rows)) == len(rows) and set(rows) <= set(self.rows(store))
        assert all(type(r) is int for r in rows)
        assert scores == sorted(scores, reverse=True)
        assert all(type(score) is float for score in scores)

    def test_similarities_are_the_inner_products_dense_search_ranks_by(self, store: Store) -> None:
        query = HashingEmbedder(self.dimension(store)).embed_query(QUERY)
        rows = self.rows(store)
        similarities = store.similarities(query, rows)
        assert sorted(similarities) == rows
        assert all(-1.0 - 1e-5 <= value <= 1.0 + 1e-5 for value in similarities.values())
        ranked = store.search_dense(query, len(rows))
        assert sorted(row for row, _ in ranked) == rows
        for row, score in ranked:
            assert score == pytest.approx(similarities[row], abs=1e-5)

    def test_sentence_vectors_are_each_sentences_own_at_its_offsets(self, store: Store) -> None:
        embedder = HashingEmbedder(self.dimension(store))
        query = embedder.embed_query(QUERY)
        rows = self.rows(store)
        found = store.sentence_similarities(query, [*rows, -1, max(rows, default=0) + 1])
        assert sorted(found) == rows, "every chunk of an index built by a pooling embedder, and only those"
        for row, stored in store.docstore.stored_chunks():
            text = stored.chunk.text
            expected = [(a, b) for a, b in sentence_spans(text) if embedder.embed_query(text[a:b]).any()]
            assert [(a, b) for a, b, _ in found[row]] == expected[:MAX_SENTENCES], row
            for a, b, score in found[row]:
                assert type(score) is float
                assert score == pytest.approx(float(embedder.embed_query(text[a:b]) @ query), abs=0.02), "8 bits"
        assert store.sentence_similarities(query, []) == {}

    def test_lexical_indexes_have_a_row_per_chunk_and_hold_its_terms(self, store: Store) -> None:
        assert len(store.lexical) == len(store)
        assert store.chars is None or len(store.chars) == len(store)
        for row, stored in store.docstore.stored_chunks():
            assert all(store.lexical.holds(token) for token in stored.tokens), row
            if stored.tokens:
                found = dict(store.lexical.search(list(stored.tokens), len(store)))
                assert found.get(row, 0.0) > 0, "a chunk's own terms find it"
                assert list(found.values()) == sorted(found.values(), reverse=True)
        assert store.lexical.search([], 5) == [] and store.lexical.search(["zzzq"], 5) == []
        assert not store.lexical.holds("zzzq")
        weights = store.lexical.idf(["zzzq"])
        assert weights["zzzq"] > 0

    def test_a_documents_own_terms_give_its_chunks_the_whole_prior(self, store: Store) -> None:
        terms: dict[str, list[str]] = {}
        rows: dict[str, list[int]] = {}
        for row, stored in store.docstore.stored_chunks():
            terms.setdefault(stored.chunk.doc_id, []).extend(stored.tokens)
            rows.setdefault(stored.chunk.doc_id, []).append(row)
        every = self.rows(store)
        for doc_id, words in terms.items():
            prior = store.document_prior(words, every)
            assert set(prior) <= set(every) and all(0.0 <= value <= 1.0 + 1e-6 for value in prior.values())
            assert all(prior[row] == pytest.approx(1.0) for row in rows[doc_id]), doc_id
        assert store.document_prior(["zzzq"], every) == {} and store.document_prior([], every) == {}

    def test_close_twice_is_harmless(self, store: Store) -> None:
        store.close()
        store.close()

    @staticmethod
    def dimension(store: Store) -> int:
        return int(store.manifest.embedder["dimension"])

    @staticmethod
    def rows(store: Store) -> list[int]:
        return [row for row, _ in store.docstore.stored_chunks()]


# Implementations ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds, then a second run adding a note and an identical copy of a seed (one document, two files)."""
    corpus, settings = index_seeds(tmp_path_factory.mktemp("store"), HashingEmbedder(pools_spans=True))
    seed = sorted(corpus.glob("*.txt"))[0]
    shutil.copy(seed, corpus / "copie.txt")
    (corpus / "brest.md").write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n")
    index_paths([corpus], settings, HashingEmbedder(pools_spans=True))
    return settings.index_dir


@pytest.fixture(scope="module")
def empty_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("empty-store")
    (root / "nothing").mkdir()
    settings = Settings(index_dir=root / "index", embedding_backend="fake")
    index_paths([root / "nothing"], settings, HashingEmbedder())
    return settings.index_dir


class TestIndexOfTheSeeds(StoreContract):
    @pytest.fixture
    def store(self, seeds_index_dir: Path) -> Iterator[Store]:
        index = Index.open(seeds_index_dir)
        yield index
        index.close()

    def test_holds_the_seeds_the_note_and_the_copy(self, store: Store) -> None:
        assert len(store) > 10
        assert store.manifest.documents == 3 and len(store.docstore.sources()) == 4
        assert store.version == "v000002"


class TestEmptyIndex(StoreContract):
    @pytest.fixture
    def store(self, empty_index_dir: Path) -> Iterator[Store]:
        index = Index.open(empty_index_dir)
        yield index
        index.close()

    def test_is_empty(self, store: Store) -> None:
        assert len(store) == 0 and store.docstore.document_metadata() == []


# The same contract on Milvus Lite: a real engine in a local file.


def _milvus(settings: Settings) -> Settings:
    return settings.replace(store_backend="milvus")


@pytest.fixture(scope="module")
def milvus_seeds(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("milvus-store")
    corpus = root / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    settings = _milvus(Settings(index_dir=root / "index", embedding_backend="fake"))
    index_paths([corpus], settings, HashingEmbedder(pools_spans=True))
    seed = sorted(corpus.glob("*.txt"))[0]
    shutil.copy(seed, corpus / "copie.txt")
    (corpus / "brest.md").write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n")
    index_paths([corpus], settings, HashingEmbedder(pools_spans=True))
    return settings


@pytest.fixture(scope="module")
def milvus_empty(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("milvus-empty")
    (root / "nothing").mkdir()
    settings = _milvus(Settings(index_dir=root / "index", embedding_backend="fake"))
    index_paths([root / "nothing"], settings, HashingEmbedder())
    return settings


class TestMilvusIndexOfTheSeeds(StoreContract):
    @pytest.fixture
    def store(self, milvus_seeds: Settings) -> Iterator[Store]:
        opened = store_backend(milvus_seeds).open()
        yield opened
        opened.close()

    def test_holds_the_seeds_the_note_and_the_copy(self, store: Store, milvus_seeds: Settings) -> None:
        assert len(store) > 10
        assert store.manifest.documents == 3 and len(store.docstore.sources()) == 4
        assert store.version == store_backend(milvus_seeds).published() == "g000000000002"


class TestMilvusEmptyIndex(StoreContract):
    @pytest.fixture
    def store(self, milvus_empty: Settings) -> Iterator[Store]:
        opened = store_backend(milvus_empty).open()
        yield opened
        opened.close()

    def test_is_empty(self, store: Store) -> None:
        assert len(store) == 0 and store.docstore.document_metadata() == []
