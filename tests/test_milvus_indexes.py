"""``milvus_index``: the dense vectors' index on Milvus can change (FLAT, HNSW, IVF) without re-embedding."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedders.fake import HashingEmbedder
from rag.errors import SettingsError
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store.backends import store_backend
from rag.store.milvus.backend import MilvusBackend
from rag.store.milvus.collections import Names
from rag.store.milvus.generations import read_published
from tests.helpers import SEEDS

QUERIES = ["laboratoire quantique d'Alibaba", "Amazon ferme son laboratoire à Shanghai", "interdictions américaines"]


def _dense_rankings(settings: Settings) -> list[list[int]]:
    embedder = HashingEmbedder()
    store = store_backend(settings).open()
    try:
        return [[row for row, _ in store.search_dense(embedder.embed_query(q), 5)] for q in QUERIES]
    finally:
        store.close()


def test_changing_the_vector_index_re_indexes_without_re_embedding(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    settings = Settings(index_dir=tmp_path / "index", embedding_backend="fake", store_backend="milvus")
    first = index_paths([corpus], settings, HashingEmbedder())
    exact = _dense_rankings(settings)
    for name in ("HNSW", "IVF_FLAT", "FLAT"):
        changed = settings.replace(milvus_index=name)
        report = index_paths([corpus], changed, HashingEmbedder())
        assert report.chunks_embedded == 0 and report.chunks_total == first.chunks_total, name
        client = MilvusBackend(changed).client()
        published = read_published(client, "rag")
        assert published is not None and published.dense_index == name
        assert client.describe_index(Names("rag", published.build).chunks, "dense")["index_type"] == name
        # A small collection: every index finds the exact neighbours.
        assert _dense_rankings(changed) == exact, name


def test_an_unknown_vector_index_is_refused_in_one_line(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", store_backend="milvus", milvus_index="ANNOY")
    with pytest.raises(SettingsError, match="milvus_index must be one of FLAT, HNSW"):
        store_backend(settings)
