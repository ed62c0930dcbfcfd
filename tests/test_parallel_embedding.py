"""``rag index --workers N``: embedding split across worker processes gives the vectors one process gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.embedders import make_embedder
from rag.embedders.parallel import EmbeddingWorkerError, ParallelEmbedder
from rag.settings import Settings
from rag.store.index import Index
from tests.helpers import SEEDS, run_cli

TEXTS = [f"Le port de Brest a accueilli {n} escales de navires en 2022." for n in range(7)] + [
    "Amazon ferme son laboratoire."
]


def test_workers_embed_what_one_process_embeds() -> None:
    settings = Settings(embedding_backend="fake")
    local = make_embedder(settings)
    parallel = ParallelEmbedder(settings, local, workers=3)
    try:
        vectors = parallel.embed_documents(TEXTS)
        again = parallel.embed_documents(TEXTS[:2])  # the workers stay up between calls
    finally:
        parallel.close()
    np.testing.assert_allclose(vectors, local.embed_documents(TEXTS), atol=1e-6)
    np.testing.assert_allclose(again, local.embed_documents(TEXTS[:2]), atol=1e-6)
    assert parallel.name == local.name and parallel.dimension == local.dimension


def test_a_worker_that_cannot_load_its_model_says_why_in_one_line() -> None:
    settings = Settings(embedding_backend="no-such-backend")
    parallel = ParallelEmbedder(settings, make_embedder(Settings(embedding_backend="fake")), workers=2)
    with pytest.raises(EmbeddingWorkerError) as caught:
        parallel.embed_documents(TEXTS)
    parallel.close()
    assert "\n" not in str(caught.value) and "worker failed" in str(caught.value)
    assert "embedding_backend" in str(caught.value), "the worker's own reason is passed on"


def test_rag_index_with_workers_builds_the_same_index(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    for name, extra in (("one", []), ("two", ["--workers", "2"])):
        done = run_cli("index", "--index", str(tmp_path / name), *extra, str(corpus))
        assert done.returncode == 0, done.stderr
    one, two = Index.open(tmp_path / "one"), Index.open(tmp_path / "two")
    try:
        assert [c.hash for _, c in one.docstore.stored_chunks()] == [c.hash for _, c in two.docstore.stored_chunks()]
        np.testing.assert_allclose(one.all_vectors(), two.all_vectors(), atol=1e-6)
    finally:
        one.close()
        two.close()
    refused = run_cli("index", "--index", str(tmp_path / "three"), "--workers", "0", str(corpus))
    assert refused.returncode != 0 and refused.stderr.strip().count("\n") == 0 and "--workers" in refused.stderr
