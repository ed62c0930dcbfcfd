"""Sentence vectors: pooled at index time, kept beside each chunk in both stores, read by the offline answer.

The packing round trip; an index written before them is brought up to date by the next
``rag index`` (the file store re-embeds, Milvus rebuilds into new collections); hits carry
each sentence's closeness to the question at document offsets; the extractive answer
picks the sentence the model reads as answering when words alone cannot tell; embedding
workers pool what one process pools.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pymilvus import CollectionSchema

from rag.answering.service import Assistant
from rag.embedders import make_embedder
from rag.embedders.fake import HashingEmbedder
from rag.embedders.parallel import ParallelEmbedder
from rag.generators.extractive import ExtractiveGenerator, rank_sentences
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store import sentences
from rag.store.index import Index
from rag.store.milvus import collections
from rag.text.sentences import sentence_spans
from rag.types import Chunk, Claim, Hit
from tests.helpers import SEEDS
from tests.milvus_helpers import milvus_settings, opened, read_corpus, release

ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"


def test_packing_keeps_spans_and_cosines_within_eight_bits() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(5, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[2] = 0.0  # a span without tokens
    spans = [(0, 10), (11, 30), (31, 31), (32, 80), (81, 120)]
    packed = sentences.pack(spans, vectors)
    found, _ = sentences.unpack(packed)
    assert found == [spans[0], spans[1], spans[3], spans[4]]
    query = vectors[3]
    scores = sentences.similarities(packed, query)
    for (a, b, score), row in zip(scores, (0, 1, 3, 4), strict=True):
        assert (a, b) == spans[row] and score == pytest.approx(float(vectors[row] @ query), abs=0.01)
    assert sentences.from_text(sentences.to_text(packed)) == packed
    empty = sentences.pack([(0, 3)], np.zeros((1, 384), np.float32))
    assert empty and sentences.similarities(empty, query) == [], "pooled, with nothing to keep: still marked"
    many = sentences.pack([(i, i + 1) for i in range(200)], np.tile(vectors[:1], (200, 1)))
    assert len(sentences.unpack(many)[0]) == sentences.MAX_SENTENCES
    assert len(sentences.to_text(many)) < 65_535, "fits a Milvus string"


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    return corpus


def test_a_file_index_without_sentence_vectors_gets_them_on_the_next_run(tmp_path: Path) -> None:
    corpus, settings = _corpus(tmp_path), Settings(index_dir=tmp_path / "index", embedding_backend="fake")
    first = index_paths([corpus], settings, HashingEmbedder())  # a model that pools nothing, as before
    index = Index.open(settings.index_dir)
    rows = [row for row, _ in index.docstore.stored_chunks()]
    assert index.sentence_similarities(HashingEmbedder().embed_query(ALIBABA), rows) == {}
    index.close()
    upgraded = index_paths([corpus], settings, HashingEmbedder(pools_spans=True))
    assert upgraded.chunks_embedded == first.chunks_embedded == first.chunks_total
    again = index_paths([corpus], settings, HashingEmbedder(pools_spans=True))
    assert again.chunks_embedded == 0, "pooled once, reused by content hash afterwards"
    index = Index.open(settings.index_dir)
    try:
        found = index.sentence_similarities(HashingEmbedder().embed_query(ALIBABA), rows)
        assert sorted(found) == rows
        for row, stored in index.docstore.stored_chunks():
            assert [(a, b) for a, b, _ in found[row]] == sentence_spans(stored.chunk.text)
    finally:
        index.close()


def test_a_milvus_build_made_before_sentence_vectors_is_rebuilt_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, settings = _corpus(tmp_path), milvus_settings(tmp_path / "index")
    real_create = collections.create_build

    def without_sentences(client: Any, names: Any, dimension: int, dense_index: str) -> None:
        real_add = CollectionSchema.add_field

        def add_field(schema: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            return schema if name == collections.SENTENCES else real_add(schema, name, *args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(CollectionSchema, "add_field", add_field)
            real_create(client, names, dimension, dense_index)

    monkeypatch.setattr(collections, "create_build", without_sentences)
    monkeypatch.setattr("rag.store.milvus.writer.create_build", without_sentences)
    index_paths([corpus], settings, HashingEmbedder())
    monkeypatch.undo()
    before = read_corpus(settings)
    with opened(settings) as store:
        assert store.sentence_similarities(HashingEmbedder().embed_query(ALIBABA), [0, 1, 2]) == {}
    report = index_paths([corpus], settings, HashingEmbedder(pools_spans=True))
    release(settings)
    assert report.rebuilt and "predates sentence vectors" in report.rebuilt
    assert report.chunks_embedded == report.chunks_total, "every chunk pooled in the same pass as its vector"
    assert read_corpus(settings) == before, "the same documents, names and chunks"
    with opened(settings) as store:
        rows = [row for row, _ in store.docstore.stored_chunks()]
        assert len(store.sentence_similarities(HashingEmbedder().embed_query(ALIBABA), rows)) == len(rows)
    assert index_paths([corpus], settings, HashingEmbedder(pools_spans=True)).chunks_embedded == 0
    release(settings)


def _hit(text: str, cosines: list[float] | None) -> Hit:
    spans = sentence_spans(text)
    scored = tuple((a, b, c) for (a, b), c in zip(spans, cosines, strict=True)) if cosines else ()
    chunk = Chunk("doc", 0, len(text), text)
    return Hit(chunk, 1.0, "amazon.txt", "Amazon à Shanghai", language="fr", relevance=0.9, sentences=scored)


def test_the_sentence_the_model_reads_as_answering_is_chosen_when_words_cannot_tell() -> None:
    text = (
        "Amazon ferme son laboratoire d’intelligence artificielle de Shanghai. "
        "Le laboratoire de Shanghai employait une dizaine de chercheurs. "
        "Il a attribué cette fermeture à des ajustements stratégiques."
    )
    question = "Pourquoi Amazon ferme-t-il son laboratoire de Shanghai ?"

    def answer(hit: Hit) -> list[str]:
        return [p.text for p in ExtractiveGenerator().generate(question, [hit], "fr") if isinstance(p, Claim)]

    assert answer(_hit(text, None))[0].startswith("Amazon ferme"), "by words, the sentence that repeats the question"
    assert answer(_hit(text, [0.80, 0.78, 0.92]))[0].startswith("Il a attribué"), "by meaning, the reason"


def test_sentences_at_the_same_offsets_of_two_documents_keep_their_own_closeness() -> None:
    texts = ("Le port de Brest. Il a grandi en 2022.", "Le port de Nancy. Il a fermé en 20211.")
    assert sentence_spans(texts[0]) == sentence_spans(texts[1]), "the same offsets in both documents"
    (a, b), (c, d) = sentence_spans(texts[0])
    hits = [
        Hit(Chunk(doc, 0, len(text), text), 1.0, f"{doc}.txt", doc, language="fr", relevance=0.9, sentences=scored)
        for doc, text, scored in (
            ("a", texts[0], ((a, b, 0.90), (c, d, 0.80))),
            ("b", texts[1], ((a, b, 0.70), (c, d, 0.85))),
        )
    ]
    ranked = rank_sentences("Quand le port a-t-il grandi ?", hits, ["fr"])
    closeness = {(c.passage, c.position): c.closeness for c in ranked}
    assert closeness[(1, 0)] > closeness[(1, 1)] and closeness[(2, 1)] > closeness[(2, 0)]


def test_across_languages_the_sentence_read_as_answering_may_share_no_word() -> None:
    text = "Le groupe a publié un communiqué mardi. Il a attribué cette fermeture à des ajustements stratégiques."
    question = "What reason was given?"

    def answer(hit: Hit) -> list[str]:
        return [p.text for p in ExtractiveGenerator().generate(question, [hit], "en") if isinstance(p, Claim)]

    assert answer(_hit(text, None)) == [], "no word in common and nothing else to go on: no answer"
    assert answer(_hit(text, [0.78, 0.86])) == ["Il a attribué cette fermeture à des ajustements stratégiques."]


def test_hits_carry_each_sentences_closeness_at_document_offsets(tmp_path: Path) -> None:
    corpus, settings = _corpus(tmp_path), Settings(index_dir=tmp_path / "index", embedding_backend="fake")
    index_paths([corpus], settings, HashingEmbedder(pools_spans=True))
    assistant = Assistant(settings, embedder=HashingEmbedder())
    hits = assistant.retrieve(ALIBABA).hits
    assert hits and all(hit.sentences for hit in hits)
    index = Index.open(settings.index_dir)
    try:
        for hit in hits:
            document = index.docstore.document(hit.chunk.doc_id)
            assert document is not None
            spans = [(a, b) for a, b, _ in hit.sentences]
            own = [(hit.chunk.start + a, hit.chunk.start + b) for a, b in sentence_spans(hit.chunk.text)]
            assert spans == own
            for a, b, cosine in hit.sentences:
                vector = HashingEmbedder().embed_query(document.text[a:b])
                assert cosine == pytest.approx(float(vector @ HashingEmbedder().embed_query(ALIBABA)), abs=0.02)
    finally:
        index.close()


@pytest.mark.slow
def test_workers_pool_the_sentences_one_process_pools() -> None:
    settings = Settings()
    local = make_embedder(settings)
    texts = [
        f"Article {n}. Alibaba ferme son laboratoire. Environ {n} personnes y travaillaient. " * 20 for n in range(6)
    ]
    spans = [sentence_spans(text) for text in texts]
    parallel = ParallelEmbedder(settings, local, workers=2)
    try:
        found = parallel.embed_with_spans(texts, spans)
    finally:
        parallel.close()
    expected = local.embed_with_spans(texts, spans)  # type: ignore[attr-defined]
    assert found is not None and expected is not None
    assert np.sum(found[0] * expected[0], axis=1).min() > 0.999
    for mine, theirs in zip(found[1], expected[1], strict=True):
        assert mine.shape == theirs.shape and np.sum(mine * theirs, axis=1).min() > 0.999
